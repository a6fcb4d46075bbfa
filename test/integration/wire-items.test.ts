/**
 * Scan and Query items taken straight from the response JSON (dynamodb/wire-items.ts) must be exactly
 * what the SDK's own deserializer gives: every attribute type, binary at any depth (as Uint8Array),
 * exact numbers, `__proto__` and other prototype names, across pages; errors still come through the
 * SDK and the project's error translation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { itemsEqual } from '../../src/core/equality.js';
import { NotFoundError } from '../../src/core/errors.js';
import type { Item } from '../../src/core/types.js';
import { queryItems, scanItems, scanPages } from '../../src/dynamodb/scan.js';
import { decodeWireBinaries } from '../../src/dynamodb/wire-items.js';
import { awkwardItems, loadItems, sortById } from '../harness/backup-fixtures.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';

const endpoint = await dynamoEndpoint();
const client = dynamoClient(endpoint);

/** Every item of a table by plain SDK Scans: the SDK's deserializer, with no wire items. */
async function sdkScan(table: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, never> | undefined;
  do {
    const out = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...((out.Items ?? []) as Item[]));
    start = out.LastEvaluatedKey as Record<string, never> | undefined;
  } while (start);
  return items;
}

test('scan: 45 awkward items in pages of 7 are exactly the items written and what the SDK itself reads', async () => {
  const table = await createTestTable(client);
  const written = awkwardItems(45);
  await loadItems(client, table, written);
  const pages: number[] = [];
  const items: Item[] = [];
  for await (const page of scanPages(client, { table, pageSize: 7 })) {
    pages.push(page.length);
    items.push(...page);
  }
  assert.deepEqual(pages, [7, 7, 7, 7, 7, 7, 3]);
  // Sets may come back in another order than written: the same items by DynamoDB's equality, and
  // exactly (order, types, prototypes) what the SDK reads.
  const read = sortById(items);
  assert.equal(read.length, 45);
  assert.deepEqual(
    sortById(written).filter((item, i) => !itemsEqual(item, read[i])),
    [],
  );
  assert.deepEqual(read, sortById(await sdkScan(table)));
  const first = sortById(items)[0] as Item;
  assert.equal(Object.getPrototypeOf((first.blobs as { BS: Uint8Array[] }).BS[0]), Uint8Array.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(first, '__proto__')?.value, { S: 'proto 0' });
});

test('query: binary range keys (in LastEvaluatedKey too) and a projection come back decoded, page by page', async () => {
  const table = await createTestTable(client, { range: { name: 'r', type: 'B' } });
  const written: Item[] = Array.from({ length: 9 }, (_, i) => ({
    id: { S: i < 6 ? 'h' : 'other' },
    r: { B: new Uint8Array([i, 255 - i]) },
    v: { L: [{ M: { b: { B: new Uint8Array([7, i]) } } }, { S: 'B' }] },
    s: { S: '"B"' },
  }));
  await loadItems(client, table, written);
  const got: Item[] = [];
  for await (const item of queryItems(client, {
    table,
    keyCondition: '#h = :h',
    names: { '#h': 'id' },
    values: { ':h': { S: 'h' } },
    pageSize: 4,
  }))
    got.push(item);
  assert.deepEqual(got, written.slice(0, 6));
  const plain = await client.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: '#h = :h',
      ExpressionAttributeNames: { '#h': 'id' },
      ExpressionAttributeValues: { ':h': { S: 'h' } },
    }),
  );
  assert.deepEqual(got, plain.Items);
  const projected: Item[] = [];
  for await (const item of scanItems(client, { table, projection: ['r'], pageSize: 5 })) projected.push(item);
  assert.equal(projected.length, 9);
  assert.deepEqual(
    projected
      .map((i) => [...(i.r as { B: Uint8Array }).B])
      .sort((a, b) => (a[0] as number) - (b[0] as number)),
    written.map((i) => [...(i.r as { B: Uint8Array }).B]),
  );
});

test('the SDK deserializes no item of a scan page: the items reach the output only after it', async () => {
  const table = await createTestTable(client);
  await loadItems(client, table, awkwardItems(12));
  const watched = dynamoClient(endpoint);
  const seen: (number | undefined)[] = [];
  // After the deserializer, before the output is handed back: what the SDK itself produced.
  watched.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      seen.push((result.output as { Items?: unknown[] }).Items?.length);
      return result;
    },
    { step: 'finalizeRequest', name: 'watchSdkItems' },
  );
  const counts: number[] = [];
  for await (const page of scanPages(watched, { table, pageSize: 5 })) counts.push(page.length);
  assert.deepEqual(counts, [5, 5, 2]);
  assert.deepEqual(seen, [undefined, undefined, undefined]);
  await watched.send(new ScanCommand({ TableName: table }));
  assert.deepEqual(seen.at(-1), 12);
});

test('an error response still goes through the SDK and the error translation', async () => {
  const missing = uniqueName('missing');
  await assert.rejects(
    async () => {
      for await (const page of scanPages(client, { table: missing })) void page;
    },
    (error: unknown) => error instanceof NotFoundError && error.message.includes(missing),
  );
});

test('decodeWireBinaries decodes B and BS at any depth and leaves every other value as it is', () => {
  const items: unknown[] = [
    {
      b: { B: 'AP8=' },
      bs: { BS: ['AQ==', ''] },
      l: { L: [{ M: { x: { B: 'Ag==' } } }, { S: 'B' }, { L: [{ B: 'Aw==' }] }] },
      s: { S: 'B' },
      n: { N: '1.50' },
      ss: { SS: ['B', 'BS'] },
      nul: { NULL: true },
    },
  ];
  decodeWireBinaries(items);
  assert.deepEqual(items, [
    {
      b: { B: new Uint8Array([0, 255]) },
      bs: { BS: [new Uint8Array([1]), new Uint8Array([])] },
      l: { L: [{ M: { x: { B: new Uint8Array([2]) } } }, { S: 'B' }, { L: [{ B: new Uint8Array([3]) }] }] },
      s: { S: 'B' },
      n: { N: '1.50' },
      ss: { SS: ['B', 'BS'] },
      nul: { NULL: true },
    },
  ]);
});
