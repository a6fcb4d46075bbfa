/**
 * replicateTable, the runner's workflow, called in-process against DynamoDB Local: the backfill
 * hand-off under writes, a gap (stop, or resync), backup-only mode, a stop through the signal and a
 * refused lease. The source lives in "region" us-east-1 and the replicas in eu-west-1 of the same
 * server. The `replicate` command's wiring is tested in replicate-runner-cli.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { UsageError } from '../../src/core/errors.js';
import { readChanges } from '../../src/backup/change-log.js';
import { CapacityBudget } from '../../src/dynamodb/capacity.js';
import { FileCheckpointStore, type CheckpointState } from '../../src/replicate/checkpoint.js';
import { CheckpointLeaseHeldError } from '../../src/replicate/lease.js';
import {
  replicateTable,
  type ReplicateTableEvent,
  type ReplicateTableOptions,
} from '../../src/replicate/replicate-table.js';
import { FileObjectStore } from '../../src/storage/fs-store.js';
import { StreamGapError } from '../../src/streams/reader.js';
import { waitFor } from '../harness/cli-process.js';
import { createTestTable, dynamoClient, dynamoEndpoint, streamsClient } from '../harness/dynamodb.js';
import { readStream } from '../harness/stream-capture.js';
import { scanAll } from '../harness/table-items.js';
import { assertTablesEqual, mutate, putItems } from '../harness/table-load.js';
import { awkwardItems, loadItems } from '../harness/backup-fixtures.js';

interface Fixture {
  endpoint: string;
  source: DynamoDBClient;
  replica: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  sourceTable: string;
  replicaTable: string;
  checkpointFile: string;
  dir: string;
  events: ReplicateTableEvent[];
}

async function fixture(): Promise<Fixture> {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, 'us-east-1');
  const replica = dynamoClient(endpoint, 'eu-west-1');
  const dir = await mkdtemp(path.join(tmpdir(), 'replicate-table-'));
  return {
    endpoint,
    source,
    replica,
    streams: streamsClient(endpoint, 'us-east-1'),
    sourceTable: await createTestTable(source, { stream: 'NEW_AND_OLD_IMAGES' }),
    replicaTable: await createTestTable(replica),
    checkpointFile: path.join(dir, 'checkpoint.json'),
    dir,
    events: [],
  };
}

/** From the fixture's source to its replica, with its checkpoint file; events are collected. */
function options(f: Fixture, extra: Partial<ReplicateTableOptions> = {}): ReplicateTableOptions {
  return {
    source: { client: f.source, table: f.sourceTable },
    streams: f.streams,
    replicas: [{ client: f.replica, table: f.replicaTable, label: 'replica' }],
    checkpoint: new FileCheckpointStore(f.checkpointFile),
    onEvent: (event) => f.events.push(event),
    ...extra,
  };
}

/** Event names, without those whose number depends on timing (shard lines, stats, progress). */
const TIMED = new Set(['shard-start', 'shard-finished', 'stats', 'backfill-progress']);
const names = (events: readonly ReplicateTableEvent[]): string[] =>
  events.map((e) => e.event).filter((e) => !TIMED.has(e));

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

test('hand-off under puts, updates and deletes: copy, replay, and the replica equals the source exactly', async () => {
  const f = await fixture();
  await putItems(
    f.source,
    f.sourceTable,
    Array.from({ length: 2000 }, (_, i) => ({
      id: { S: `k${i}` },
      n: { N: `${i}.000000000000000000000000000001` },
      bin: { B: new Uint8Array([i % 256, 7]) },
    })),
  );
  const stop: { done: boolean; started?: number } = { done: false };
  const load = mutate(f.source, f.sourceTable, 2000, stop);
  // 1,000 items/s makes the copy last ~2 s, all of it under the write load; the load goes on for a
  // second after the copy, so the replay has changes to apply on top of it.
  let copied!: () => void;
  const copyDone = new Promise<void>((resolve) => (copied = resolve));
  const running = replicateTable(
    options(f, {
      backfill: true,
      writeBudget: new CapacityBudget({ itemsPerSecond: 1000 }),
      stopWhenIdleMs: 2_000,
      onEvent: (event) => {
        f.events.push(event);
        if (event.event === 'backfill-done') copied();
      },
    }),
  );
  await copyDone;
  const duringCopy = stop.started ?? 0;
  await new Promise((r) => setTimeout(r, 1000));
  stop.done = true;
  const mutations = await load;
  const summary = await running;
  assert.equal(summary.reason, 'idle');
  assert.equal(summary.backfills, 1);
  assert.deepEqual(names(f.events), ['lease-acquired', 'backfill-start', 'backfill-done', 'stopped']);
  const done = f.events.find((e) => e.event === 'backfill-done');
  assert.ok(done && done.scanned >= 1900, `the copy scanned the table (${JSON.stringify(done)})`);
  assert.ok(
    summary.runner && summary.runner.records > 0,
    'the replay applied the changes made during the copy',
  );
  assert.ok(
    duringCopy > 0 && mutations >= duringCopy,
    `writes hit the source during the copy (${duringCopy})`,
  );
  await assertTablesEqual(f.source, f.sourceTable, f.replica, f.replicaTable);
  assert.equal(await exists(`${f.checkpointFile}.lock`), false, 'the lease is released');
});

test('a gap (a checkpointed shard no longer in the stream): StreamGapError, or with resync a backfill and an exact replica', async () => {
  const f = await fixture();
  await putItems(
    f.source,
    f.sourceTable,
    Array.from({ length: 50 }, (_, i) => ({ id: { S: `k${i}` } })),
  );
  const capture = await readStream(f.source, f.streams, f.sourceTable, 50);
  // A checkpoint as a runner would leave it after the stream trimmed a shard it had not finished.
  const stale: CheckpointState = {
    version: 1,
    streamArn: capture.streamArn,
    shards: { 'shardId-00000000000000000000-trimmed': { sequenceNumber: '000000000000000000001' } },
    updatedAt: new Date().toISOString(),
  };
  await writeFile(f.checkpointFile, JSON.stringify(stale));
  await assert.rejects(replicateTable(options(f)), (error: unknown) => {
    assert.ok(error instanceof StreamGapError);
    assert.match(error.message, /no longer in the stream/);
    return true;
  });
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), []);
  const kept = JSON.parse(await readFile(f.checkpointFile, 'utf8')) as CheckpointState;
  assert.deepEqual(kept.shards, stale.shards, 'the checkpoint keeps its position');

  f.events.length = 0;
  const summary = await replicateTable(options(f, { onGap: 'resync', stopWhenIdleMs: 800 }));
  assert.equal(summary.reason, 'idle');
  assert.equal(summary.backfills, 1);
  assert.equal(summary.runner?.records, 0, 'the copy holds everything; the replay finds nothing new');
  assert.deepEqual(names(f.events), ['lease-acquired', 'gap', 'backfill-start', 'backfill-done', 'stopped']);
  const gap = f.events.find((e) => e.event === 'gap');
  assert.equal(gap?.event === 'gap' && gap.action, 'resync');
  assert.equal(await assertTablesEqual(f.source, f.sourceTable, f.replica, f.replicaTable), 50);
  const saved = JSON.parse(await readFile(f.checkpointFile, 'utf8')) as CheckpointState;
  assert.equal(saved.shards['shardId-00000000000000000000-trimmed'], undefined, 'the stale shard is gone');
});

test('backup-only: every change goes to the change log in order; a backfill without a replica is refused before anything', async () => {
  const f = await fixture();
  await putItems(
    f.source,
    f.sourceTable,
    Array.from({ length: 4 }, (_, i) => ({ id: { S: `k${i}` }, v: { N: String(i) } })),
  );
  await f.source.send(new DeleteItemCommand({ TableName: f.sourceTable, Key: { id: { S: 'k0' } } }));
  const log = new FileObjectStore(path.join(f.dir, 'log')).at(f.sourceTable);
  const summary = await replicateTable(options(f, { replicas: [], changeLog: log, stopWhenIdleMs: 1_000 }));
  assert.equal(summary.reason, 'idle');
  assert.equal(summary.runner?.records, 5);
  const logged: string[] = [];
  for await (const c of readChanges(log)) logged.push(`${c.eventName} ${JSON.stringify(c.keys)}`);
  assert.deepEqual(logged, [
    'INSERT {"id":{"S":"k0"}}',
    'INSERT {"id":{"S":"k1"}}',
    'INSERT {"id":{"S":"k2"}}',
    'INSERT {"id":{"S":"k3"}}',
    'REMOVE {"id":{"S":"k0"}}',
  ]);

  const other = path.join(f.dir, 'other-checkpoint.json');
  await assert.rejects(
    replicateTable(
      options(f, {
        replicas: [],
        changeLog: log,
        backfill: true,
        checkpoint: new FileCheckpointStore(other),
      }),
    ),
    (error: unknown) => error instanceof UsageError && /nothing to backfill/.test(error.message),
  );
  await assert.rejects(
    replicateTable(options(f, { replicas: [], checkpoint: new FileCheckpointStore(other) })),
    (error: unknown) => error instanceof UsageError && /at least one replica table/.test(error.message),
  );
  // Stopped before it began: the checks ran, nothing was taken or written.
  assert.deepEqual(
    await replicateTable(
      options(f, {
        replicas: [],
        changeLog: log,
        checkpoint: new FileCheckpointStore(other),
        signal: AbortSignal.abort(),
      }),
    ),
    { reason: 'stopped', backfills: 0 },
  );
  assert.equal(await exists(other), false, 'the refused runs wrote no checkpoint');
  assert.equal(await exists(`${other}.lock`), false, 'nor took its lease');
});

test('the signal stops the run (reason stopped, checkpoint saved, lease released); a refused or waiting second runner writes nothing', async () => {
  const f = await fixture();
  await putItems(
    f.source,
    f.sourceTable,
    Array.from({ length: 30 }, (_, i) => ({ id: { S: `k${i}` } })),
  );
  const stop = new AbortController();
  const first = replicateTable(options(f, { signal: stop.signal }));
  try {
    await waitFor(
      async () =>
        (await scanAll(f.replica, f.replicaTable)).length === 30 && (await exists(f.checkpointFile)),
      60_000,
      'the first runner to apply the items',
    );
    // A second runner on the same checkpoint, to another replica and another change log: refused
    // before it writes anything, the log's identity included.
    const other = await createTestTable(f.replica);
    const otherLog = path.join(f.dir, 'other-log');
    const second: Fixture = { ...f, events: [] };
    await assert.rejects(
      replicateTable(
        options(second, {
          replicas: [{ client: f.replica, table: other, label: 'other' }],
          changeLog: new FileObjectStore(otherLog).at(f.sourceTable),
        }),
      ),
      CheckpointLeaseHeldError,
    );
    assert.deepEqual(await scanAll(f.replica, other), [], 'the refused runner wrote nothing');
    assert.equal(await exists(otherLog), false, 'nor created the change log');
    assert.equal(second.events.length, 0, 'no event: refused before the lease');

    // A standby waits, and stops when told to, having written nothing.
    const standbyStop = new AbortController();
    const standby = replicateTable(
      options(second, {
        replicas: [{ client: f.replica, table: other, label: 'other' }],
        waitForLease: true,
        signal: standbyStop.signal,
      }),
    );
    await waitFor(async () => second.events.length > 0, 60_000, 'the standby to wait');
    assert.equal(second.events[0]?.event, 'lease-wait');
    standbyStop.abort();
    assert.deepEqual(await standby, { reason: 'stopped', backfills: 0 });
    assert.deepEqual(await scanAll(f.replica, other), []);
  } finally {
    stop.abort();
  }
  const summary = await first;
  assert.equal(summary.reason, 'stopped');
  assert.equal(summary.runner?.records, 30);
  assert.equal(f.events.at(-1)?.event, 'stopped');
  const saved = JSON.parse(await readFile(f.checkpointFile, 'utf8')) as CheckpointState;
  assert.equal(Object.values(saved.shards).filter((s) => s.sequenceNumber !== undefined).length, 1);
  assert.equal(await exists(`${f.checkpointFile}.lock`), false, 'the lease is released');
  await assertTablesEqual(f.source, f.sourceTable, f.replica, f.replicaTable);
});

test('empty maps at any depth, with every other awkward value, replicate exactly (DynamoDB Local sends them untyped in stream images)', async () => {
  const f = await fixture();
  const items = awkwardItems(20);
  items.push({
    id: { S: 'empty-maps' },
    top: { M: {} },
    inMap: { M: { a: { M: {} }, b: { M: { c: { M: {} } } } } },
    inList: { L: [{ M: {} }, { L: [{ M: {} }] }, { L: [] }] },
  });
  await loadItems(f.source, f.sourceTable, items);
  const summary = await replicateTable(options(f, { stopWhenIdleMs: 800 }));
  assert.equal(summary.reason, 'idle');
  assert.equal(await assertTablesEqual(f.source, f.sourceTable, f.replica, f.replicaTable), 21);
  const copied = (await scanAll(f.replica, f.replicaTable)).find(
    (i) => JSON.stringify(i.id) === '{"S":"empty-maps"}',
  );
  assert.deepEqual(copied, items[20]);
});
