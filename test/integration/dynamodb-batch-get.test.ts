import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnprocessedError } from '../../src/core/errors.js';
import type { Item, Key } from '../../src/core/types.js';
import { batchGetAll } from '../../src/dynamodb/batch-get.js';
import { batchWriteAll } from '../../src/dynamodb/batch-write.js';
import { CapacityBudget } from '../../src/dynamodb/capacity.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { injectUnprocessedKeys } from '../harness/dynamodb-faults.js';

const FAST_RETRY = { maxAttempts: 6, baseDelayMs: 2, maxDelayMs: 20 };

function item(i: number): Item {
  return {
    id: { S: `k${i}` },
    n: { N: String(i) },
    name: { S: `name ${i}` },
    size: { N: '12345678901234567890123456789012345678' },
  };
}
const key = (i: number): Key => ({ id: { S: `k${i}` } });
const ids = (items: readonly Item[] | undefined) =>
  (items ?? [])
    .map((it) => (it.id as { S: string }).S)
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));

async function loadedTable(client: ReturnType<typeof dynamoClient>, count: number): Promise<string> {
  const table = await createTestTable(client);
  await batchWriteAll(client, { [table]: Array.from({ length: count }, (_, i) => ({ put: item(i) })) });
  return table;
}

test('batchGetAll splits by 100 keys, dedupes, keeps per-table options and retries UnprocessedKeys', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const a = await loadedTable(client, 250);
  const b = await loadedTable(client, 10);
  // Fault injection (DynamoDB Local never leaves keys unread): keys divisible by 3 are held back
  // the first time they are asked for.
  const asked = new Set<string>();
  let requests = 0;
  injectUnprocessedKeys(client, (table, k) => {
    const name = `${table}/${(k.id as { S: string }).S}`;
    const first = !asked.has(name);
    asked.add(name);
    return first && Number((k.id as { S: string }).S.slice(1)) % 3 === 0;
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'BatchGetItemCommand') {
        requests++;
        const input = args.input as { RequestItems: Record<string, { Keys: unknown[] }> };
        for (const ka of Object.values(input.RequestItems)) assert.ok(ka.Keys.length <= 100);
      }
      return next(args);
    },
    { step: 'initialize', name: 'countRequests', priority: 'low' },
  );
  const wanted = Array.from({ length: 260 }, (_, i) => key(i)); // k250..k259 do not exist
  const result = await batchGetAll(
    client,
    {
      [a]: { keys: [...wanted, key(5), key(5)], consistentRead: true },
      [b]: { keys: [key(1), key(2), key(11)], projection: ['id', 'name'] },
    },
    { retry: FAST_RETRY, reportCapacity: true },
  );
  assert.deepEqual(
    ids(result.items[a]),
    Array.from({ length: 250 }, (_, i) => `k${i}`),
  );
  assert.deepEqual(
    result.items[b]?.sort((x, y) => ids([x])[0]!.localeCompare(ids([y])[0]!)),
    [
      { id: { S: 'k1' }, name: { S: 'name 1' } },
      { id: { S: 'k2' }, name: { S: 'name 2' } },
    ],
  );
  const k7 = result.items[a]?.find((it) => (it.id as { S: string }).S === 'k7');
  assert.deepEqual(k7, item(7));
  // 260 keys of table a in 3 chunks, each retried once for its keys divisible by 3; table b's
  // keys (k1, k2, k11) are all read the first time.
  assert.equal(requests, 7);
  // Strongly consistent reads of items under 4 KB: 1 unit each; eventually consistent: 0.5.
  assert.equal(result.consumedCapacity, 250 + 1);
});

test('batchGetAll throws UnprocessedError naming exactly the keys still unread after the retry budget', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await loadedTable(client, 50);
  // Fault injection: these keys are never read.
  const stuck = new Set(['k3', 'k30']);
  injectUnprocessedKeys(client, (_t, k) => stuck.has((k.id as { S: string }).S));
  const error = await batchGetAll(
    client,
    { [table]: { keys: Array.from({ length: 50 }, (_, i) => key(i)) } },
    { retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 4 } },
  ).then(
    () => assert.fail('expected UnprocessedError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UnprocessedError, String(error));
  assert.deepEqual(error.unprocessed, [{ table, keys: ['{"id":{"S":"k3"}}', '{"id":{"S":"k30"}}'] }]);
  assert.match(error.message, /2 key\(s\) were not read after 4 attempts/);
});

test('batchGetAll charges a capacity budget with the units DynamoDB reports', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await loadedTable(client, 40);
  const budget = new CapacityBudget({ unitsPerSecond: 10_000 });
  const result = await batchGetAll(
    client,
    { [table]: { keys: Array.from({ length: 40 }, (_, i) => key(i)) } },
    { budget },
  );
  assert.equal(result.items[table]?.length, 40);
  assert.equal(result.consumedCapacity, 20);
  assert.deepEqual(budget.consumed, { units: 20, items: 40 });
});
