// replicateGroup on three DynamoDB Local processes (three "regions", no shared database): each case
// of docs/multi-active.md's rules, written by applications that know nothing of the group, ends the
// same on every member, and each provoked conflict is logged once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { FileCheckpointStore } from '../../src/replicate/checkpoint.js';
import { readConflicts } from '../../src/replicate/group-conflicts.js';
import { DEFAULT_GROUP_METADATA, isTombstone } from '../../src/replicate/group-stamp.js';
import { replicateGroup, type GroupMember } from '../../src/replicate/replicate-group.js';
import { FileObjectStore } from '../../src/storage/fs-store.js';
import { createTestTable, dynamoClient, privateDynamo, streamsClient } from '../harness/dynamodb.js';
import type { Item } from '../../src/core/types.js';

const NAMES = DEFAULT_GROUP_METADATA;

async function group(): Promise<{ members: GroupMember[]; dir: string }> {
  const regions = ['us-east-1', 'eu-west-1', 'ap-southeast-2'];
  const servers = await Promise.all(regions.map(() => privateDynamo()));
  const members: GroupMember[] = [];
  for (const [i, server] of servers.entries()) {
    const region = regions[i] as string;
    const client = dynamoClient(server.endpoint, region);
    const table = await createTestTable(client, { name: 'users', stream: 'NEW_AND_OLD_IMAGES' });
    members.push({
      id: ['us', 'eu', 'ap'][i] as string,
      client,
      streams: streamsClient(server.endpoint, region),
      table,
    });
  }
  return { members, dir: await mkdtemp(path.join(tmpdir(), 'multi-active-')) };
}

async function run(members: GroupMember[], dir: string) {
  return replicateGroup({
    members,
    checkpoint: (s, t) => new FileCheckpointStore(path.join(dir, `${s.id}-to-${t.id}.checkpoint.json`)),
    conflictLog: new FileObjectStore(path.join(dir, 'conflicts')),
    stopWhenIdleMs: 1_500,
    polling: { idleDelayMs: { min: 10, max: 100 } },
  });
}

async function get(client: DynamoDBClient, id: string): Promise<Item | undefined> {
  const out = await client.send(
    new GetItemCommand({ TableName: 'users', Key: { id: { S: id } }, ConsistentRead: true }),
  );
  return out.Item as Item | undefined;
}

/** What applications see on a member: the data, or undefined for absent and tombstoned items. */
async function view(client: DynamoDBClient, id: string): Promise<Item | undefined> {
  const item = await get(client, id);
  if (!item || isTombstone(item, NAMES)) return undefined;
  const { [NAMES.stamp]: _s, ...data } = item;
  return data;
}

test('local puts, updates, put-backs and deletes reach every member; concurrent writes are one conflict each', async () => {
  const { members, dir } = await group();
  const [us, eu, ap] = members.map((m) => m.client) as [DynamoDBClient, DynamoDBClient, DynamoDBClient];
  const put = (c: DynamoDBClient, item: Item) =>
    c.send(new PutItemCommand({ TableName: 'users', Item: item }));
  await put(us, { id: { S: 'a' }, name: { S: 'from us' } });
  await put(eu, { id: { S: 'b' }, name: { S: 'from eu' } });
  await put(ap, { id: { S: 'c' }, name: { S: 'from ap' } });
  let summary = await run(members, dir);
  assert.equal(summary.reason, 'idle');
  for (const c of [us, eu, ap]) {
    assert.deepEqual(await view(c, 'a'), { id: { S: 'a' }, name: { S: 'from us' } });
    assert.deepEqual(await view(c, 'c'), { id: { S: 'c' }, name: { S: 'from ap' } });
  }
  // UpdateItem on eu of an item that came from us (the stamp stays, stale); DeleteItem on ap.
  await eu.send(
    new UpdateItemCommand({
      TableName: 'users',
      Key: { id: { S: 'a' } },
      UpdateExpression: 'SET age = :a',
      ExpressionAttributeValues: { ':a': { N: '42' } },
    }),
  );
  await ap.send(new DeleteItemCommand({ TableName: 'users', Key: { id: { S: 'b' } } }));
  // A PutItem on us of item c as read earlier (stamped by ap's write), changed.
  const copy = (await get(us, 'c')) as Item;
  await put(us, { ...copy, name: { S: 'changed on us' } });
  // Concurrent: all three write key d before any replication runs.
  for (const [i, c] of [us, eu, ap].entries()) await put(c, { id: { S: 'd' }, n: { N: String(i) } });
  summary = await run(members, dir);
  const expectations: [string, Item | undefined][] = [
    ['a', { id: { S: 'a' }, name: { S: 'from us' }, age: { N: '42' } }],
    ['b', undefined],
    ['c', { id: { S: 'c' }, name: { S: 'changed on us' } }],
  ];
  for (const c of [us, eu, ap])
    for (const [id, want] of expectations) assert.deepEqual(await view(c, id), want, id);
  const d = await Promise.all([us, eu, ap].map((c) => view(c, 'd')));
  assert.deepEqual(d[1], d[0]);
  assert.deepEqual(d[2], d[0]);
  const conflicts = await readConflicts(new FileObjectStore(path.join(dir, 'conflicts')));
  assert.equal(conflicts.length, 2, JSON.stringify(conflicts));
  assert.ok(conflicts.every((c) => c.key === '{"id":{"S":"d"}}'));
  // The deleted item is a tombstone on the members it was sent to, and gone at its origin.
  assert.equal(await get(ap, 'b'), undefined);
  assert.ok(isTombstone(await get(us, 'b'), NAMES));
});
