import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PutItemCommand, DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { changeFromSdkRecord } from '../../src/core/change-sources.js';
import type { Change } from '../../src/core/change.js';
import { InvalidDataError } from '../../src/core/errors.js';
import { readChanges, writeChangeBatch, type LoggedChange } from '../../src/backup/change-log.js';
import { recordHistory } from '../../src/backup/history.js';
import { latestChangePerKey } from '../../src/backup/point-in-time.js';
import { createTestTable, dynamoClient, dynamoEndpoint, streamsClient } from '../harness/dynamodb.js';
import { captureChanges } from '../harness/stream-capture.js';
import { countingStore, listKeys, STORE_BACKENDS } from '../harness/backup-stores.js';
import { listSegments } from '../../src/backup/log-manifest.js';
import type { ObjectStore } from '../../src/storage/object-store.js';

/** Real stream records from DynamoDB Local: `n` versions of key a, one insert of key b, a delete of a. */
async function capture(n: number): Promise<Change[]> {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
  const cap = await captureChanges(client, streamsClient(endpoint), table, n + 2, async () => {
    for (let v = 1; v <= n; v++)
      await client.send(
        new PutItemCommand({ TableName: table, Item: { id: { S: 'a' }, v: { N: String(v) } } }),
      );
    await client.send(new PutItemCommand({ TableName: table, Item: { id: { S: 'b' }, v: { N: '1' } } }));
    await client.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: 'a' } } }));
  });
  return cap.records.map((r, i) => changeFromSdkRecord(r, i, 'shardId-test-0001'));
}

async function all(it: AsyncIterable<LoggedChange>): Promise<LoggedChange[]> {
  const out: LoggedChange[] = [];
  for await (const c of it) out.push(c);
  return out;
}

for (const backend of STORE_BACKENDS) {
  describe(`change log on ${backend.name}`, () => {
    test('every change is kept in order, one PUT per batch; a retried batch overwrites itself', async () => {
      const changes = await capture(5);
      const { store: root } = await backend.root();
      const store = countingStore(root.at('users'));
      const first = await writeChangeBatch(store, changes);
      assert.equal(first.failed.length, 0);
      assert.equal(first.written, 7);
      assert.equal(store.counter.puts, first.objects.length);
      const objects = await listKeys(store);
      // A retry of the very same batch: same names, no new objects.
      await writeChangeBatch(store, changes);
      assert.deepEqual(await listKeys(store), objects);
      const read = await all(readChanges(store));
      assert.deepEqual(
        read.map((c) => [c.eventName, c.keys.id, c.newImage?.v]),
        [
          ['INSERT', { S: 'a' }, { N: '1' }],
          ['MODIFY', { S: 'a' }, { N: '2' }],
          ['MODIFY', { S: 'a' }, { N: '3' }],
          ['MODIFY', { S: 'a' }, { N: '4' }],
          ['MODIFY', { S: 'a' }, { N: '5' }],
          ['INSERT', { S: 'b' }, { N: '1' }],
          ['REMOVE', { S: 'a' }, undefined],
        ],
      );
      assert.deepEqual(read[1]?.oldImage, { id: { S: 'a' }, v: { N: '1' } });
      assert.deepEqual(
        read.map((c) => c.sequenceNumber),
        changes.map((c) => c.sequenceNumber),
      );
    });

    test('a batch re-delivered with a different cut is not duplicated in the history', async () => {
      const changes = await capture(4);
      const { store: root } = await backend.root();
      const store = root.at('t');
      await writeChangeBatch(store, changes.slice(0, 3));
      await writeChangeBatch(store, changes.slice(1)); // re-delivery from record 1 on
      assert.equal((await all(readChanges(store))).length, 3 + 5);
      assert.equal((await all(readChanges(store, {}, { dedupe: true }))).length, 6);
      const history = await recordHistory(store, { id: { S: 'a' } });
      assert.deepEqual(
        history.map((v) => [v.eventName, v.image?.v]),
        [
          ['INSERT', { N: '1' }],
          ['MODIFY', { N: '2' }],
          ['MODIFY', { N: '3' }],
          ['MODIFY', { N: '4' }],
          ['REMOVE', undefined],
        ],
      );
    });

    test('users and users-archive under one prefix never mix', async () => {
      const changes = await capture(1);
      const { store: root } = await backend.root();
      const users = root.at('users');
      const archive = root.at('users-archive');
      await writeChangeBatch(users, changes.slice(0, 1));
      await writeChangeBatch(archive, changes);
      assert.equal((await all(readChanges(users))).length, 1);
      assert.equal((await all(readChanges(archive))).length, 3);
      assert.equal((await recordHistory(users, { id: { S: 'b' } })).length, 0);
    });

    test('a truncated segment is a clear error naming it', async () => {
      const changes = await capture(2);
      const { store: root } = await backend.root();
      const store = root.at('t');
      const { objects } = await writeChangeBatch(store, changes);
      const name = objects[0] as string;
      const bytes = await store.get(name);
      await store.put(name, bytes.subarray(0, bytes.length - 12));
      await assert.rejects(
        latestChangePerKey(store, { from: 0, to: Date.now() + 60_000 }),
        (e: unknown) =>
          e instanceof InvalidDataError && e.message.includes(`${name} is truncated or corrupt`),
      );
    });
  });
}

/** Records the folders a store is asked to list, to show a time range never lists the whole log. */
function listingSpy(inner: ObjectStore, listed: string[]): ObjectStore {
  return {
    ...inner,
    location: inner.location,
    put: (k, b, o) => inner.put(k, b, o),
    get: (k) => inner.get(k),
    getStream: (k) => inner.getStream(k),
    exists: (k) => inner.exists(k),
    delete: (k) => inner.delete(k),
    at: (sub) => listingSpy(inner.at(sub), listed),
    list: (prefix) => {
      listed.push(prefix);
      return inner.list(prefix);
    },
    listFolders: (prefix) => inner.listFolders(prefix),
  };
}

describe('time index', () => {
  test('a time range lists only the folders it overlaps, and finds late uploads by change time', async () => {
    const { store } = await STORE_BACKENDS[0]!.root();
    const hour = (d: number, h: number, m = 0) => Date.UTC(2026, 10, d, h, m);
    const at = (seq: string, t: number): Change => ({
      eventName: 'INSERT',
      keys: { id: { S: seq } },
      newImage: { id: { S: seq } },
      sequenceNumber: seq,
      shardId: 's1',
      approximateCreationTime: t,
    });
    // Written out of time order, as a late retry would be.
    for (const [seq, t] of [
      ['5', hour(28, 3)],
      ['1', hour(26, 23, 59)],
      ['2', hour(27, 0, 10)],
      ['3', hour(27, 1)],
      ['4', hour(27, 22)],
      ['6', hour(30, 12)],
    ] as const)
      await writeChangeBatch(store, [at(seq, t)]);
    const listed: string[] = [];
    const spy = listingSpy(store, listed);
    const found: string[] = [];
    for await (const info of listSegments(spy, { from: hour(27, 0, 30), to: hour(28, 3) }))
      found.push(info.key);
    assert.deepEqual(
      found.map((k) => k.split('-')[2]),
      ['2', '3', '4', '5'],
    );
    // Hour 00 of the 27th overlaps partially, the rest of the 27th is listed hour by hour, and
    // on the 28th only hours up to 03; the 26th and 30th are never listed.
    assert.ok(
      listed.every((p) => /^changes\/2026\/11\/2[78]\/\d\d$/.test(p)),
      listed.join(', '),
    );
    const changes: LoggedChange[] = [];
    for await (const c of readChanges(store, { from: hour(27, 0, 30), to: hour(28, 3) })) changes.push(c);
    assert.deepEqual(
      changes.map((c) => c.sequenceNumber),
      ['3', '4', '5'],
    );
  });
});
