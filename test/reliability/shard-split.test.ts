/**
 * Shard lineage: the runner follows a stream whose shards close and split (served by the split-stream
 * model through the fault proxy, because DynamoDB Local never splits a shard). Every key's changes
 * cross from parent to child shards, so reading a child before its parent is finished would leave
 * older images on the replica. The replica must end exactly at the source's final state, with every
 * record applied once, also when the runner is killed mid-lineage and restarted from its checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fromDynamoJson } from '../../src/core/ddb-json.js';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { startFaultProxy } from '../harness/fault-proxy.js';
import { scanAll } from '../harness/table-items.js';
import { jsonLines, loc, spawnCli, waitFor } from './helpers.js';
import { splitStream } from './split-stream.js';
import { generateChanges, streamArn, type Json } from './synthetic-stream.js';

const OPS = 3600;
const PER_SECOND = 600;

async function setUp(seed: number, startSecond = Math.floor(Date.now() / 1000)) {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const sourceTable = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
  const replicaTable = await createTestTable(client);
  const { records, state } = generateChanges(seed, OPS, {
    keys: 40,
    arn: streamArn(sourceTable),
    prefix: '',
    startSecond,
    changesPerSecond: PER_SECOND,
  });
  const stream = splitStream(records, sourceTable);
  const proxy = await startFaultProxy(endpoint);
  proxy.setRules([stream.rule]);
  const dir = await mkdtemp(path.join(tmpdir(), 'shard-split-'));
  const args = [
    'replicate',
    loc(proxy.endpoint, sourceTable),
    loc(endpoint, replicaTable),
    '--checkpoint',
    path.join(dir, 'checkpoint.json'),
    '--json',
    '--stop-when-idle',
    '3s',
  ];
  return { client, replicaTable, records, state, stream, args, dir };
}

async function assertReplicaIs(
  client: DynamoDBClient,
  table: string,
  state: Map<string, Json>,
): Promise<void> {
  const got = await scanAll(client, table);
  assert.equal(got.length, state.size, 'item count');
  for (const item of got) {
    const want = state.get((item.id as { S: string }).S);
    assert.ok(
      want && itemsEqual(item, fromDynamoJson(want) as Item),
      `${JSON.stringify(item)} is not the final image ${JSON.stringify(want)}`,
    );
  }
}

async function runToIdle(args: readonly string[]): Promise<number> {
  const out = await spawnCli(args).output;
  assert.equal(out.code, 0, out.stderr);
  return Number(jsonLines(out.stdout).find((l) => l.event === 'stopped')?.records);
}

test('catching up on a split lineage: parents before children, every record once, exact final state', async (t) => {
  const { client, replicaTable, records, state, stream, args, dir } = await setUp(7);
  t.after(() => rm(dir, { recursive: true, force: true }));
  stream.start(Infinity);
  assert.equal(await runToIdle(args), records.length, 'every record applied exactly once');
  assert.deepEqual(stream.violations, []);
  for (const id of stream.shardIds) assert.ok((stream.reads[id] ?? 0) > 0, `shard ${id} was read`);
  await assertReplicaIs(client, replicaTable, state);
  t.diagnostic(
    `${records.length} records over ${stream.shardIds.length} shards; reads ${JSON.stringify(stream.reads)}`,
  );
});

test('following a live stream while its shards close and split: children found and read in order', async (t) => {
  const { client, replicaTable, records, state, stream, args, dir } = await setUp(9);
  t.after(() => rm(dir, { recursive: true, force: true }));
  stream.start(PER_SECOND);
  assert.equal(await runToIdle(args), records.length, 'every record applied exactly once');
  assert.deepEqual(stream.violations, []);
  await assertReplicaIs(client, replicaTable, state);
});

test('killed while the parent shard is half applied, the runner resumes it before the children', async (t) => {
  const { client, replicaTable, records, state, stream, args, dir } = await setUp(8);
  t.after(() => rm(dir, { recursive: true, force: true }));
  stream.start(Infinity);
  const first = spawnCli(args);
  // Kill once a position inside the parent is checkpointed (saves run behind the applies, so a read
  // count alone can come before the first save on a loaded machine), and before the children.
  const parentSaved = async (): Promise<boolean> => {
    const text = await readFile(path.join(dir, 'checkpoint.json'), 'utf8').catch(() => undefined);
    const saved = text === undefined ? undefined : (JSON.parse(text) as { shards?: Record<string, unknown> });
    const parent = saved?.shards?.['shardId-0000-p'] as { sequenceNumber?: string } | undefined;
    return parent?.sequenceNumber !== undefined;
  };
  await waitFor(
    async () => (stream.reads['shardId-0000-p'] ?? 0) >= 5 && (await parentSaved()),
    60_000,
    'the runner to checkpoint part of the parent shard',
  );
  first.child.kill('SIGKILL');
  const killed = await first.output;
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  assert.equal(stream.reads['shardId-0001-a'] ?? 0, 0, 'killed before the children were read');
  const resumed = await runToIdle(args);
  // At least once: the restart replays from the checkpoint, never more than the whole stream.
  assert.ok(resumed > 0 && resumed < records.length, `resumed with ${resumed} of ${records.length} records`);
  assert.deepEqual(stream.violations, []);
  await assertReplicaIs(client, replicaTable, state);
  t.diagnostic(`${records.length} records; the restart applied ${resumed}`);
});

test('restarted after a backfill before any new record, the runner skips what the copy holds', async (t) => {
  // Every record is an hour old: the backfill's copy (here of an empty table) stands for them all.
  const { client, replicaTable, stream, args, dir } = await setUp(10, Math.floor(Date.now() / 1000) - 3600);
  t.after(() => rm(dir, { recursive: true, force: true }));
  stream.start(Infinity);
  const stoppedOf = async (extra: string[]) => {
    const out = await spawnCli([...args, ...extra]).output;
    assert.equal(out.code, 0, out.stderr);
    return jsonLines(out.stdout).find((l) => l.event === 'stopped');
  };
  // Closed shards are history the copy holds; the open ones (A1, B) had no new record: live iterators.
  assert.equal((await stoppedOf(['--backfill']))?.records, 0);
  const checkpoint = JSON.parse(await readFile(path.join(dir, 'checkpoint.json'), 'utf8')) as {
    shards: Record<string, { skipBefore?: number; sequenceNumber?: string }>;
  };
  assert.deepEqual(Object.keys(checkpoint.shards).sort(), stream.shardIds.slice().sort());
  for (const id of ['shardId-0003-a1', 'shardId-0002-b'])
    assert.equal(typeof checkpoint.shards[id]?.skipBefore, 'number', JSON.stringify(checkpoint));
  // The restart reads A1 and B from their start (no sequence number to resume from) and applies none.
  const restarted = await stoppedOf([]);
  assert.equal(restarted?.records, 0, JSON.stringify(restarted));
  assert.ok(Number(restarted?.skipped) > 0, JSON.stringify(restarted));
  assert.equal((await scanAll(client, replicaTable)).length, 0);
});
