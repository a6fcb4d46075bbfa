import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  UpdateTableCommand,
  type DynamoDBClient,
  type GetItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { itemsEqual } from '../../src/core/equality.js';
import { InvalidDataError } from '../../src/core/errors.js';
import type { AttributeValue, Item, KeySchema } from '../../src/core/types.js';
import {
  DynamoCheckpointStore,
  FileCheckpointStore,
  type CheckpointState,
  type CheckpointStore,
} from '../../src/replicate/checkpoint.js';
import { CheckpointLeaseHeldError, CheckpointLeaseLostError } from '../../src/replicate/lease.js';
import { StreamRunner, type RunnerOptions, type RunnerSummary } from '../../src/replicate/runner.js';
import { waitFor } from '../harness/cli-process.js';
import { createTestTable, dynamoClient, dynamoEndpoint, streamsClient } from '../harness/dynamodb.js';
import { injectUnprocessedItems } from '../harness/dynamodb-faults.js';
import { startFaultProxy } from '../harness/fault-proxy.js';
import { readStream, streamArnOf } from '../harness/stream-capture.js';
import { scanAll } from '../harness/table-items.js';

const HASH: KeySchema = { hash: { name: 'id', type: 'S' } };

interface Setup {
  source: DynamoDBClient;
  replicaClient: DynamoDBClient;
  sourceTable: string;
  replicas: string[];
  checkpointFile: string;
  streamArn: string;
  run(extra?: Partial<RunnerOptions>): Promise<RunnerSummary>;
}

/** Source in us-east-1 with a stream, replicas in eu-west-1 on the same DynamoDB Local. */
async function setup(
  options: {
    replicas?: number;
    range?: boolean;
    fault?: (replica: DynamoDBClient) => void;
    stream?: 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY';
  } = {},
): Promise<Setup> {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, 'us-east-1');
  const replicaClient = dynamoClient(endpoint, 'eu-west-1');
  options.fault?.(replicaClient);
  const range = options.range ? { range: { name: 'range', type: 'N' as const } } : {};
  const sourceTable = await createTestTable(source, {
    ...range,
    stream: options.stream ?? 'NEW_AND_OLD_IMAGES',
  });
  const replicas: string[] = [];
  for (let i = 0; i < (options.replicas ?? 1); i++)
    replicas.push(await createTestTable(replicaClient, range));
  const dir = await mkdtemp(path.join(tmpdir(), 'runner-'));
  const checkpointFile = path.join(dir, 'checkpoint.json');
  const streamArn = await streamArnOf(source, sourceTable);
  const keySchema: KeySchema = options.range ? { ...HASH, range: { name: 'range', type: 'N' } } : HASH;
  return {
    source,
    replicaClient,
    sourceTable,
    replicas,
    checkpointFile,
    streamArn,
    run: (extra = {}) =>
      new StreamRunner({
        streams: streamsClient(endpoint, 'us-east-1'),
        streamArn,
        apply: { replicas: replicas.map((table) => ({ client: replicaClient, table })), keySchema },
        checkpoint: new FileCheckpointStore(checkpointFile),
        from: 'trim-horizon',
        stopWhenIdleMs: 800,
        ...extra,
      }).run(),
  };
}

const put = (client: DynamoDBClient, table: string, item: Item) =>
  client.send(new PutItemCommand({ TableName: table, Item: item }));
const del = (client: DynamoDBClient, table: string, key: Item) =>
  client.send(new DeleteItemCommand({ TableName: table, Key: key }));
const setRange = (client: DynamoDBClient, table: string, id: string, value: number) =>
  client.send(
    new UpdateItemCommand({
      TableName: table,
      Key: { id: { S: id } },
      UpdateExpression: 'SET #r = :v',
      ExpressionAttributeNames: { '#r': 'range' },
      ExpressionAttributeValues: { ':v': { N: String(value) } },
    }),
  );

/** The sequence numbers of the first `count` records of the source's stream, by position. */
async function sequenceNumbers(s: Setup, count: number): Promise<(i: number) => string> {
  const { records } = await readStream(s.source, streamsClient(await dynamoEndpoint()), s.sourceTable, count);
  return (i) => records[i]?.dynamodb?.SequenceNumber as string;
}

/** The setup's file checkpoint, recording the (one shard's) sequence number of every save. */
function recordingStore(s: Setup): { recording: CheckpointStore; saves: (string | undefined)[] } {
  const file = new FileCheckpointStore(s.checkpointFile);
  const saves: (string | undefined)[] = [];
  const recording: CheckpointStore = {
    description: 'recording store',
    load: () => file.load(),
    save: async (state) => {
      saves.push(Object.values(state.shards)[0]?.sequenceNumber);
      await file.save(state);
    },
  };
  return { recording, saves };
}

async function assertReplicaEqualsSource(s: Setup, table: string): Promise<Item[]> {
  const want = await scanAll(s.source, s.sourceTable);
  const got = await scanAll(s.replicaClient, table);
  const key = (i: Item) => JSON.stringify([i.id, i.range]);
  const byKey = new Map(got.map((i) => [key(i), i]));
  assert.equal(got.length, want.length, 'replica item count');
  for (const item of want) assert.ok(itemsEqual(byKey.get(key(item)), item), `item ${key(item)} differs`);
  return got;
}

test('insert -> the replica has the item', async () => {
  const s = await setup();
  await put(s.source, s.sourceTable, { id: { S: 'record-1' }, range: { N: '1' } });
  const summary = await s.run();
  assert.equal(summary.records, 1);
  assert.equal(summary.reason, 'idle');
  const items = await scanAll(s.replicaClient, s.replicas[0] as string);
  assert.deepEqual(items, [{ id: { S: 'record-1' }, range: { N: '1' } }]);
});

test('insert then modify -> the replica has the modified item', async () => {
  const s = await setup();
  await put(s.source, s.sourceTable, { id: { S: 'record-1' }, range: { N: '1' } });
  await setRange(s.source, s.sourceTable, 'record-1', 2);
  const summary = await s.run();
  assert.equal(summary.records, 2);
  assert.deepEqual(await scanAll(s.replicaClient, s.replicas[0] as string), [
    { id: { S: 'record-1' }, range: { N: '2' } },
  ]);
});

test('insert, modify, delete -> the replica is empty', async () => {
  const s = await setup();
  await put(s.source, s.sourceTable, { id: { S: 'record-1' }, range: { N: '1' } });
  const replica = s.replicas[0] as string;
  // The replica holds a stale copy so the delete has something to remove.
  await put(s.replicaClient, replica, { id: { S: 'record-1' }, range: { N: '0' } });
  await setRange(s.source, s.sourceTable, 'record-1', 2);
  await del(s.source, s.sourceTable, { id: { S: 'record-1' } });
  const summary = await s.run();
  assert.equal(summary.records, 3);
  assert.deepEqual(await scanAll(s.replicaClient, replica), []);
});

test('ten interleaved changes over three keys -> r2 = 22, r3 = 33, r1 absent', async () => {
  const s = await setup();
  const t = s.sourceTable;
  await put(s.source, t, { id: { S: 'r1' }, range: { N: '1' } });
  await setRange(s.source, t, 'r1', 11);
  await put(s.source, t, { id: { S: 'r3' }, range: { N: '1' } });
  await put(s.source, t, { id: { S: 'r2' }, range: { N: '1' } });
  await setRange(s.source, t, 'r2', 22);
  await del(s.source, t, { id: { S: 'r1' } });
  await setRange(s.source, t, 'r3', 33);
  await put(s.source, t, { id: { S: 'r1' }, range: { N: '1' } });
  await setRange(s.source, t, 'r1', 2);
  await del(s.source, t, { id: { S: 'r1' } });
  const summary = await s.run();
  assert.equal(summary.records, 10);
  const items = await scanAll(s.replicaClient, s.replicas[0] as string);
  const byId = new Map(items.map((i) => [(i.id as { S: string }).S, i]));
  assert.equal(items.length, 2);
  assert.deepEqual(byId.get('r2'), { id: { S: 'r2' }, range: { N: '22' } });
  assert.deepEqual(byId.get('r3'), { id: { S: 'r3' }, range: { N: '33' } });
  assert.equal(byId.has('r1'), false);
});

test('binary values and 38-digit numbers replicate byte for byte', async () => {
  const s = await setup();
  const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
  const item: Item = {
    id: { S: 'bin' },
    b: { B: bytes },
    bs: { BS: [new Uint8Array([1]), new Uint8Array([0, 255])] },
    m: {
      M: { inner: { B: new Uint8Array([9, 8, 7]) }, n: { N: '-0.00000000000000000000000000000000000001' } },
    },
    l: { L: [{ B: new Uint8Array([42]) }, { N: '12345678901234567890123456789012345678' }] },
    big: { N: '99999999999999999999999999999999999999' },
    ns: { NS: ['12345678901234567890123456789012345678', '1E+125'] },
    empty: { S: '' },
  };
  await put(s.source, s.sourceTable, item);
  await s.run();
  const [got] = await scanAll(s.replicaClient, s.replicas[0] as string);
  assert.ok(got);
  assert.deepEqual(Buffer.from((got.b as { B: Uint8Array }).B), Buffer.from(bytes));
  assert.equal((got.big as { N: string }).N, '99999999999999999999999999999999999999');
  const l = (got.l as { L: Item[keyof Item][] }).L;
  assert.equal((l[1] as { N: string }).N, '12345678901234567890123456789012345678');
  assert.deepEqual(Buffer.from((l[0] as { B: Uint8Array }).B), Buffer.from([42]));
  assert.ok(itemsEqual(got, item));
});

test('hash+range table: items with the same hash key and different range keys', async () => {
  const s = await setup({ range: true });
  for (let r = 1; r <= 5; r++)
    await put(s.source, s.sourceTable, { id: { S: 'h' }, range: { N: String(r) }, v: { N: String(r * 10) } });
  await del(s.source, s.sourceTable, { id: { S: 'h' }, range: { N: '3' } });
  await put(s.source, s.sourceTable, { id: { S: 'h' }, range: { N: '5' }, v: { S: 'changed' } });
  const summary = await s.run();
  assert.equal(summary.records, 7);
  const got = await assertReplicaEqualsSource(s, s.replicas[0] as string);
  assert.equal(got.length, 4);
});

test('several replicas all converge to the source', async () => {
  const s = await setup({ replicas: 3 });
  for (let i = 0; i < 60; i++)
    await put(s.source, s.sourceTable, { id: { S: `k${i % 20}` }, n: { N: String(i) } });
  for (let i = 0; i < 5; i++) await del(s.source, s.sourceTable, { id: { S: `k${i}` } });
  const summary = await s.run();
  assert.equal(summary.records, 65);
  for (const table of s.replicas) assert.equal((await assertReplicaEqualsSource(s, table)).length, 15);
});

test('a restart resumes after the checkpoint and reads only the new records', async () => {
  const s = await setup();
  for (let i = 0; i < 30; i++) await put(s.source, s.sourceTable, { id: { S: `a${i}` } });
  const first = await s.run();
  assert.equal(first.records, 30);
  const checkpoint = JSON.parse(await readFile(s.checkpointFile, 'utf8')) as CheckpointState;
  const shardEntries = Object.values(checkpoint.shards);
  assert.ok(
    shardEntries.some((c) => c.sequenceNumber),
    'checkpoint holds a sequence number',
  );
  for (let i = 0; i < 7; i++) await put(s.source, s.sourceTable, { id: { S: `b${i}` } });
  const second = await s.run();
  assert.equal(second.records, 7, 'only the records after the checkpoint are read again');
  await assertReplicaEqualsSource(s, s.replicas[0] as string);
});

test('keys that fail on the replica: checkpoint stops before them, the rest is retried until it converges', async () => {
  // Fault injection DynamoDB Local cannot produce: the replica leaves every write of key "bad"
  // unprocessed (as a throttled table does) until the runner has retried the batch twice.
  let failing = true;
  const s = await setup({
    fault: (client) =>
      injectUnprocessedItems(client, ['id'], (_t, key) => failing && (key.id as { S: string }).S === 'bad'),
  });
  await put(s.source, s.sourceTable, { id: { S: 'a1' } });
  await put(s.source, s.sourceTable, { id: { S: 'a2' } });
  await put(s.source, s.sourceTable, { id: { S: 'bad' }, v: { N: '1' } });
  await put(s.source, s.sourceTable, { id: { S: 'a3' } });
  await put(s.source, s.sourceTable, { id: { S: 'bad' }, v: { N: '2' } });
  const seq = await sequenceNumbers(s, 5);
  const failures: Record<string, unknown>[] = [];
  const checkpoints: (string | undefined)[] = [];
  const { recording, saves } = recordingStore(s);
  const summary = await s.run({
    checkpoint: recording,
    apply: {
      replicas: s.replicas.map((table) => ({ client: s.replicaClient, table })),
      keySchema: HASH,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
    },
    retry: { maxAttempts: Infinity, baseDelayMs: 10, maxDelayMs: 50 },
    log: (event) => {
      if (event.event !== 'batch-partially-failed') return;
      failures.push(event);
      if (failures.length >= 2) failing = false;
    },
    onBatch: () => {},
  });
  assert.equal(failures.length, 2);
  for (const f of failures) {
    assert.equal(f.retryFrom, seq(2), 'retry from the first record of the failed key');
    assert.deepEqual(f.failedKeys, ['{"id":{"S":"bad"}}']);
  }
  checkpoints.push(
    ...Object.values((JSON.parse(await readFile(s.checkpointFile, 'utf8')) as CheckpointState).shards).map(
      (c) => c.sequenceNumber,
    ),
  );
  assert.deepEqual(checkpoints, [seq(4)]);
  assert.equal(saves[0], seq(1), 'while "bad" failed, the checkpoint stopped at the record before it');
  assert.deepEqual([...new Set(saves)], [seq(1), seq(4)]);
  assert.equal(summary.failedAttempts, 2);
  assert.equal(summary.records, 5);
  await assertReplicaEqualsSource(s, s.replicas[0] as string);
});

test('later pages of other keys are applied while an earlier page retries; the checkpoint waits for the earlier page', async () => {
  // Pages of 2 records: [a1, bad] [a2, a3] [a4, a5]. "bad" stays unprocessed until a5 is on the
  // replica, which only happens if the pages after bad's are applied while it is retried (a runner
  // applying one page at a time would retry until the fallback after 200 failures).
  let sawA5 = false;
  let failures = 0;
  const s = await setup({
    fault: (client) =>
      injectUnprocessedItems(
        client,
        ['id'],
        (_t, key) => (key.id as { S: string }).S === 'bad' && !sawA5 && failures < 200,
        (requests) => {
          if (requests.some((r) => r.keys.some((k) => (k.id as { S: string }).S === 'a5'))) sawA5 = true;
        },
      ),
  });
  for (const id of ['a1', 'bad', 'a2', 'a3', 'a4', 'a5'])
    await put(s.source, s.sourceTable, { id: { S: id } });
  const seq = await sequenceNumbers(s, 6);
  const { recording, saves } = recordingStore(s);
  const batches: string[][] = [];
  const summary = await s.run({
    checkpoint: recording,
    polling: { limit: 2 },
    apply: {
      replicas: s.replicas.map((table) => ({ client: s.replicaClient, table })),
      keySchema: HASH,
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    },
    retry: { maxAttempts: Infinity, baseDelayMs: 5, maxDelayMs: 20 },
    log: (event) => {
      if (event.event === 'batch-partially-failed') failures++;
    },
    onBatch: (event) => batches.push(event.changes.map((c) => (c.keys.id as { S: string }).S)),
  });
  assert.equal(sawA5, true);
  assert.ok(failures >= 1 && failures < 200, `"bad" failed ${failures} times`);
  // Completions are reported in stream order, whatever order the pages finished in.
  assert.deepEqual(batches, [
    ['a1', 'bad'],
    ['a2', 'a3'],
    ['a4', 'a5'],
  ]);
  // While "bad" failed the checkpoint stayed at a1, though a2..a5 were on the replica already.
  assert.deepEqual([...new Set(saves)], [seq(0), seq(5)]);
  assert.equal(summary.records, 6);
  await assertReplicaEqualsSource(s, s.replicas[0] as string);
});

test('a write DynamoDB would refuse (a transform nests it 33 levels) is rejected once, not retried; the run goes on', async () => {
  const s = await setup();
  for (const id of ['a1', 'deep', 'a2']) await put(s.source, s.sourceTable, { id: { S: id } });
  const records = (await readStream(s.source, streamsClient(await dynamoEndpoint()), s.sourceTable, 3))
    .records;
  const seq = (i: number) => records[i]?.dynamodb?.SequenceNumber as string;
  let nested: AttributeValue = { S: 'leaf' };
  for (let i = 0; i < 32; i++) nested = { M: { a: nested } };
  const events: Record<string, unknown>[] = [];
  const summary = await s.run({
    apply: {
      replicas: s.replicas.map((table) => ({ client: s.replicaClient, table })),
      keySchema: HASH,
      transform: (change) =>
        JSON.stringify(change.keys.id) === '{"S":"deep"}'
          ? { ...change, newImage: { ...change.newImage, nested } }
          : change,
    },
    // A failure would be retried 3 times and then stop the runner; a rejection is not a failure.
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    log: (event) => events.push(event),
  });
  assert.equal(summary.rejected, 1);
  assert.equal(summary.failedAttempts, 0);
  assert.equal(summary.records, 3);
  assert.deepEqual(
    events.filter((e) => e.event === 'records-rejected').map((e) => e.rejected),
    [
      [
        {
          key: '{"id":{"S":"deep"}}',
          firstSequenceNumber: seq(1),
          error:
            'item {"id":{"S":"deep"}}: attribute "nested" nests deeper than DynamoDB\'s limit of 32 levels',
        },
      ],
    ],
  );
  assert.deepEqual(
    (await scanAll(s.replicaClient, s.replicas[0] as string)).map((i) => JSON.stringify(i.id)).sort(),
    ['{"S":"a1"}', '{"S":"a2"}'],
  );
  const saved = JSON.parse(await readFile(s.checkpointFile, 'utf8')) as CheckpointState;
  assert.deepEqual(
    Object.values(saved.shards).map((c) => c.sequenceNumber),
    [seq(2)],
  );
});

test('the checkpoint can live in a DynamoDB table', async () => {
  const s = await setup();
  const endpoint = await dynamoEndpoint();
  const checkpointTable = await createTestTable(s.source);
  const store = new DynamoCheckpointStore(s.source, checkpointTable, 'runner-a');
  await put(s.source, s.sourceTable, { id: { S: 'x' } });
  const first = await s.run({ checkpoint: store });
  assert.equal(first.records, 1);
  const saved = await store.load();
  assert.equal(saved?.streamArn, s.streamArn);
  await put(s.source, s.sourceTable, { id: { S: 'y' } });
  const second = await s.run({
    checkpoint: new DynamoCheckpointStore(dynamoClient(endpoint), checkpointTable, 'runner-a'),
  });
  assert.equal(second.records, 1, 'resumed from the table checkpoint');
  await assertReplicaEqualsSource(s, s.replicas[0] as string);
  await assert.rejects(
    new DynamoCheckpointStore(s.source, 'no-such-checkpoint-table', 'x').load(),
    /Checkpoint table no-such-checkpoint-table does not exist/,
  );
});

test('a checkpoint table without the hash key "id": load, save and lease fail with the data layer\'s error, exit 2', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await createTestTable(client, { hash: { name: 'pk', type: 'S' } });
  const store = new DynamoCheckpointStore(client, table, 'runner-a');
  const state: CheckpointState = {
    version: 1,
    streamArn: 'arn',
    shards: {},
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
  for (const [action, attempt] of [
    ['GetItem', () => store.load()],
    ['UpdateItem', () => store.save(state)],
    ['GetItem', () => store.lease()],
  ] as const) {
    await assert.rejects(attempt(), (error: unknown) => {
      assert.ok(error instanceof InvalidDataError, String(error));
      assert.equal(error.exitCode, 2);
      assert.match(error.message, new RegExp(`^DynamoDB rejected ${action} on table "${table}" at `));
      return true;
    });
  }
});

test('a closed shard is read to its end and finished; a disabled stream ends the run', async () => {
  const s = await setup();
  for (let i = 0; i < 20; i++) await put(s.source, s.sourceTable, { id: { S: `c${i}` } });
  const running = s.run({ stopWhenIdleMs: undefined, discoveryIntervalMs: 200 });
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 20; i < 30; i++) await put(s.source, s.sourceTable, { id: { S: `c${i}` } });
  // Disabling the stream closes its shard (it gets an ending sequence number).
  await s.source.send(
    new UpdateTableCommand({ TableName: s.sourceTable, StreamSpecification: { StreamEnabled: false } }),
  );
  const summary = await running;
  assert.equal(summary.reason, 'stream-ended');
  assert.equal(summary.records, 30);
  assert.ok(summary.shards.every((x) => x.state === 'finished'));
  const saved = JSON.parse(await readFile(s.checkpointFile, 'utf8')) as CheckpointState;
  assert.ok(Object.values(saved.shards).every((c) => c.finished === true));
  await assertReplicaEqualsSource(s, s.replicas[0] as string);
});

test('--from latest on a first start skips what the stream already holds', async () => {
  const s = await setup();
  for (let i = 0; i < 5; i++) await put(s.source, s.sourceTable, { id: { S: `old${i}` } });
  let batches = 0;
  const running = s.run({ from: 'latest', stopWhenIdleMs: 1500, onBatch: () => batches++ });
  // LATEST means "from when the runner took its iterator": probe until it is reading.
  for (let i = 0; batches === 0; i++) {
    await put(s.source, s.sourceTable, { id: { S: `probe${i}` } });
    await new Promise((r) => setTimeout(r, 200));
  }
  for (let i = 0; i < 3; i++) await put(s.source, s.sourceTable, { id: { S: `new${i}` } });
  const summary = await running;
  const ids = (await scanAll(s.replicaClient, s.replicas[0] as string)).map((i) => (i.id as { S: string }).S);
  assert.deepEqual(
    ids.filter((id) => !id.startsWith('probe')).sort(),
    ['new0', 'new1', 'new2'],
    'none of the records from before the start',
  );
  assert.equal(summary.records, ids.length);
});

test('read-through replicates a KEYS_ONLY stream from the source table', async () => {
  const s = await setup({ stream: 'KEYS_ONLY' });
  for (let i = 0; i < 4; i++)
    await put(s.source, s.sourceTable, {
      id: { S: `r${i}` },
      n: { N: `${i}1234567890123456789012345678901234567` },
    });
  await setRange(s.source, s.sourceTable, 'r1', 5);
  await del(s.source, s.sourceTable, { id: { S: 'r2' } });
  const summary = await s.run({
    apply: {
      replicas: s.replicas.map((table) => ({ client: s.replicaClient, table })),
      keySchema: HASH,
      readThrough: { client: s.source, table: s.sourceTable },
    },
  });
  assert.equal(summary.records, 6);
  assert.equal((await assertReplicaEqualsSource(s, s.replicas[0] as string)).length, 3);
});

test('a slow checkpoint store delays only the checkpoint; a failing one stops the runner with its error', async () => {
  const s = await setup();
  for (let i = 0; i < 40; i++) await put(s.source, s.sourceTable, { id: { S: `s${i}` } });
  const file = new FileCheckpointStore(s.checkpointFile);
  // A stand-in store (not DynamoDB: the real stores cannot be made slow or failing on demand).
  let saves = 0;
  const slow: CheckpointStore = {
    description: 'slow test store',
    load: () => file.load(),
    save: async (state) => {
      saves++;
      await new Promise((r) => setTimeout(r, 300));
      await file.save(state);
    },
  };
  const summary = await s.run({ checkpoint: slow, polling: { limit: 5 } });
  assert.equal(summary.records, 40);
  // Eight pages of five; saves coalesce behind the applies, so fewer saves than pages.
  assert.ok(saves >= 1 && saves < 8, `saves: ${saves}`);
  const saved = JSON.parse(await readFile(s.checkpointFile, 'utf8')) as CheckpointState;
  const records = await readStream(
    s.source,
    streamsClient(await dynamoEndpoint(), 'us-east-1'),
    s.sourceTable,
    40,
  );
  assert.equal(
    Object.values(saved.shards)[0]?.sequenceNumber,
    records.records.at(-1)?.dynamodb?.SequenceNumber,
  );
  await assertReplicaEqualsSource(s, s.replicas[0] as string);

  for (let i = 0; i < 10; i++) await put(s.source, s.sourceTable, { id: { S: `f${i}` } });
  const failing: CheckpointStore = {
    description: 'failing test store',
    load: () => file.load(),
    save: () => Promise.reject(new Error('disk full')),
  };
  await assert.rejects(s.run({ checkpoint: failing, polling: { limit: 5 } }), /disk full/);
  const after = JSON.parse(await readFile(s.checkpointFile, 'utf8')) as CheckpointState;
  assert.deepEqual(after, saved, 'the failing store left the last good checkpoint');
});

/** The checkpoint item of a DynamoDB checkpoint table, read straight from DynamoDB. */
async function checkpointItem(
  client: DynamoDBClient,
  table: string,
  id: string,
): Promise<GetItemCommandOutput['Item']> {
  const out = await client.send(
    new GetItemCommand({ TableName: table, Key: { id: { S: id } }, ConsistentRead: true }),
  );
  return out.Item;
}

const versionOf = (items: readonly Item[]): string[] =>
  items.map((i) => `${(i.id as { S: string }).S}=${(i.v as { N: string }).N}`).sort();

test('an owner paused past its lease (heartbeats cut off) applies nothing more and cannot save; the new owner ends exact', async () => {
  const s = await setup();
  const endpoint = await dynamoEndpoint();
  const checkpointTable = await createTestTable(s.source);
  // The old owner reaches the checkpoint table through a proxy the test takes down: its heartbeats fail.
  const proxy = await startFaultProxy(endpoint);
  const timings = { durationMs: 4_000, heartbeatMs: 500, marginMs: 1_000, pollMs: 100 };
  const storeA = new DynamoCheckpointStore(dynamoClient(proxy.endpoint), checkpointTable, 'cp', timings);
  const storeB = new DynamoCheckpointStore(dynamoClient(endpoint), checkpointTable, 'cp', timings);
  const replica = s.replicas[0] as string;
  const apply = { replicas: [{ client: s.replicaClient, table: replica }], keySchema: HASH };
  const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
  const putAll = (v: number) =>
    Promise.all(keys.map((k) => put(s.source, s.sourceTable, { id: { S: k }, v: { N: String(v) } })));

  // A's transform stops at the second change set: A is paused in the middle of a batch.
  let reached = (): void => {};
  const atPause = new Promise<void>((r) => (reached = r));
  let resume = (): void => {};
  const paused = new Promise<void>((r) => (resume = r));
  const leaseA = await storeA.lease();
  const runnerA = new StreamRunner({
    streams: streamsClient(endpoint, 'us-east-1'),
    streamArn: s.streamArn,
    apply: {
      ...apply,
      transform: async (c) => {
        if ((c.newImage?.v as { N: string } | undefined)?.N === '2') {
          reached();
          await paused;
        }
        return c;
      },
    },
    checkpoint: leaseA.store,
    lease: leaseA,
    from: 'trim-horizon',
  });
  const runA = runnerA.run().then(
    () => undefined,
    (error: unknown) => error,
  );

  await putAll(1);
  const first = await readStream(s.source, streamsClient(endpoint, 'us-east-1'), s.sourceTable, 30);
  const lastOfFirst = first.records.at(-1)?.dynamodb?.SequenceNumber;
  await waitFor(
    async () => {
      const state = (await checkpointItem(s.source, checkpointTable, 'cp'))?.state as
        { S: string } | undefined;
      const shards = state ? Object.values((JSON.parse(state.S) as CheckpointState).shards) : [];
      return shards[0]?.sequenceNumber === lastOfFirst;
    },
    30_000,
    "A's checkpoint after the first change set",
  ).catch(async (error: unknown) => {
    throw new Error(
      `${(error as Error).message}; runner A: ${String(await Promise.race([runA, 'running']))}`,
    );
  });
  await putAll(2);
  await atPause;
  await proxy.down();
  await putAll(3);

  // B waits as a standby until A's lease has expired, takes over and applies sets 2 and 3.
  const waited: string[] = [];
  const leaseB = await storeB.lease({ wait: true, onWait: (holder) => waited.push(holder) });
  assert.deepEqual(waited, [leaseA.holder], 'B waited for A, named by pid, host and since when');
  const summary = await new StreamRunner({
    streams: streamsClient(endpoint, 'us-east-1'),
    streamArn: s.streamArn,
    apply,
    checkpoint: leaseB.store,
    lease: leaseB,
    stopWhenIdleMs: 800,
  }).run();
  assert.equal(summary.records, 60, "B resumed after A's checkpoint");
  await leaseB.release();
  const savedByB = await checkpointItem(s.source, checkpointTable, 'cp');
  assert.deepEqual(
    versionOf(await scanAll(s.replicaClient, replica)),
    versionOf(await scanAll(s.source, s.sourceTable)),
  );

  // A wakes up, reachable again, holding its batch of set 2: it writes nothing and stops.
  await proxy.up();
  resume();
  const errorA = await runA;
  assert.ok(errorA instanceof CheckpointLeaseLostError, String(errorA));
  assert.match(errorA.message, /expired/);
  assert.deepEqual(
    versionOf(await scanAll(s.replicaClient, replica)),
    keys.map((k) => `${k}=3`).sort(),
    'every key keeps the newest version: A applied nothing after losing its lease',
  );
  await assert.rejects(leaseA.store.save(runnerA.stats() as never), CheckpointLeaseLostError);
  assert.deepEqual(
    await checkpointItem(s.source, checkpointTable, 'cp'),
    savedByB,
    "A did not save over B's checkpoint",
  );
  assert.equal(savedByB?.leaseToken?.N, '2');
  assert.equal(savedByB?.leaseOwner, undefined, 'B released the lease when it stopped');
});

test('fencing token: an old owner whose lease was taken over cannot save; a third runner is refused, then takes over', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client);
  const state = (sequenceNumber: string): CheckpointState => ({
    version: 1,
    streamArn: 'arn:stream',
    shards: { s1: { sequenceNumber } },
    updatedAt: new Date(0).toISOString(),
  });
  const leaseA = await new DynamoCheckpointStore(client, table, 'cp', { durationMs: 60_000 }).lease();
  await leaseA.store.save(state('100'));
  // B's clock runs two minutes ahead, so A's lease looks expired to it: A still believes it holds
  // the lease, as an owner paused past its expiry would on waking up.
  const leaseB = await new DynamoCheckpointStore(client, table, 'cp', {
    durationMs: 60_000,
    clock: () => Date.now() + 120_000,
  }).lease();
  await leaseB.store.save(state('200'));
  await assert.rejects(leaseA.store.save(state('150')), (error: unknown) => {
    assert.ok(error instanceof CheckpointLeaseLostError);
    assert.match(
      error.message,
      /\(token 1\) was taken over by another runner; it is now held by pid \d+ on host .+ \(token 2\)/,
    );
    return true;
  });
  assert.equal(leaseA.signal.aborted, true);
  assert.throws(() => leaseA.check(), CheckpointLeaseLostError);
  const item = await checkpointItem(client, table, 'cp');
  assert.equal((JSON.parse(item?.state?.S ?? '') as CheckpointState).shards.s1?.sequenceNumber, '200');
  assert.equal(item?.leaseToken?.N, '2');

  const storeC = new DynamoCheckpointStore(client, table, 'cp');
  await assert.rejects(storeC.lease(), (error: unknown) => {
    assert.ok(error instanceof CheckpointLeaseHeldError);
    assert.ok(error.message.includes(`is held by ${leaseB.holder} (lease token 2`), error.message);
    return true;
  });
  await leaseA.release(); // lost: changes nothing
  await leaseB.release();
  const leaseC = await storeC.lease();
  assert.equal((await checkpointItem(client, table, 'cp'))?.leaseToken?.N, '3');
  assert.equal((await leaseC.store.load())?.shards.s1?.sequenceNumber, '200');
  await leaseC.release();
});
