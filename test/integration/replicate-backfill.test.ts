/**
 * The backfill's copy (copyToReplicas) to several replicas: one scan, the apply engine's transform,
 * every replica through its own never-drop writer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Change } from '../../src/core/change.js';
import { UnprocessedError } from '../../src/core/errors.js';
import type { Item, KeySchema } from '../../src/core/types.js';
import { copyToReplicas } from '../../src/replicate/backfill.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { injectUnprocessedItems } from '../harness/dynamodb-faults.js';
import { byId, scanAll } from '../harness/table-items.js';

const schema: KeySchema = { hash: { name: 'id', type: 'S' } };
const ITEMS = 3000;
const item = (i: number): Item => ({
  id: { S: `item-${i}` },
  n: { N: `${i + 1}1234567890123456789012345.5` },
  pad: { S: 'x'.repeat(200) },
});

async function sourceTable(client: ReturnType<typeof dynamoClient>): Promise<string> {
  const table = await createTestTable(client);
  const { BatchWriteItemCommand } = await import('@aws-sdk/client-dynamodb');
  for (let i = 0; i < ITEMS; i += 25) {
    const puts = Array.from({ length: Math.min(25, ITEMS - i) }, (_, j) => ({
      PutRequest: { Item: item(i + j) as never },
    }));
    let requests: Record<string, typeof puts> | undefined = { [table]: puts };
    while (requests && Object.keys(requests).length > 0) {
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: requests }));
      requests = out.UnprocessedItems as typeof requests;
    }
  }
  return table;
}

test('backfill copy to two replicas with a transform writes exactly the transformed items to both', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await sourceTable(client);
  const a = await createTestTable(client);
  const b = await createTestTable(client);
  // Drops every tenth item, rewrites the rest (an added attribute, the padding removed).
  const transform = (c: Change): Change | null => {
    const image = c.newImage as Item;
    const i = Number((image.id as { S: string }).S.slice('item-'.length));
    if (i % 10 === 0) return null;
    const { pad: _pad, ...rest } = image;
    return { ...c, newImage: { ...rest, copied: { BOOL: true } } };
  };
  const result = await copyToReplicas({
    source: { client, table: source },
    apply: {
      replicas: [
        { client, table: a },
        { client, table: b },
      ],
      keySchema: schema,
      transform,
    },
    parallel: 4,
  });
  assert.equal(result.scanned, ITEMS);
  assert.equal(result.written, ITEMS - ITEMS / 10);
  assert.equal(result.skipped, ITEMS / 10);
  assert.equal(result.rejected, 0);
  const expected = new Map<string, Item>();
  for (let i = 0; i < ITEMS; i++) {
    if (i % 10 === 0) continue;
    const { pad: _pad, ...rest } = item(i);
    expected.set(`item-${i}`, { ...rest, copied: { BOOL: true } });
  }
  assert.deepEqual(byId(await scanAll(client, a)), expected);
  assert.deepEqual(byId(await scanAll(client, b)), expected);
});

test('backfill copy: a key stuck on one replica is named in the error; the other replica receives everything', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await sourceTable(client);
  const a = await createTestTable(client);
  const b = await createTestTable(client);
  // Fault injection (DynamoDB Local cannot throttle): replica A never processes item-1234.
  const faulty = dynamoClient(endpoint);
  injectUnprocessedItems(faulty, ['id'], (_t, key) => (key.id as { S: string }).S === 'item-1234');
  const error = await copyToReplicas({
    source: { client, table: source },
    apply: {
      replicas: [
        { client: faulty, table: a, label: 'replica-a' },
        { client, table: b, label: 'replica-b' },
      ],
      keySchema: schema,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    },
    parallel: 4,
  }).then(
    () => assert.fail('expected UnprocessedError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UnprocessedError, String(error));
  assert.deepEqual(error.unprocessed, [{ table: a, keys: ['{"id":{"S":"item-1234"}}'] }]);
  assert.match(error.message, /^replica-a: 1 write\(s\) were not made after 3 attempts .*item-1234/);
  const inB = byId(await scanAll(client, b));
  assert.equal(inB.size, ITEMS);
  for (let i = 0; i < ITEMS; i++) assert.deepEqual(inB.get(`item-${i}`), item(i));
  const inA = byId(await scanAll(client, a));
  assert.equal(inA.size, ITEMS - 1);
  assert.equal(inA.has('item-1234'), false);
});
