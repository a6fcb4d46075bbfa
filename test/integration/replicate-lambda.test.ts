/**
 * The `replicate` Lambda handler against DynamoDB Local, fed records captured from a real stream
 * (GetRecords) in the exact Lambda event shape. The replicas live in another "region" of the same
 * DynamoDB Local server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateTableCommand,
  DeleteItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type BatchWriteItemCommandInput,
  type BatchWriteItemCommandOutput,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import {
  createTestTable,
  dynamoClient,
  dynamoEndpoint,
  streamsClient,
  uniqueName,
} from '../harness/dynamodb.js';
import { captureChanges, toLambdaEvent, type StreamCapture } from '../harness/stream-capture.js';
import { createReplicateHandler, type ReplicateDeps } from '../../src/lambda/replicate.js';
import { readReplicateConfig } from '../../src/lambda/config.js';
import { createLogger } from '../../src/lambda/log.js';
import { BatchFailedError } from '../../src/lambda/batch-response.js';
import { compareSequenceNumbers } from '../../src/core/change.js';
import type { LambdaStreamEvent } from '../../src/core/change-sources.js';
import {
  ConfigError,
  InvalidDataError,
  KeySchemaMismatchError,
  NotFoundError,
  UsageError,
} from '../../src/core/errors.js';
import type { TestTableSpec } from '../harness/dynamodb.js';
import type { Env } from '../../src/lambda/config.js';

const SOURCE_REGION = 'us-east-1';
const REPLICA_REGION = 'eu-west-1';
const FAST_RETRY = { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

type Item = Record<string, AttributeValue>;

interface Fixture {
  endpoint: string;
  source: DynamoDBClient;
  replica: DynamoDBClient;
  sourceTable: string;
  replicaTable: string;
  capture(
    count: number,
    act: (source: DynamoDBClient, table: string) => Promise<void>,
  ): Promise<StreamCapture>;
}

async function fixture(spec: TestTableSpec = {}, replicaSpec: TestTableSpec = {}): Promise<Fixture> {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, SOURCE_REGION);
  const replica = dynamoClient(endpoint, REPLICA_REGION);
  const sourceTable = await createTestTable(source, { stream: 'NEW_AND_OLD_IMAGES', ...spec });
  const { stream: _stream, ...schemaOnly } = spec;
  const replicaTable = await createTestTable(replica, { ...schemaOnly, ...replicaSpec });
  const streams = streamsClient(endpoint, SOURCE_REGION);
  return {
    endpoint,
    source,
    replica,
    sourceTable,
    replicaTable,
    capture: (count, act) =>
      captureChanges(source, streams, sourceTable, count, () => act(source, sourceTable)),
  };
}

function env(f: Fixture, extra: Env = {}): Env {
  return {
    ReplicaTable: f.replicaTable,
    ReplicaRegion: REPLICA_REGION,
    ReplicaEndpoint: f.endpoint,
    ReplicaAccessKeyId: 'local',
    ReplicaSecretAccessKey: 'local',
    ...extra,
  };
}

interface Logged {
  lines: Record<string, unknown>[];
  /** EMF metric lines (metrics.ts). */
  metrics: string[];
  text: () => string;
}

function handler(f: Fixture, extra: Env = {}, deps: ReplicateDeps = {}) {
  const logged: Logged = {
    lines: [],
    metrics: [],
    text: () => logged.lines.map((l) => JSON.stringify(l)).join('\n'),
  };
  const config = readReplicateConfig(env(f, extra));
  const logger = createLogger({
    level: config.logLevel,
    write: (line) => logged.lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  return {
    handle: createReplicateHandler(config, {
      retry: FAST_RETRY,
      logger,
      metrics: (line) => logged.metrics.push(line),
      ...deps,
    }),
    logged,
  };
}

async function scanAll(client: DynamoDBClient, table: string): Promise<Item[]> {
  const out = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  return (out.Items ?? []).sort(
    (a, b) =>
      JSON.stringify(a.id).localeCompare(JSON.stringify(b.id)) ||
      JSON.stringify(a.range).localeCompare(JSON.stringify(b.range)),
  );
}

async function assertReplicaEqualsSource(
  f: Fixture,
  replica = f.replica,
  table = f.replicaTable,
): Promise<void> {
  assert.deepEqual(await scanAll(replica, table), await scanAll(f.source, f.sourceTable));
}

const put = (client: DynamoDBClient, table: string, item: Item) =>
  client.send(new PutItemCommand({ TableName: table, Item: item }));
const del = (client: DynamoDBClient, table: string, key: Item) =>
  client.send(new DeleteItemCommand({ TableName: table, Key: key }));
const setRange = (client: DynamoDBClient, table: string, id: string, range: number) =>
  client.send(
    new UpdateItemCommand({
      TableName: table,
      Key: { id: { S: id } },
      UpdateExpression: 'SET #r = :r',
      ExpressionAttributeNames: { '#r': 'range' },
      ExpressionAttributeValues: { ':r': { N: String(range) } },
    }),
  );

/** What Lambda delivers again after a batchItemFailures response: that record and every later one. */
function redeliverFrom(event: LambdaStreamEvent, sequenceNumber: string): LambdaStreamEvent {
  return {
    Records: event.Records.filter(
      (r) => compareSequenceNumbers(r.dynamodb?.SequenceNumber ?? '', sequenceNumber) >= 0,
    ),
  };
}

const CONTEXT = { awsRequestId: 'req-1' };

test('insert -> the replica has the item', async () => {
  const f = await fixture();
  const cap = await f.capture(1, (c, t) =>
    put(c, t, { id: { S: 'record-1' }, range: { N: '1' } }).then(() => undefined),
  );
  const { handle, logged } = handler(f);
  assert.deepEqual(await handle(toLambdaEvent(cap), CONTEXT), { batchItemFailures: [] });
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), [{ id: { S: 'record-1' }, range: { N: '1' } }]);
  const applied = logged.lines.find((l) => l.message === 'batch applied');
  assert.equal(applied?.correlationId, 'req-1');
  assert.equal(applied?.records, 1);
  assert.equal(applied?.applied, 1);
});

test('insert then modify -> range 2, in one batch and in two', async () => {
  const f = await fixture();
  const cap = await f.capture(2, async (c, t) => {
    await put(c, t, { id: { S: 'record-1' }, range: { N: '1' } });
    await setRange(c, t, 'record-1', 2);
  });
  assert.deepEqual(
    cap.records.map((r) => r.eventName),
    ['INSERT', 'MODIFY'],
  );
  const { handle } = handler(f);
  await handle(toLambdaEvent(cap));
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), [{ id: { S: 'record-1' }, range: { N: '2' } }]);

  const g = await fixture();
  const cap2 = await g.capture(2, async (c, t) => {
    await put(c, t, { id: { S: 'record-1' }, range: { N: '1' } });
    await setRange(c, t, 'record-1', 2);
  });
  const h = handler(g).handle;
  for (const record of cap2.records) await h(toLambdaEvent(cap2, [record]));
  assert.deepEqual(await scanAll(g.replica, g.replicaTable), [{ id: { S: 'record-1' }, range: { N: '2' } }]);
});

test('insert, modify, delete -> the replica is empty', async () => {
  const f = await fixture();
  // The replica already holds the item (e.g. from an earlier batch): the delete must remove it.
  await put(f.replica, f.replicaTable, { id: { S: 'record-1' }, range: { N: '0' } });
  const cap = await f.capture(3, async (c, t) => {
    await put(c, t, { id: { S: 'record-1' }, range: { N: '1' } });
    await setRange(c, t, 'record-1', 2);
    await del(c, t, { id: { S: 'record-1' } });
  });
  const { handle } = handler(f);
  assert.deepEqual(await handle(toLambdaEvent(cap)), { batchItemFailures: [] });
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), []);
});

test('ten interleaved changes over three keys -> r2 = 22, r3 = 33, r1 absent', async () => {
  const f = await fixture();
  const cap = await f.capture(10, async (c, t) => {
    await put(c, t, { id: { S: 'r1' }, range: { N: '1' } });
    await setRange(c, t, 'r1', 11);
    await put(c, t, { id: { S: 'r3' }, range: { N: '1' } });
    await put(c, t, { id: { S: 'r2' }, range: { N: '1' } });
    await setRange(c, t, 'r2', 22);
    await del(c, t, { id: { S: 'r1' } });
    await setRange(c, t, 'r3', 33);
    await put(c, t, { id: { S: 'r1' }, range: { N: '1' } });
    await setRange(c, t, 'r1', 2);
    await del(c, t, { id: { S: 'r1' } });
  });
  assert.equal(cap.records.length, 10);
  const { handle, logged } = handler(f);
  await handle(toLambdaEvent(cap));
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), [
    { id: { S: 'r2' }, range: { N: '22' } },
    { id: { S: 'r3' }, range: { N: '33' } },
  ]);
  const applied = logged.lines.find((l) => l.message === 'batch applied');
  assert.equal(applied?.records, 10);
  assert.equal(applied?.applied, 10);
  assert.equal(applied?.keys, 3);
});

test('binary values and 38-digit numbers replicate byte for byte', async () => {
  const f = await fixture();
  const bytes = new Uint8Array([0, 1, 2, 127, 128, 254, 255]);
  const item: Item = {
    id: { S: 'bin' },
    b: { B: bytes },
    bs: { BS: [new Uint8Array([0]), new Uint8Array([255, 0]), new Uint8Array([1, 2, 3])] },
    m: {
      M: { inner: { B: new Uint8Array([9, 0, 9]) }, n: { N: '-0.00000000000000000000000000000000000001' } },
    },
    l: { L: [{ B: new Uint8Array([0xff]) }, { N: '99999999999999999999999999999999999999' }, { S: '' }] },
    big: { N: '12345678901234567890123456789012345678' },
    neg: { N: '-98765432109876543210987654321098765432' },
    frac: { N: '1.2345678901234567890123456789012345678' },
    ns: { NS: ['1', '12345678901234567890123456789012345678', '0.5'] },
  };
  const cap = await f.capture(1, (c, t) => put(c, t, item).then(() => undefined));
  await handler(f).handle(toLambdaEvent(cap));
  const [copy] = await scanAll(f.replica, f.replicaTable);
  const [original] = await scanAll(f.source, f.sourceTable);
  assert.deepEqual(copy, original);
  assert.deepEqual(copy?.b, { B: bytes });
  assert.equal(copy?.big?.N, '12345678901234567890123456789012345678');
  assert.equal(copy?.neg?.N, '-98765432109876543210987654321098765432');
});

/**
 * Fault injection DynamoDB Local cannot produce: a client middleware that takes the writes of the
 * given ids out of every BatchWriteItem request and hands them back as UnprocessedItems, as DynamoDB
 * does under throttling.
 */
function leaveUnprocessed(client: DynamoDBClient, ids: ReadonlySet<string>): { requests: number } {
  const stats = { requests: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'BatchWriteItemCommand') return next(args);
      stats.requests++;
      const input = args.input as BatchWriteItemCommandInput;
      const kept: Record<string, WriteRequest[]> = {};
      const left: Record<string, WriteRequest[]> = {};
      for (const [table, requests] of Object.entries(input.RequestItems ?? {})) {
        for (const r of requests) {
          const id = (r.PutRequest?.Item ?? r.DeleteRequest?.Key)?.id?.S ?? '';
          ((ids.has(id) ? left : kept)[table] ??= []).push(r);
        }
      }
      if (Object.keys(kept).length === 0) {
        return { output: { UnprocessedItems: left, $metadata: {} }, response: {} } as Awaited<
          ReturnType<typeof next>
        >;
      }
      const result = await next({ ...args, input: { ...input, RequestItems: kept } });
      const output = result.output as BatchWriteItemCommandOutput;
      output.UnprocessedItems = { ...output.UnprocessedItems, ...left };
      return result;
    },
    { step: 'initialize', name: 'leaveUnprocessed' },
  );
  return stats;
}

test('a replica write that fails for some keys -> batchItemFailures names the first record of the lowest failed key; re-delivery converges', async () => {
  const f = await fixture();
  const cap = await f.capture(8, async (c, t) => {
    await put(c, t, { id: { S: 'a' }, range: { N: '1' } });
    await put(c, t, { id: { S: 'b' }, range: { N: '1' } }); // record 1: first record of failing key b
    await put(c, t, { id: { S: 'c' }, range: { N: '1' } });
    await setRange(c, t, 'b', 2);
    await put(c, t, { id: { S: 'd' }, range: { N: '1' } }); // record 4: first record of failing key d
    await setRange(c, t, 'a', 2);
    await setRange(c, t, 'd', 2);
    await put(c, t, { id: { S: 'e' }, range: { N: '1' } });
  });
  const event = toLambdaEvent(cap);
  const seqOf = (i: number) => event.Records[i]?.dynamodb?.SequenceNumber as string;
  let stats = { requests: 0 };
  const faulty = handler(
    f,
    {},
    {
      replicaClient: (r) => {
        const client = dynamoClient(f.endpoint, REPLICA_REGION);
        stats = leaveUnprocessed(client, new Set(['b', 'd']));
        assert.equal(r.table, f.replicaTable);
        return client;
      },
    },
  );
  const response = await faulty.handle(event, CONTEXT);
  assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: seqOf(1) }] });
  assert.ok(stats.requests >= FAST_RETRY.maxAttempts, 'the unprocessed writes were retried');
  assert.deepEqual(
    (await scanAll(f.replica, f.replicaTable)).map((i) => [i.id?.S, i.range?.N]),
    [
      ['a', '2'],
      ['c', '1'],
      ['e', '1'],
    ],
  );
  const failedLine = faulty.logged.lines.find((l) => l.message === 'keys failed');
  assert.equal(failedLine?.lowestFailedSequenceNumber, seqOf(1));
  assert.deepEqual(
    (failedLine?.failed as { key: string; firstSequenceNumber: string }[])
      .map((x) => [x.key, x.firstSequenceNumber])
      .sort(),
    [
      ['{"id":{"S":"b"}}', seqOf(1)],
      ['{"id":{"S":"d"}}', seqOf(4)],
    ],
  );

  // Lambda re-delivers from the reported record on; the fault is gone now.
  const again = redeliverFrom(event, seqOf(1));
  assert.equal(again.Records.length, 7);
  assert.deepEqual(await handler(f).handle(again), { batchItemFailures: [] });
  await assertReplicaEqualsSource(f);
});

test('when no record could be applied the handler throws, so Lambda retries the whole batch', async () => {
  const f = await fixture();
  const cap = await f.capture(2, async (c, t) => {
    await put(c, t, { id: { S: 'x' }, range: { N: '1' } });
    await put(c, t, { id: { S: 'y' }, range: { N: '1' } });
  });
  const { handle } = handler(
    f,
    {},
    {
      replicaClient: () => {
        const client = dynamoClient(f.endpoint, REPLICA_REGION);
        leaveUnprocessed(client, new Set(['x', 'y']));
        return client;
      },
    },
  );
  await assert.rejects(
    handle(toLambdaEvent(cap)),
    (e: unknown) =>
      e instanceof BatchFailedError &&
      /no record of the batch could be applied: 2 key\(s\) failed/.test(e.message),
  );
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), []);
});

test('a table with a hash+range key', async () => {
  const f = await fixture({ hash: { name: 'id', type: 'S' }, range: { name: 'range', type: 'N' } });
  const cap = await f.capture(6, async (c, t) => {
    await put(c, t, { id: { S: 'k' }, range: { N: '1' }, v: { S: 'one' } });
    await put(c, t, { id: { S: 'k' }, range: { N: '2' }, v: { S: 'two' } });
    await put(c, t, { id: { S: 'j' }, range: { N: '1' }, v: { S: 'three' } });
    await put(c, t, { id: { S: 'k' }, range: { N: '1' }, v: { S: 'one again' } });
    await del(c, t, { id: { S: 'k' }, range: { N: '2' } });
    await put(c, t, { id: { S: 'k' }, range: { N: '3' }, v: { S: 'four' } });
  });
  await handler(f).handle(toLambdaEvent(cap));
  await assertReplicaEqualsSource(f);
  assert.equal((await scanAll(f.replica, f.replicaTable)).length, 3);
});

test('several replicas: ReplicaTable plus a Replicas list, in two regions', async () => {
  const f = await fixture();
  const other = dynamoClient(f.endpoint, 'ap-south-1');
  const second = await createTestTable(f.replica);
  const third = await createTestTable(other);
  const cap = await f.capture(4, async (c, t) => {
    await put(c, t, { id: { S: 'p' }, range: { N: '1' } });
    await put(c, t, { id: { S: 'q' }, range: { N: '1' } });
    await setRange(c, t, 'p', 5);
    await del(c, t, { id: { S: 'q' } });
  });
  const { handle, logged } = handler(f, {
    Replicas: JSON.stringify([
      { table: second, region: REPLICA_REGION, endpoint: f.endpoint },
      { table: third, region: 'ap-south-1', endpoint: f.endpoint },
    ]),
  });
  await handle(toLambdaEvent(cap));
  await assertReplicaEqualsSource(f);
  await assertReplicaEqualsSource(f, f.replica, second);
  await assertReplicaEqualsSource(f, other, third);
  assert.deepEqual(await scanAll(other, third), [{ id: { S: 'p' }, range: { N: '5' } }]);
  const ready = logged.lines.find((l) => l.message === 'replicas ready');
  assert.equal((ready?.replicas as string[]).length, 3);
});

async function transformModule(source: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'replicate-transform-'));
  const file = path.join(dir, 'transform.mjs');
  await writeFile(file, source);
  return file;
}

test('a transform that drops items and one that rewrites them', async () => {
  const f = await fixture();
  const cap = await f.capture(4, async (c, t) => {
    await put(c, t, { id: { S: 'keep-1' }, range: { N: '1' }, secret: { S: 'hunter2' } });
    await put(c, t, { id: { S: 'skip-1' }, range: { N: '1' } });
    await put(c, t, { id: { S: 'keep-2' }, range: { N: '2' }, secret: { S: 'hunter3' } });
    await del(c, t, { id: { S: 'skip-1' } });
  });
  const dropper = await transformModule(
    `export function transform(change) { return change.keys.id.S.startsWith('skip-') ? null : change; }\n`,
  );
  const dropped = handler(f, { TransformModule: dropper });
  await dropped.handle(toLambdaEvent(cap));
  assert.deepEqual(
    (await scanAll(f.replica, f.replicaTable)).map((i) => i.id?.S),
    ['keep-1', 'keep-2'],
  );
  const line = dropped.logged.lines.find((l) => l.message === 'batch applied');
  assert.deepEqual([line?.applied, line?.skipped], [2, 2]);

  const g = await fixture();
  const cap2 = await g.capture(2, async (c, t) => {
    await put(c, t, { id: { S: 'keep-1' }, range: { N: '1' }, secret: { S: 'hunter2' } });
    await put(c, t, { id: { S: 'keep-2' }, range: { N: '2' }, secret: { S: 'hunter3' } });
  });
  // Async, removes an attribute and adds one; relative to the base directory (LAMBDA_TASK_ROOT).
  const rewriter = await transformModule(
    `export async function transform(change) {
       if (!change.newImage) return change;
       const { secret, ...rest } = change.newImage;
       return { ...change, newImage: { ...rest, replicated: { BOOL: true }, secretLength: { N: String(secret.S.length) } } };
     }\n`,
  );
  await handler(g, {
    TransformModule: path.basename(rewriter),
    LAMBDA_TASK_ROOT: path.dirname(rewriter),
  }).handle(toLambdaEvent(cap2));
  assert.deepEqual(await scanAll(g.replica, g.replicaTable), [
    { id: { S: 'keep-1' }, range: { N: '1' }, replicated: { BOOL: true }, secretLength: { N: '7' } },
    { id: { S: 'keep-2' }, range: { N: '2' }, replicated: { BOOL: true }, secretLength: { N: '7' } },
  ]);
});

test('a transform result over 400 KB is rejected; an invalid one fails its key only', async () => {
  const f = await fixture();
  const cap = await f.capture(3, async (c, t) => {
    await put(c, t, { id: { S: 'ok' }, range: { N: '1' } });
    await put(c, t, { id: { S: 'huge' }, range: { N: '1' } });
    await put(c, t, { id: { S: 'bad' }, range: { N: '1' } });
  });
  const module = await transformModule(
    `export function transform(change) {
       const id = change.keys.id.S;
       if (id === 'huge') return { ...change, newImage: { ...change.newImage, blob: { S: 'x'.repeat(420000) } } };
       if (id === 'bad') return { ...change, newImage: { ...change.newImage, n: { N: 'twelve' } } };
       return change;
     }\n`,
  );
  const event = toLambdaEvent(cap);
  const { handle, logged } = handler(f, { TransformModule: module });
  // 'huge' can never be written: it is rejected and not delivered again; 'bad' (the transform's
  // own error) fails its key, so Lambda re-delivers from its record.
  assert.deepEqual(await handle(event), {
    batchItemFailures: [{ itemIdentifier: event.Records[2]?.dynamodb?.SequenceNumber as string }],
  });
  assert.deepEqual(
    (await scanAll(f.replica, f.replicaTable)).map((i) => i.id?.S),
    ['ok'],
  );
  const failed = logged.lines.find((l) => l.message === 'keys failed')?.failed as {
    key: string;
    error: string;
  }[];
  assert.deepEqual(
    failed.map((x) => x.key),
    ['{"id":{"S":"bad"}}'],
  );
  assert.match(failed[0]?.error ?? '', /transform failed: .*item\.n: /);
  assert.deepEqual(logged.lines.find((l) => l.message === 'records rejected')?.rejectedRecords, [
    {
      key: '{"id":{"S":"huge"}}',
      sequenceNumber: event.Records[1]?.dynamodb?.SequenceNumber,
      error: 'item {"id":{"S":"huge"}} is 420017 bytes, over DynamoDB\'s limit of 409600 bytes (400 KB)',
    },
  ]);
});

test('a transform that throws fails that key from its first record; an item DynamoDB refuses fails only its key', async () => {
  const f = await fixture();
  // A replica with an index on g (S): DynamoDB refuses an item whose g is a number, a rule of the
  // replica's own schema that no item-limit check before sending can know.
  const replicaTable = uniqueName('indexed');
  await f.replica.send(
    new CreateTableCommand({
      TableName: replicaTable,
      AttributeDefinitions: [
        { AttributeName: 'id', AttributeType: 'S' },
        { AttributeName: 'g', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'by-g',
          KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  const indexed = { ...f, replicaTable };
  const cap = await f.capture(5, async (c, t) => {
    await put(c, t, { id: { S: 'k' }, range: { N: '1' } }); // record 0: first record of k
    await put(c, t, { id: { S: 'fine' }, range: { N: '1' } });
    await setRange(c, t, 'k', 2); // record 2: the transform throws here
    await put(c, t, { id: { S: 'refused' }, range: { N: '1' } });
    await put(c, t, { id: { S: 'fine-too' }, range: { N: '1' } });
  });
  // The engine writes the refused request's keys one by one to fail only the culprit.
  const module = await transformModule(
    `export function transform(change) {
       const id = change.keys.id.S;
       if (id === 'k' && change.newImage.range.N === '2') throw new Error('cannot handle range 2');
       if (id === 'refused') return { ...change, newImage: { ...change.newImage, g: { N: '1' } } };
       return change;
     }\n`,
  );
  const event = toLambdaEvent(cap);
  const { handle, logged } = handler(indexed, { TransformModule: module });
  assert.deepEqual(await handle(event), {
    batchItemFailures: [{ itemIdentifier: event.Records[0]?.dynamodb?.SequenceNumber as string }],
  });
  assert.deepEqual((await scanAll(f.replica, replicaTable)).map((i) => i.id?.S).sort(), ['fine', 'fine-too']);
  const failed = logged.lines.find((l) => l.message === 'keys failed')?.failed as {
    key: string;
    firstSequenceNumber: string;
    error: string;
  }[];
  assert.deepEqual(failed.map((x) => [x.key, x.firstSequenceNumber]).sort(), [
    ['{"id":{"S":"k"}}', event.Records[0]?.dynamodb?.SequenceNumber],
    ['{"id":{"S":"refused"}}', event.Records[3]?.dynamodb?.SequenceNumber],
  ]);
  assert.match(
    failed.find((x) => x.key.includes('"k"'))?.error ?? '',
    /transform failed: cannot handle range 2/,
  );
  assert.match(
    failed.find((x) => x.key.includes('refused'))?.error ?? '',
    /ValidationException|[Tt]ype mismatch/,
  );
});

test('a transform module without a transform function is a clear error', async () => {
  const f = await fixture();
  const cap = await f.capture(1, (c, t) =>
    put(c, t, { id: { S: 'a' }, range: { N: '1' } }).then(() => undefined),
  );
  const module = await transformModule('export const transform = 42;\n');
  await assert.rejects(
    handler(f, { TransformModule: module }).handle(toLambdaEvent(cap)),
    (e: unknown) =>
      e instanceof UsageError &&
      /TransformModule: .* must export a function named "transform"/.test(e.message),
  );
  await assert.rejects(
    handler(f, { TransformModule: '/nonexistent/transform.mjs' }).handle(toLambdaEvent(cap)),
    (e: unknown) =>
      e instanceof NotFoundError &&
      /TransformModule: no module at \/nonexistent\/transform\.mjs/.test(e.message),
  );
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), []);
});

test('the cut-over filter on both sides of TurnoverAt, with fractional and missing creation times', async () => {
  const f = await fixture();
  const second = await createTestTable(f.replica);
  const cap = await f.capture(5, async (c, t) => {
    for (const id of ['early', 'just-before', 'at', 'later', 'undated'])
      await put(c, t, { id: { S: id }, range: { N: '1' } });
  });
  const at = 1_700_000_000_000;
  const event = toLambdaEvent(cap);
  const times = [at / 1000 - 60, at / 1000 - 0.0005, at / 1000, at / 1000 + 0.25, undefined];
  event.Records.forEach((r, i) => {
    const ddb = r.dynamodb as NonNullable<typeof r.dynamodb>;
    if (times[i] === undefined) delete ddb.ApproximateCreationDateTime;
    else ddb.ApproximateCreationDateTime = times[i];
  });
  const before = handler(f, { TurnoverRole: 'BEFORE', TurnoverAt: String(at) });
  const after = handler(f, { ReplicaTable: second, TurnoverRole: 'AFTER', TurnoverAt: String(at) });
  assert.deepEqual(await before.handle(event), { batchItemFailures: [] });
  assert.deepEqual(await after.handle(event), { batchItemFailures: [] });
  assert.deepEqual(
    (await scanAll(f.replica, f.replicaTable)).map((i) => i.id?.S),
    ['early', 'just-before'],
  );
  assert.deepEqual(
    (await scanAll(f.replica, second)).map((i) => i.id?.S),
    ['at', 'later', 'undated'],
  );
  const line = before.logged.lines.find((l) => l.message === 'batch applied');
  assert.deepEqual([line?.applied, line?.skipped], [2, 3]);
});

test('an empty batch succeeds without touching anything', async () => {
  const f = await fixture();
  const { handle } = handler(f, { ReplicaTable: uniqueName('never-created') });
  assert.deepEqual(await handle({ Records: [] }), { batchItemFailures: [] });
});

test('bad input: malformed event -> InvalidDataError, nothing written', async () => {
  const f = await fixture();
  const cap = await f.capture(2, async (c, t) => {
    await put(c, t, { id: { S: 'a' }, range: { N: '1' } });
    await put(c, t, { id: { S: 'b' }, range: { N: '1' } });
  });
  const event = toLambdaEvent(cap);
  const broken = structuredClone(event);
  (broken.Records[1]?.dynamodb?.NewImage as Record<string, unknown>).range = { N: 1 };
  const { handle, logged } = handler(f);
  await assert.rejects(
    handle(broken, CONTEXT),
    (e: unknown) =>
      e instanceof InvalidDataError &&
      /stream record 1 .*dynamodb\.NewImage: item\.range: N must be a string/.test(e.message),
  );
  await assert.rejects(handle({ records: [] }), /not a DynamoDB stream event/);
  await assert.rejects(handle('{}'), InvalidDataError);
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), []);
  const refused = logged.lines.find((l) => l.message === 'batch refused');
  assert.equal(refused?.correlationId, 'req-1');
  assert.equal((refused?.error as { name: string }).name, 'InvalidDataError');
});

test('records DynamoDB would refuse are rejected: logged with key and sequence number, counted, not retried; the rest applies', async () => {
  const f = await fixture();
  const cap = await f.capture(6, async (c, t) => {
    for (const id of ['ok', 'deep', 'very-deep', 'named', 'ok-too', 'empty-key'])
      await put(c, t, { id: { S: id }, range: { N: '1' } });
  });
  const event = toLambdaEvent(cap);
  const nest = (levels: number): unknown => {
    let v: unknown = { S: 'leaf' };
    for (let i = 0; i < levels; i++) v = { M: { a: v } };
    return v;
  };
  const image = (i: number) => event.Records[i]?.dynamodb?.NewImage as Record<string, unknown>;
  image(1).deep = nest(32); // 33 levels, counting the item
  image(2).deep = nest(20_000); // rejected while reading the event, before the recursive parser
  image(3)[''] = { S: 'empty name' };
  // Reading the event checks nesting and names; key values are checked with the key schema, when planned.
  image(5).id = { S: '' };
  (event.Records[5]?.dynamodb as { Keys: unknown }).Keys = { id: { S: '' } };
  const { handle, logged } = handler(f);
  assert.deepEqual(await handle(event, CONTEXT), { batchItemFailures: [] });
  assert.deepEqual((await scanAll(f.replica, f.replicaTable)).map((i) => i.id?.S).sort(), ['ok', 'ok-too']);
  const seq = (i: number) => event.Records[i]?.dynamodb?.SequenceNumber;
  const rejected = logged.lines.find((l) => l.message === 'records rejected');
  assert.equal(rejected?.level, 'error');
  assert.equal(rejected?.rejected, 4);
  const eventId = (i: number) => event.Records[i]?.eventID as string;
  assert.deepEqual(rejected?.rejectedRecords, [
    {
      key: '{"id":{"S":"deep"}}',
      sequenceNumber: seq(1),
      error: `stream record 1 (eventID ${eventId(1)}): dynamodb.NewImage: attribute "deep" nests deeper than DynamoDB's limit of 32 levels`,
    },
    {
      key: '{"id":{"S":"very-deep"}}',
      sequenceNumber: seq(2),
      error: `stream record 2 (eventID ${eventId(2)}): dynamodb.NewImage: attribute "deep" nests deeper than DynamoDB's limit of 32 levels`,
    },
    {
      key: '{"id":{"S":"named"}}',
      sequenceNumber: seq(3),
      error: `stream record 3 (eventID ${eventId(3)}): dynamodb.NewImage: an attribute name is empty`,
    },
    {
      key: '{"id":{"S":""}}',
      sequenceNumber: seq(5),
      error: 'item {"id":{"S":""}}: partition key attribute "id" is empty',
    },
  ]);
  assert.equal(rejected?.records, 6);
  assert.equal(rejected?.applied, 2);
  const emf = JSON.parse(logged.metrics[0] as string) as Record<string, unknown>;
  assert.deepEqual(
    [emf.RecordsReceived, emf.ChangesApplied, emf.FailedRecords, emf.RejectedRecords],
    [6, 2, 0, 4],
  );
  // Delivered again (a retry of an unrelated failure), the batch converges to the same state.
  assert.deepEqual(await handle(event, CONTEXT), { batchItemFailures: [] });
  assert.equal((await scanAll(f.replica, f.replicaTable)).length, 2);
});

test('a batch mixing two streams, or whose sequence numbers do not increase, is refused before anything is written', async () => {
  const f = await fixture();
  const cap = await f.capture(3, async (c, t) => {
    for (const id of ['a', 'b', 'c']) await put(c, t, { id: { S: id }, range: { N: '1' } });
  });
  const event = toLambdaEvent(cap);
  const { handle } = handler(f);
  const other = `${cap.streamArn.slice(0, cap.streamArn.lastIndexOf('/stream/'))}-other/stream/2026-01-01T00:00:00.000`;
  const mixed = structuredClone(event);
  (mixed.Records[2] as { eventSourceARN: string }).eventSourceARN = other;
  await assert.rejects(handle(mixed), {
    name: 'InvalidDataError',
    message: `the event mixes 2 event sources (${cap.streamArn}, ${other}): a batch must come from one stream`,
  });
  const swapped = structuredClone(event);
  swapped.Records = [event.Records[0], event.Records[2], event.Records[1]] as typeof event.Records;
  await assert.rejects(handle(swapped), {
    name: 'InvalidDataError',
    message: `stream record 2 has sequence number ${event.Records[1]?.dynamodb?.SequenceNumber}, not after record 1's ${event.Records[2]?.dynamodb?.SequenceNumber}: a batch's records must be in stream order`,
  });
  const repeated = structuredClone(event);
  repeated.Records = [event.Records[0], event.Records[0]] as typeof event.Records;
  await assert.rejects(handle(repeated), /stream record 1 has sequence number \d+, not after record 0's/);
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), []);
  assert.deepEqual(await handle(event), { batchItemFailures: [] });
  assert.equal((await scanAll(f.replica, f.replicaTable)).length, 3);
});

test('bad input: KEYS_ONLY stream without read-through -> clear error, nothing written', async () => {
  const f = await fixture({ stream: 'KEYS_ONLY' });
  const cap = await f.capture(1, (c, t) =>
    put(c, t, { id: { S: 'a' }, range: { N: '1' } }).then(() => undefined),
  );
  await assert.rejects(
    handler(f).handle(toLambdaEvent(cap)),
    (e: unknown) =>
      e instanceof UsageError && /no new image \(stream view type KEYS_ONLY\).*ReadThrough/.test(e.message),
  );
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), []);
});

test('KEYS_ONLY stream with read-through: the current item is read from the source', async () => {
  const f = await fixture({ stream: 'KEYS_ONLY' });
  await put(f.replica, f.replicaTable, { id: { S: 'gone' }, range: { N: '0' } });
  const cap = await f.capture(5, async (c, t) => {
    await put(c, t, {
      id: { S: 'a' },
      range: { N: '1' },
      big: { N: '12345678901234567890123456789012345678' },
    });
    await put(c, t, { id: { S: 'gone' }, range: { N: '1' } });
    await setRange(c, t, 'a', 2);
    await put(c, t, { id: { S: 'deleted-later' }, range: { N: '1' } });
    await del(c, t, { id: { S: 'gone' } });
  });
  // The item is deleted after its record was captured: read-through finds nothing and deletes it.
  await del(f.source, f.sourceTable, { id: { S: 'deleted-later' } });
  const { handle } = handler(f, { ReadThrough: `${f.endpoint}?region=${SOURCE_REGION}` });
  assert.deepEqual(await handle(toLambdaEvent(cap)), { batchItemFailures: [] });
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), [
    { id: { S: 'a' }, range: { N: '2' }, big: { N: '12345678901234567890123456789012345678' } },
  ]);
});

test('bad input: replica with a different key schema -> KeySchemaMismatchError, nothing written', async () => {
  const f = await fixture({}, { hash: { name: 'pk', type: 'S' } });
  const cap = await f.capture(1, (c, t) =>
    put(c, t, { id: { S: 'a' }, range: { N: '1' } }).then(() => undefined),
  );
  await assert.rejects(
    handler(f).handle(toLambdaEvent(cap)),
    (e: unknown) =>
      e instanceof KeySchemaMismatchError && /does not fit the key schema pk \(S, hash\)/.test(e.message),
  );
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), []);

  // Two replicas whose schemas differ from each other are refused at start.
  const g = await fixture();
  const odd = await createTestTable(g.replica, { hash: { name: 'id', type: 'N' } });
  const cap2 = await g.capture(1, (c, t) =>
    put(c, t, { id: { S: 'a' }, range: { N: '1' } }).then(() => undefined),
  );
  await assert.rejects(
    handler(g, {
      Replicas: JSON.stringify([{ table: odd, region: REPLICA_REGION, endpoint: g.endpoint }]),
    }).handle(toLambdaEvent(cap2)),
    (e: unknown) => e instanceof KeySchemaMismatchError && e.message.includes(odd),
  );
  assert.deepEqual(await scanAll(g.replica, g.replicaTable), []);
});

test('bad input: missing replica table -> NotFoundError naming it', async () => {
  const f = await fixture();
  const missing = uniqueName('missing');
  const cap = await f.capture(1, (c, t) =>
    put(c, t, { id: { S: 'a' }, range: { N: '1' } }).then(() => undefined),
  );
  await assert.rejects(
    handler(f, { ReplicaTable: missing }).handle(toLambdaEvent(cap)),
    (e: unknown) => e instanceof NotFoundError && e.message.includes(missing),
  );
});

test('bad config: the variable is named', () => {
  assert.throws(
    () => readReplicateConfig({}),
    (e: unknown) => e instanceof ConfigError && /^ReplicaTable is not set/.test(e.message),
  );
});

test('logs carry keys and counts but no item values unless debug', async () => {
  const f = await fixture();
  const cap = await f.capture(1, (c, t) =>
    put(c, t, { id: { S: 'k1' }, range: { N: '1' }, secret: { S: 'top-secret-value' } }).then(
      () => undefined,
    ),
  );
  const info = handler(f);
  await info.handle(toLambdaEvent(cap), CONTEXT);
  assert.ok(!info.logged.text().includes('top-secret-value'));
  for (const line of info.logged.lines) assert.equal(typeof line.time, 'string');
  const debug = handler(f, { LogLevel: 'debug' });
  await debug.handle(toLambdaEvent(cap), CONTEXT);
  assert.ok(debug.logged.text().includes('top-secret-value'));
});

test('the packaged entry point `replicate` reads process.env once', async () => {
  const f = await fixture();
  const cap = await f.capture(1, (c, t) =>
    put(c, t, { id: { S: 'env' }, range: { N: '7' } }).then(() => undefined),
  );
  const { replicate } = await import('../../src/lambda/index.js');
  Object.assign(process.env, env(f, { LogLevel: 'error' }));
  try {
    assert.deepEqual(await replicate(toLambdaEvent(cap), CONTEXT), { batchItemFailures: [] });
    // Changing the environment afterwards changes nothing: the config was read at the first call.
    process.env.ReplicaTable = uniqueName('elsewhere');
    assert.deepEqual(await replicate(toLambdaEvent(cap), CONTEXT), { batchItemFailures: [] });
  } finally {
    for (const name of Object.keys(env(f))) delete process.env[name];
    delete process.env.LogLevel;
  }
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), [{ id: { S: 'env' }, range: { N: '7' } }]);
});
