/**
 * The verify-backup job (`diff-tables --against-backup --work`) on a change log — a base snapshot
 * with logged changes over it (the overlay), its latest state and `--at` a moment between two
 * batches — and on a native export, gives exactly the counts and report lines of the one-process
 * `diff-tables --against-backup` on the same data.
 *
 * DynamoDB Local has no export API: the native export test uses the export stand-in
 * (test/harness/export-stand-in.ts), which answers ExportTableToPointInTime and DescribeExport in
 * front of DynamoDB Local and writes the documented export layout into s3rver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { writeChangeBatch } from '../../src/backup/change-log.js';
import { listSnapshots } from '../../src/backup/point-in-time.js';
import type { Change } from '../../src/core/change.js';
import type { Item } from '../../src/core/types.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { startExportStandIn } from '../harness/export-stand-in.js';
import { startLocalS3 } from '../harness/s3.js';
import { assertSameAsOneProcess } from './diff-fixtures.js';

// Set up at the top level: the harness stops its servers after the file, not after a test.
const endpoint = await dynamoEndpoint();
const client: DynamoDBClient = dynamoClient(endpoint);
const s3 = await startLocalS3();
const standIn = await startExportStandIn(endpoint, s3.client);
const s3Env = {
  ...process.env,
  S3_ENDPOINT: s3.endpoint,
  S3_ACCESS_KEY_ID: 'S3RVER',
  S3_SECRET_ACCESS_KEY: 'S3RVER',
};

const item = (id: string, v = 'same'): Item => ({ id: { S: id }, v: { S: v }, n: { N: `${id.length}.50` } });
const ids = (n: number) => Array.from({ length: n }, (_, i) => `k${String(i).padStart(2, '0')}`);

async function put(table: string, items: readonly Item[]): Promise<void> {
  for (const i of items) await client.send(new PutItemCommand({ TableName: table, Item: i as never }));
}

async function remove(table: string, id: string): Promise<void> {
  await client.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: id } } }));
}

let sequence = 1000;
function change(at: number, id: string, image?: Item): Change {
  sequence++;
  return {
    eventName: image ? 'MODIFY' : 'REMOVE',
    keys: { id: { S: id } },
    ...(image ? { newImage: image } : {}),
    sequenceNumber: String(sequence),
    approximateCreationTime: at,
    shardId: 'shard-verify',
  };
}

test('a change log: the latest state and --at a moment between two logged batches, as the one-process diff', async () => {
  const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
  await put(
    table,
    ids(60).map((id) => item(id)),
  );
  const logs = mkdtempSync(path.join(tmpdir(), 'verify-log-'));
  const log = path.join(logs, table);
  const backfill = await runCliCapture(['incremental-backfill', `${endpoint}/${table}`, log]);
  assert.equal(backfill.code, 0, backfill.stderr);
  const [base] = await listSnapshots(openObjectStore(log));
  assert.ok(base);
  // Two logged batches after the base: the overlay. The first: a new key, a change, a removal.
  const t1 = base.completedAt + 1;
  const t2 = base.completedAt + 2;
  const store = openObjectStore(log);
  for (const batch of [
    [change(t1, 'a', item('a', 'new')), change(t1, 'k05', item('k05', 'v2')), change(t1, 'k10')],
    [change(t2, 'k06', item('k06', 'log')), change(t2, 'k11')],
  ])
    assert.equal((await writeChangeBatch(store, batch, { table })).failed.length, 0);
  // The table: the first batch applied, k06 changed otherwise, k11 kept, and two changes never logged.
  await put(table, [item('a', 'new'), item('k05', 'v2'), item('k06', 'table'), item('u', 'unlogged')]);
  await remove(table, 'k10');
  await remove(table, 'k30');
  const work = mkdtempSync(path.join(tmpdir(), 'verify-work-'));
  const job = (id: string) => ['--work', work, '--job', id, '--segments', '3', '--item-budget', '7'];

  const latest = await assertSameAsOneProcess(`${endpoint}/${table}`, log, job('latest'));
  // different k06, missing k11 (the log removed it) and u, extraneous k30.
  assert.deepEqual(latest.counts, { missing: 2, different: 1, extraneous: 1, total: 4 });
  assert.deepEqual(latest.scanned, { primary: 60, replica: 59 });
  const before = await assertSameAsOneProcess(`${endpoint}/${table}`, log, job('at-t1'), [
    '--at',
    String(t1),
  ]);
  // At t1 the log still holds k06's first image and k11: k06 different, u missing, k30 extraneous.
  assert.deepEqual(before.counts, { missing: 1, different: 1, extraneous: 1, total: 3 });
  assert.deepEqual(before.scanned, { primary: 60, replica: 60 });
});

test('a native export (the export stand-in): equal, then exactly the one-process discrepancies', async () => {
  const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
  await put(
    table,
    ids(40).map((id) => item(id)),
  );
  const bucket = await s3.createBucket();
  const location = `s3://${bucket}/native`;
  const at = `${standIn.endpoint}/${table}?region=us-east-1`;
  const made = await runCliCapture(['backup-table', at, location, '--native', '--json'], { env: s3Env });
  assert.equal(made.code, 0, made.stderr);
  const work = `s3://${bucket}/verify-jobs`;
  const job = (id: string) => ['--work', work, '--job', id, '--segments', '2', '--workers', '2'];
  const equal = await assertSameAsOneProcess(at, location, job('equal'), [], s3Env);
  assert.equal(equal.code, 0);
  assert.deepEqual(equal.scanned, { primary: 40, replica: 40 });
  await put(table, [item('k01', 'changed'), item('new')]);
  await remove(table, 'k02');
  const changed = await assertSameAsOneProcess(at, location, job('changed'), [], s3Env);
  assert.deepEqual(changed.counts, { missing: 1, different: 1, extraneous: 1, total: 3 });
});
