import { BatchWriteItemCommand, DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from '../src/embedded/dynamodb-local.js';
import { createDemoTable } from '../src/embedded/replication-demo.js';
import { benchItem, rawBatchWrite } from './baselines.js';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const server = await startDynamoDbLocal();
const c = new DynamoDBClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
let k = 0;
async function withCap(table: string, count: number, conc: number) {
  let next = 0; const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => { while (next < count) { const from = next; next = Math.min(count, next + 25);
    let req: Record<string, WriteRequest[]> = { [table]: Array.from({ length: next - from }, (_, j) => ({ PutRequest: { Item: benchItem(from + j) as never } })) };
    while (Object.keys(req).length) req = (await c.send(new BatchWriteItemCommand({ RequestItems: req, ReturnConsumedCapacity: 'TOTAL' }))).UnprocessedItems ?? {}; } }));
  return count / ((performance.now() - t0) / 1000);
}
const mk = async () => { const t = `conc-${k++}`; await createDemoTable(c, t, false); return t; };
await rawBatchWrite(c, await mk(), 20000);
const a: number[] = [], b: number[] = [];
for (let r = 0; r < 5; r++) { a.push(Math.round(await rawBatchWrite(c, await mk(), 20000, benchItem, 8))); b.push(Math.round(await withCap(await mk(), 20000, 8))); }
console.log('none', a, 'TOTAL', b);
await server.stop();
