import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalKey, keyOf } from '../../src/core/canonical-key.js';
import { ItemTooLargeError, UnprocessedError } from '../../src/core/errors.js';
import type { Item, Key, KeySchema } from '../../src/core/types.js';
import { batchWriteAll, type WriteRequest } from '../../src/dynamodb/batch-write.js';
import { scanItems } from '../../src/dynamodb/scan.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { injectUnprocessedItems, type RecordedRequest } from '../harness/dynamodb-faults.js';

const FAST_RETRY = { maxAttempts: 6, baseDelayMs: 2, maxDelayMs: 20 };
const schema: KeySchema = { hash: { name: 'id', type: 'S' } };

function item(i: number, extra: Item = {}): Item {
  return { id: { S: `item-${i}` }, n: { N: String(i) }, ...extra };
}

async function tableItems(
  client: ReturnType<typeof dynamoClient>,
  table: string,
): Promise<Map<string, Item>> {
  const items = new Map<string, Item>();
  for await (const it of scanItems(client, { table })) {
    const id = it.id && 'S' in it.id ? it.id.S : '';
    assert.ok(!items.has(id), `scan returned ${id} twice`);
    items.set(id, it);
  }
  return items;
}

test('batchWriteAll retries items the server left unprocessed until all are written', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client);
  // Fault injection (DynamoDB Local never leaves items unprocessed): every odd item is held back
  // the first two times it is sent.
  const seen = new Map<string, number>();
  injectUnprocessedItems(client, ['id'], (_table, key) => {
    const id = canonicalKey(key);
    const n = Number(JSON.parse(id).id.S.slice(5));
    const times = (seen.get(id) ?? 0) + 1;
    seen.set(id, times);
    return n % 2 === 1 && times <= 2;
  });
  const writes: WriteRequest[] = Array.from({ length: 120 }, (_, i) => ({ put: item(i) }));
  const result = await batchWriteAll(
    client,
    { [table]: writes },
    { retry: FAST_RETRY, keySchemas: { [table]: schema } },
  );
  assert.equal(result.written, 120);
  // 120 writes = 5 requests of 24-25; each holds back odd items twice: two re-sends each.
  assert.equal(result.retries, 10);
  const items = await tableItems(client, table);
  assert.equal(items.size, 120);
  for (let i = 0; i < 120; i++) assert.deepEqual(items.get(`item-${i}`), item(i));
});

test('batchWriteAll throws UnprocessedError naming exactly the writes still unprocessed after the retry budget', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await createTestTable(client);
  const other = await createTestTable(client);
  // Fault injection (DynamoDB Local cannot throttle): these keys are never processed.
  const stuck = new Set(['item-7', 'item-42', 'item-99']);
  injectUnprocessedItems(client, ['id'], (t, key) => t === table && stuck.has((key.id as { S: string }).S));
  const writes: WriteRequest[] = Array.from({ length: 100 }, (_, i) => ({ put: item(i) }));
  const otherWrites: WriteRequest[] = Array.from({ length: 30 }, (_, i) => ({ put: item(i) }));
  const error = await batchWriteAll(
    client,
    { [table]: writes, [other]: otherWrites },
    { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 } },
  ).then(
    () => assert.fail('expected UnprocessedError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UnprocessedError, String(error));
  assert.deepEqual(
    error.unprocessed.map((u) => ({ table: u.table, keys: [...u.keys].sort() })),
    [{ table, keys: ['{"id":{"S":"item-42"}}', '{"id":{"S":"item-7"}}', '{"id":{"S":"item-99"}}'] }],
  );
  assert.match(error.message, /3 write\(s\) were not made after 3 attempts/);
  assert.match(error.message, /item-42/);
  const written = await tableItems(client, table);
  assert.equal(written.size, 97);
  for (const id of stuck) assert.equal(written.has(id), false);
  assert.equal((await tableItems(client, other)).size, 30);
});

test('two writes to the same key in one call go into successive requests and apply in order', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await createTestTable(client);
  const sent: RecordedRequest[][] = [];
  injectUnprocessedItems(
    client,
    ['id'],
    () => false,
    (requests) => sent.push([...requests]),
  );
  const writes: WriteRequest[] = [
    { put: item(1, { v: { S: 'first' } }) },
    { put: item(2) },
    { put: item(1, { v: { S: 'second' } }) },
    { put: item(3) },
    { delete: { id: { S: 'item-3' } } },
    { put: item(4) },
    { delete: { id: { S: 'item-4' } } },
    { put: item(4, { v: { S: 'back' } }) },
    ...Array.from({ length: 40 }, (_, i) => ({ put: item(100 + i) })),
    { put: item(1, { v: { S: 'last' } }) },
  ];
  const result = await batchWriteAll(
    client,
    { [table]: writes },
    { keySchemas: { [table]: schema }, concurrency: 8 },
  );
  assert.equal(result.written, writes.length);
  for (const request of sent) {
    const keys = request.flatMap((r) => r.keys.map((k: Key) => `${r.table}/${canonicalKey(k)}`));
    assert.equal(new Set(keys).size, keys.length, `duplicate key in one request: ${keys.join(' ')}`);
  }
  const items = await tableItems(client, table);
  assert.equal(items.size, 43);
  assert.deepEqual(items.get('item-1'), item(1, { v: { S: 'last' } }));
  assert.equal(items.has('item-3'), false);
  assert.deepEqual(items.get('item-4'), item(4, { v: { S: 'back' } }));
});

test('an item over 400 KB is rejected before anything is sent, naming its key', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await createTestTable(client);
  const big = item(7, { blob: { B: new Uint8Array(409_600) } });
  await assert.rejects(
    batchWriteAll(client, { [table]: [{ put: item(1) }, { put: big }, { put: item(2) }] }),
    (e: unknown) => {
      assert.ok(e instanceof ItemTooLargeError);
      assert.equal(e.keyJson, '{"id":{"S":"item-7"}}');
      assert.match(e.message, /item \{"id":\{"S":"item-7"\}\} is 4096\d\d bytes/);
      return true;
    },
  );
  assert.equal((await tableItems(client, table)).size, 0);
});

test('batchWriteAll reports ConsumedCapacity and handles a hash+range table with binary keys', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await createTestTable(client, {
    hash: { name: 'h', type: 'B' },
    range: { name: 'r', type: 'N' },
  });
  const writes: WriteRequest[] = Array.from({ length: 60 }, (_, i) => ({
    put: { h: { B: new Uint8Array([i % 3, 255]) }, r: { N: `${i}.50` }, s: { S: 'x' } },
  }));
  const result = await batchWriteAll(client, { [table]: writes }, { reportCapacity: true });
  assert.equal(result.written, 60);
  assert.equal(result.consumedCapacity, 60);
  const unasked = await batchWriteAll(client, { [table]: writes.slice(0, 5) });
  assert.equal(unasked.written, 5);
  assert.equal(unasked.consumedCapacity, 0, 'not asked for, not reported');
  let count = 0;
  for await (const it of scanItems(client, { table })) {
    assert.ok(it.h && 'B' in it.h && it.h.B.length === 2);
    count++;
  }
  assert.equal(count, 60);
  const rangeSchema: KeySchema = { hash: { name: 'h', type: 'B' }, range: { name: 'r', type: 'N' } };
  const deletes: WriteRequest[] = writes
    .slice(0, 20)
    .map((w) => ({ delete: keyOf('put' in w ? w.put : w.delete, rangeSchema) }));
  const deleted = await batchWriteAll(client, { [table]: deletes });
  assert.equal(deleted.written, 20);
  count = 0;
  for await (const it of scanItems(client, { table, segments: 2 })) count += it.s ? 1 : 0;
  assert.equal(count, 40);
});
