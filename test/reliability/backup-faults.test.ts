/**
 * Backup under faults: the S3 endpoint (s3rver behind the fault proxy) fails 10% of PUTs — half
 * answered 500/503, half with the connection dropped (some after s3rver stored the object, so the
 * client retries a PUT that already happened) — while the incremental backup runs: the base
 * snapshot (`incremental-backfill`) and the backup Lambda handler logging a stream of changes,
 * re-delivered by Lambda's rules when a batch fails. Point-in-time restores afterwards must be
 * exact at every moment checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromDynamoJson } from '../../src/core/ddb-json.js';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import { createBackupHandler } from '../../src/lambda/backup.js';
import { createLogger } from '../../src/lambda/log.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { seededRandom, startFaultProxy } from '../harness/fault-proxy.js';
import { startLocalS3 } from '../harness/s3.js';
import { byId, scanAll } from '../harness/table-items.js';
import { PROFILE } from './profile.js';
import { loc } from './helpers.js';
import { deliver, generateChanges, stateAt, streamArn } from './synthetic-stream.js';

const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

test(`incremental backup of ${PROFILE.backupChanges} changes while 10% of S3 PUTs fail: point-in-time restores are exact`, async (t) => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client);
  const s3 = await startLocalS3();
  const bucket = await s3.createBucket();
  const proxy = await startFaultProxy(s3.endpoint, { seed: 10 });
  proxy.setRules([
    { method: 'PUT', probability: 0.03, fault: { kind: 'status', status: 503 } },
    { method: 'PUT', probability: 0.03, fault: { kind: 'status', status: 500 } },
    { method: 'PUT', probability: 0.02, fault: { kind: 'drop' } },
    { method: 'PUT', probability: 0.02, fault: { kind: 'drop', afterForward: true } },
  ]);
  const logUrl = `s3://${bucket}/backups/${table}`;
  const s3Env = (url: string) => ({
    ...process.env,
    S3_ENDPOINT: url,
    S3_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
    S3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
  });

  const backfill = await runCliCapture(['incremental-backfill', loc(endpoint, table), logUrl, '--json'], {
    env: s3Env(proxy.endpoint),
  });
  assert.equal(backfill.code, 0, backfill.stderr);
  const coverageStart = (JSON.parse(backfill.stdout) as { snapshot: { completedAt: number } }).snapshot
    .completedAt;

  const changesPerSecond = 100;
  const startSecond = Math.floor(coverageStart / 1000) + 1;
  const { records } = generateChanges(3, PROFILE.backupChanges, {
    keys: 60,
    arn: streamArn(table),
    prefix: '',
    startSecond,
    changesPerSecond,
  });
  const handler = createBackupHandler(
    { bucket: 'unused', prefix: '', logLevel: 'error' },
    {
      store: openObjectStore(`s3://${bucket}/backups`, {
        s3: { endpoint: proxy.endpoint, credentials: S3_CREDENTIALS },
      }),
      logger: createLogger({ level: 'error', write: () => undefined }),
      metrics: () => undefined,
    },
  );
  const stats = { deliveries: 0, partial: 0, thrown: 0, duplicates: 0 };
  await deliver(records, handler, { random: seededRandom(77), maxBatch: 10, duplicates: 0.1 }, stats);
  const puts = proxy.requests.PUT ?? 0;
  const failed = proxy.injected();
  t.diagnostic(
    `${records.length} records; ${JSON.stringify(stats)}; ${puts} PUTs, faults ${JSON.stringify(proxy.counts)}`,
  );
  assert.ok(
    failed > 0 && proxy.injected('status') > 0 && proxy.injected('drop') > 0,
    'PUT faults were injected',
  );

  const lastSecond = records.at(-1)?.dynamodb.ApproximateCreationDateTime ?? startSecond;
  while (Date.now() <= (lastSecond + 1) * 1000) await new Promise((r) => setTimeout(r, 200));
  const seconds = lastSecond - startSecond;
  const moments = [...new Set([0, Math.floor(seconds / 3), Math.floor((2 * seconds) / 3), seconds])].map(
    (s) => startSecond + s,
  );
  for (const second of moments) {
    const target = uniqueName('pitr');
    const at = second * 1000 + 999;
    const r = await runCliCapture(
      ['restore', logUrl, loc(endpoint, target), '--at', String(at), '--create', '--json'],
      {
        env: s3Env(s3.endpoint),
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const want = stateAt(records, second);
    const got = byId(await scanAll(client, target));
    assert.equal(got.size, want.size, `item count at ${new Date(at).toISOString()}`);
    for (const [id, image] of want)
      assert.ok(
        itemsEqual(got.get(id), fromDynamoJson(image) as Item),
        `item ${id} at ${new Date(at).toISOString()}`,
      );
    t.diagnostic(`restore at +${second - startSecond} s: ${got.size} items exact`);
  }
});
