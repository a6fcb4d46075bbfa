/**
 * The `replicate` handler in group mode against two DynamoDB Local processes (two "regions", no
 * shared database), fed records captured from the members' real streams in Lambda's event shape.
 * Each "container" is one handler object: a new one is a cold start and must read its memory from
 * the stream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { createGroupReplicateHandler } from '../../src/lambda/group.js';
import { readGroupReplicateConfig } from '../../src/lambda/group-config.js';
import { createLogger } from '../../src/lambda/log.js';
import { BatchFailedError } from '../../src/lambda/batch-response.js';
import { readConflicts } from '../../src/replicate/group-conflicts.js';
import { DEFAULT_GROUP_METADATA, isTombstone, stampOf } from '../../src/replicate/group-stamp.js';
import { FileObjectStore } from '../../src/storage/fs-store.js';
import { createTestTable, dynamoClient, privateDynamo, streamsClient } from '../harness/dynamodb.js';
import { captureChanges, readStream, toLambdaEvent } from '../harness/stream-capture.js';
import type { LambdaStreamEvent } from '../../src/core/change-sources.js';
import type { Item } from '../../src/core/types.js';
import type { ReplicateHandler } from '../../src/lambda/replicate.js';

const NAMES = DEFAULT_GROUP_METADATA;

interface Member {
  readonly id: string;
  readonly client: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
  readonly table: string;
}

interface Group {
  readonly us: Member;
  readonly eu: Member;
  readonly conflicts: FileObjectStore;
  /** Every log line the handlers wrote, parsed. */
  readonly lines: Record<string, unknown>[];
  /** A new container of `self`'s function. */
  container(self: Member): ReplicateHandler;
  /** Runs `act` on `m` and returns the Lambda event of the `count` records it made. */
  capture(m: Member, count: number, act: () => Promise<unknown>): Promise<unknown>;
  /** The Lambda event of every record in `m`'s stream (at least `count`). */
  all(m: Member, count: number): Promise<LambdaStreamEvent>;
}

async function group(): Promise<Group> {
  const [usServer, euServer] = await Promise.all([privateDynamo(), privateDynamo()]);
  const member = async (id: string, endpoint: string, region: string): Promise<Member> => {
    const client = dynamoClient(endpoint, region);
    const table = await createTestTable(client, { name: 'users', stream: 'NEW_AND_OLD_IMAGES' });
    return { id, client, streams: streamsClient(endpoint, region), table };
  };
  const us = await member('us', usServer.endpoint, 'us-east-1');
  const eu = await member('eu', euServer.endpoint, 'eu-west-1');
  const dir = await mkdtemp(path.join(tmpdir(), 'lambda-group-'));
  const conflicts = new FileObjectStore(path.join(dir, 'conflicts'));
  const lines: Record<string, unknown>[] = [];
  const endpoints = new Map([
    [us, usServer.endpoint],
    [eu, euServer.endpoint],
  ]);
  const container = (self: Member): ReplicateHandler => {
    const other = self === us ? eu : us;
    const config = readGroupReplicateConfig({
      GroupMemberId: self.id,
      GroupMembers: JSON.stringify([
        { id: other.id, table: other.table, endpoint: endpoints.get(other), region: 'eu-west-1' },
      ]),
      GroupConflictLog: path.join(dir, 'conflicts'),
    });
    return createGroupReplicateHandler(config, {
      selfClient: () => self.client,
      streamsClient: () => self.streams,
      memberClient: () => other.client,
      conflictStore: conflicts,
      logger: createLogger({ write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) }),
      metrics: () => {},
    });
  };
  const capture = async (m: Member, count: number, act: () => Promise<unknown>): Promise<unknown> => {
    const c = await captureChanges(m.client, m.streams, m.table, count, async () => {
      await act();
    });
    return toLambdaEvent(c);
  };
  const all = async (m: Member, count: number) =>
    toLambdaEvent(await readStream(m.client, m.streams, m.table, count));
  return { us, eu, conflicts, lines, container, capture, all };
}

const put = (m: Member, item: Item) => m.client.send(new PutItemCommand({ TableName: m.table, Item: item }));

async function get(m: Member, id: string): Promise<Item | undefined> {
  const out = await m.client.send(
    new GetItemCommand({ TableName: m.table, Key: { id: { S: id } }, ConsistentRead: true }),
  );
  return out.Item as Item | undefined;
}

function withoutStamp(item: Item | undefined): Item | undefined {
  if (!item) return undefined;
  const { [NAMES.stamp]: _s, ...data } = item;
  return data;
}

const applied = (lines: Record<string, unknown>[]) => lines.filter((l) => l.message === 'batch applied');

test('local puts, updates and deletes reach the other member stamped; its function sends nothing back', async () => {
  const g = await group();
  const event = await g.capture(g.us, 4, async () => {
    await put(g.us, { id: { S: 'a' }, name: { S: 'Ada' } });
    await put(g.us, { id: { S: 'b' }, name: { S: 'Bo' } });
    await g.us.client.send(
      new UpdateItemCommand({
        TableName: g.us.table,
        Key: { id: { S: 'a' } },
        UpdateExpression: 'SET age = :a',
        ExpressionAttributeValues: { ':a': { N: '42' } },
      }),
    );
    await g.us.client.send(new DeleteItemCommand({ TableName: g.us.table, Key: { id: { S: 'b' } } }));
  });
  assert.deepEqual(await g.container(g.us)(event), { batchItemFailures: [] });
  const a = await get(g.eu, 'a');
  assert.deepEqual(withoutStamp(a), { id: { S: 'a' }, name: { S: 'Ada' }, age: { N: '42' } });
  assert.match(stampOf(a, NAMES)?.version ?? '', /^\d{13}\.us$/);
  assert.ok(isTombstone(await get(g.eu, 'b'), NAMES));
  // eu's stream holds the two arrivals: eu's function decides them and writes nothing to us.
  const back = await g.all(g.eu, 2);
  assert.equal(back.Records.length, 2);
  assert.deepEqual(await g.container(g.eu)(back), { batchItemFailures: [] });
  const usItems = await g.us.client.send(new ScanCommand({ TableName: g.us.table }));
  assert.deepEqual(usItems.Items, [{ id: { S: 'a' }, name: { S: 'Ada' }, age: { N: '42' } }]);
  const [usBatch, euBatch] = applied(g.lines);
  assert.equal(usBatch?.sent, 2);
  assert.equal(euBatch?.sent, 0);
  assert.equal(euBatch?.conflicts, 0);
  assert.deepEqual((await readConflicts(g.conflicts)).length, 0);
});

test('a concurrent write ends the same on both members, is logged once, and a cold container repairs from the memory it reads from the stream', async () => {
  const g = await group();
  // eu writes d first, then us: us's version is at least as late and wins the tie by member id.
  const euEvent = await g.capture(g.eu, 1, () => put(g.eu, { id: { S: 'd' }, n: { N: '1' } }));
  const usEvent = await g.capture(g.us, 1, () => put(g.us, { id: { S: 'd' }, n: { N: '2' } }));
  assert.deepEqual(await g.container(g.us)(usEvent), { batchItemFailures: [] });
  assert.deepEqual(await g.container(g.eu)(euEvent), { batchItemFailures: [] });
  // eu's version reached us and overwrote us's own (unstamped, so the condition let it through).
  assert.deepEqual(withoutStamp(await get(g.us, 'd')), { id: { S: 'd' }, n: { N: '1' } });
  // us's stream now has the arrival; a new container of us's function decides it.
  const records = (await g.all(g.us, 2)).Records;
  assert.equal(records.length, 2);
  const next = { Records: records.slice(1) };
  assert.deepEqual(await g.container(g.us)(next), { batchItemFailures: [] });
  const usItem = await get(g.us, 'd');
  const euItem = await get(g.eu, 'd');
  assert.deepEqual(withoutStamp(usItem), { id: { S: 'd' }, n: { N: '2' } });
  assert.deepEqual(usItem, euItem);
  const repairBatch = applied(g.lines).at(-1);
  const memory = repairBatch?.memory as { kind: string; records: number; shards: number };
  assert.deepEqual([memory.kind, memory.records, memory.shards], ['rebuilt', 1, 1]);
  assert.equal(repairBatch?.repairs, 1);
  const conflicts = await readConflicts(g.conflicts);
  assert.equal(conflicts.length, 1, JSON.stringify(conflicts));
  assert.equal(conflicts[0]?.key, '{"id":{"S":"d"}}');
  assert.equal(conflicts[0]?.winner, stampOf(usItem, NAMES)?.version);
  assert.match(conflicts[0]?.loser ?? '', /\.eu$/);
});

test('a container keeps its memory while it saw the batch before, and reads it again after another container took one', async () => {
  const g = await group();
  const batch = (id: string) => g.capture(g.us, 1, () => put(g.us, { id: { S: id }, v: { N: '1' } }));
  const a = g.container(g.us);
  const b = g.container(g.us);
  for (const [handler, id] of [
    [a, 'k1'],
    [a, 'k2'],
    [b, 'k3'],
    [a, 'k4'],
    [a, 'k5'],
  ] as const)
    assert.deepEqual(await handler(await batch(id)), { batchItemFailures: [] });
  const memory = applied(g.lines).map((l) => {
    const m = l.memory as { kind: string; records?: number };
    return m.kind === 'rebuilt' ? `rebuilt ${m.records}` : m.kind;
  });
  assert.deepEqual(memory, ['rebuilt 0', 'kept', 'rebuilt 2', 'rebuilt 3', 'kept']);
  const eu = await g.eu.client.send(new ScanCommand({ TableName: g.eu.table }));
  assert.equal(eu.Items?.length, 5);
});

test('a record the other member refuses (too large once stamped) is reported as the batch failure; the records before it count as done', async () => {
  const g = await group();
  // 400 KB with the key and attribute name: fits as written, not with the stamp added.
  const big = 'x'.repeat(400 * 1024 - 'id'.length - 'big'.length - 'p'.length);
  const event = (await g.capture(g.us, 3, async () => {
    await put(g.us, { id: { S: 'first' }, v: { N: '1' } });
    await put(g.us, { id: { S: 'big' }, p: { S: big } });
    await put(g.us, { id: { S: 'last' }, v: { N: '1' } });
  })) as { Records: { dynamodb: { SequenceNumber: string } }[] };
  const container = g.container(g.us);
  const failure = { batchItemFailures: [{ itemIdentifier: event.Records[1]?.dynamodb.SequenceNumber }] };
  assert.deepEqual(await container(event), failure);
  assert.deepEqual(withoutStamp(await get(g.eu, 'first')), { id: { S: 'first' }, v: { N: '1' } });
  assert.equal(await get(g.eu, 'big'), undefined);
  // Lambda delivers again from the failed record: the container reads its memory again (the
  // directions may have got further than the checkpoint), up to that record. Nothing of this batch
  // can be applied, so the handler throws (Lambda retries it) as in one-way mode.
  await assert.rejects(container({ Records: event.Records.slice(1) }), BatchFailedError);
  const memory = g.lines.filter((l) => l.message === 'keys failed').map((l) => l.memory);
  assert.deepEqual(
    memory.map((m) => [(m as { kind: string }).kind, (m as { records: number }).records]),
    [
      ['rebuilt', 0],
      ['rebuilt', 1],
    ],
  );
});
