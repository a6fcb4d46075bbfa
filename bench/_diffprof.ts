import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from '../src/embedded/dynamodb-local.js';
import { createDemoTable } from '../src/embedded/replication-demo.js';
import { diffTables } from '../src/diff/diff-tables.js';
import { tableSide } from '../src/diff/side.js';
import { rawBatchWrite, rawParallelScan } from './baselines.js';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const server = await startDynamoDbLocal();
const c = new DynamoDBClient({
  endpoint: server.endpoint,
  region: 'us-east-1',
  credentials: LOCAL_CREDENTIALS,
});
await createDemoTable(c, 'dp-a', false);
await createDemoTable(c, 'dp-b', false);
await rawBatchWrite(c, 'dp-a', 50000);
await rawBatchWrite(c, 'dp-b', 50000);
const S = { hash: { name: 'id', type: 'S' as const } };
for (let r = 0; r < 6; r++) {
  const pageSize = r % 2 ? 1000 : 10000;
  const c0 = process.cpuUsage();
  const raw = await rawParallelScan(c, 'dp-a');
  const rc = process.cpuUsage(c0);
  console.log('raw scan cpu', (rc.user + rc.system) / 1e6, 'items/s', Math.round(raw.itemsPerSecond));
  const cpu0 = process.cpuUsage();
  const res = await diffTables(
    tableSide(c, 'dp-a', S, pageSize ? { pageSize } : {}),
    tableSide(c, 'dp-b', S, pageSize ? { pageSize } : {}),
    { parallel: Number(process.env.PAR ?? 4) },
  );
  const cpu = process.cpuUsage(cpu0);
  console.log({
    ratio: +(50000 / res.seconds / raw.itemsPerSecond).toFixed(3),
    seconds: +res.seconds.toFixed(2),
    nodeCpu: +((cpu.user + cpu.system) / 1e6).toFixed(2),
  });
}
await server.stop();
