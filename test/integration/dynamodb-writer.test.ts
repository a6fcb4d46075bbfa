import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidDataError, UnprocessedError } from '../../src/core/errors.js';
import type { Item, KeySchema } from '../../src/core/types.js';
import { scanItems } from '../../src/dynamodb/scan.js';
import { writeAll, type WriteRequest } from '../../src/dynamodb/writer.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { injectUnprocessedItems } from '../harness/dynamodb-faults.js';

const schema: KeySchema = { hash: { name: 'id', type: 'S' } };
const item = (id: string, v: number): Item => ({ id: { S: id }, v: { N: String(v) } });

async function tableItems(
  client: ReturnType<typeof dynamoClient>,
  table: string,
): Promise<Map<string, Item>> {
  const items = new Map<string, Item>();
  for await (const it of scanItems(client, { table, segments: 2 })) items.set((it.id as { S: string }).S, it);
  return items;
}

test('writeAll reads its source only as fast as writes are acknowledged (bounded memory)', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await createTestTable(client);
  const concurrency = 2;
  let yielded = 0;
  let done = 0;
  let maxAhead = 0;
  const progress: number[] = [];
  async function* source(): AsyncGenerator<WriteRequest> {
    for (let i = 0; i < 2000; i++) {
      maxAhead = Math.max(maxAhead, yielded - done);
      yielded++;
      yield { put: item(`item-${i}`, i) };
    }
  }
  const result = await writeAll(client, table, source(), {
    concurrency,
    onProgress: (n) => {
      done = n;
      progress.push(n);
    },
  });
  assert.equal(result.written, 2000);
  assert.equal(progress.at(-1), 2000);
  assert.deepEqual(
    progress,
    [...progress].sort((a, b) => a - b),
  );
  // Never more than the buffer (25) and `concurrency` requests (25 each) read ahead of the writes.
  assert.ok(maxAhead <= 25 * (concurrency + 1), `read ${maxAhead} writes ahead`);
  assert.ok(maxAhead >= 25, `read only ${maxAhead} writes ahead: not pipelined`);
  assert.equal((await tableItems(client, table)).size, 2000);
});

test('writeAll keeps per-key order across concurrent requests', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await createTestTable(client);
  const writes: WriteRequest[] = [];
  for (let i = 0; i < 1000; i++) {
    const id = `k${i % 7}`;
    writes.push(i % 50 === 49 ? { delete: { id: { S: id } } } : { put: item(id, i) });
  }
  const result = await writeAll(client, table, writes, { concurrency: 8, keySchema: schema });
  assert.equal(result.written, 1000);
  const items = await tableItems(client, table);
  // The last write of each key wins: k0..k6 last written at i = 993..999; i = 999 is a delete (k5).
  const expected = new Map<string, Item>();
  for (let i = 993; i < 1000; i++) if (i % 50 !== 49) expected.set(`k${i % 7}`, item(`k${i % 7}`, i));
  assert.deepEqual(items, expected);
});

test('writeAll writes everything else when a few keys stay unprocessed, then names exactly those keys', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await createTestTable(client);
  // Fault injection (DynamoDB Local cannot throttle): item-300 and item-4000 are never processed.
  const stuck = new Set(['item-300', 'item-4000']);
  injectUnprocessedItems(client, ['id'], (_t, key) => stuck.has((key.id as { S: string }).S));
  const writes = Array.from({ length: 5000 }, (_, i): WriteRequest => ({ put: item(`item-${i}`, i) }));
  const error = await writeAll(client, table, writes, {
    keySchema: schema,
    concurrency: 4,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
  }).then(
    () => assert.fail('expected UnprocessedError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UnprocessedError, String(error));
  assert.deepEqual(error.unprocessed, [
    { table, keys: ['{"id":{"S":"item-300"}}', '{"id":{"S":"item-4000"}}'] },
  ]);
  assert.match(error.message, /^2 write\(s\) were not made after 3 attempts/);
  assert.doesNotMatch(error.message, /not sent/);
  const items = await tableItems(client, table);
  assert.equal(items.size, 4998);
  for (const k of stuck) assert.equal(items.has(k), false);
});

test('writeAll stops after maxUnwritten failures and lists every write it took but did not make', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await createTestTable(client);
  // Fault injection (DynamoDB Local cannot throttle): item-300 is never processed.
  injectUnprocessedItems(client, ['id'], (_t, key) => (key.id as { S: string }).S === 'item-300');
  let yielded = 0;
  function* source(): Generator<WriteRequest> {
    for (let i = 0; i < 5000; i++) {
      yielded++;
      yield { put: item(`item-${i}`, i) };
    }
  }
  const error = await writeAll(client, table, source(), {
    keySchema: schema,
    concurrency: 4,
    maxUnwritten: 1,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
  }).then(
    () => assert.fail('expected UnprocessedError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UnprocessedError, String(error));
  assert.equal(error.unprocessed.length, 1);
  const listed = error.unprocessed[0]?.keys ?? [];
  assert.equal(listed[0], '{"id":{"S":"item-300"}}', 'the failed write comes first');
  assert.ok(listed.length >= 2, 'the write taken when the stop came is listed as not sent');
  // Only item-300 is blamed on DynamoDB; the others are named as not sent.
  assert.match(error.message, /^1 write\(s\) were not made after 3 attempts .*item-300"\}\}\. The rest/);
  assert.match(
    error.message,
    new RegExp(`and ${listed.length - 1} write\\(s\\) already taken from it were not sent`),
  );
  assert.ok(yielded < 5000, 'the source was not stopped');
  const items = await tableItems(client, table);
  for (const key of listed) assert.equal(items.has(JSON.parse(key).id.S), false, `${key} listed but written`);
  // Nothing read is lost silently: every write read is either in the table or in the error.
  assert.equal(items.size + listed.length, yielded);
});

test('writeAll rejects an item without its key attribute, after writing what came before', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await createTestTable(client);
  const writes: WriteRequest[] = [
    { put: item('a', 1) },
    { put: item('b', 2) },
    { put: { other: { S: 'x' } } },
  ];
  await assert.rejects(writeAll(client, table, writes), (e: unknown) => {
    assert.ok(e instanceof InvalidDataError);
    assert.match(e.message, /no key attribute "id"/);
    return true;
  });
  assert.deepEqual([...(await tableItems(client, table)).keys()].sort(), ['a', 'b']);
});
