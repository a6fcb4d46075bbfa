import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/core/errors.js';
import type { Item } from '../../src/core/types.js';
import { batchWriteAll } from '../../src/dynamodb/batch-write.js';
import { CapacityBudget } from '../../src/dynamodb/capacity.js';
import { queryItems, queryPages } from '../../src/dynamodb/query.js';
import { parallelScanPages, scanItems, scanPages } from '../../src/dynamodb/scan.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';

const COUNT = 2000;

function item(i: number): Item {
  return { id: { S: `item-${i}` }, group: { N: String(i % 10) }, payload: { S: 'p'.repeat(100) } };
}
const idOf = (it: Item) => (it.id as { S: string }).S;

let loaded: Promise<{ client: ReturnType<typeof dynamoClient>; table: string }> | undefined;
function table2000() {
  loaded ??= (async () => {
    const client = dynamoClient(await dynamoEndpoint());
    const table = await createTestTable(client);
    const result = await batchWriteAll(client, {
      [table]: Array.from({ length: COUNT }, (_, i) => ({ put: item(i) })),
    });
    assert.equal(result.written, COUNT);
    return { client, table };
  })();
  return loaded;
}

test('parallel scan: 4 segments are disjoint and together cover the table exactly', async () => {
  const { client, table } = await table2000();
  const perSegment: Set<string>[] = [];
  for (let segment = 0; segment < 4; segment++) {
    const ids = new Set<string>();
    for await (const page of scanPages(client, { table, segment, totalSegments: 4, pageSize: 97 })) {
      for (const it of page) {
        assert.equal(ids.has(idOf(it)), false, `segment ${segment} returned ${idOf(it)} twice`);
        ids.add(idOf(it));
      }
    }
    assert.ok(ids.size > 0, `segment ${segment} is empty`);
    perSegment.push(ids);
  }
  const union = new Set<string>();
  for (const ids of perSegment) for (const id of ids) union.add(id);
  assert.equal(
    perSegment.reduce((sum, s) => sum + s.size, 0),
    COUNT,
    'segments overlap',
  );
  assert.equal(union.size, COUNT);
  for (let i = 0; i < COUNT; i++) assert.ok(union.has(`item-${i}`));

  // The same 4 segments scanned concurrently in one process.
  const merged = new Map<string, Item>();
  for await (const page of parallelScanPages(client, { table, segments: 4, pageSize: 97 })) {
    for (const it of page) {
      assert.equal(merged.has(idOf(it)), false, `parallel scan returned ${idOf(it)} twice`);
      merged.set(idOf(it), it);
    }
  }
  assert.equal(merged.size, COUNT);
  assert.deepEqual(merged.get('item-1234'), item(1234));
});

test('firstPageSize limits the first page only; the others have pageSize items, and all of them together are the table', async () => {
  const { client, table } = await table2000();
  const sizes: number[] = [];
  const ids = new Set<string>();
  for await (const page of scanPages(client, { table, pageSize: 300, firstPageSize: 40 })) {
    sizes.push(page.length);
    for (const it of page) ids.add(idOf(it));
  }
  assert.equal(ids.size, COUNT);
  // 40, then 300 at a time: 40 + 6 * 300 = 1840, and the last 160.
  assert.deepEqual(sizes, [40, 300, 300, 300, 300, 300, 300, 160]);
});

test('shares of a parallel scan for several processes cover the table exactly once', async () => {
  const { client, table } = await table2000();
  const seen = new Map<string, number>();
  for (let share = 0; share < 3; share++) {
    for await (const it of scanItems(client, {
      table,
      segments: 2,
      segment: share,
      totalSegments: 3,
      pageSize: 250,
    })) {
      seen.set(idOf(it), (seen.get(idOf(it)) ?? 0) + 1);
    }
  }
  assert.equal(seen.size, COUNT);
  assert.deepEqual([...new Set(seen.values())], [1]);
});

test('a parallel scan stopped early stops its segments; bad segment options are usage errors', async () => {
  const { client, table } = await table2000();
  let pages = 0;
  for await (const page of parallelScanPages(client, { table, segments: 4, pageSize: 10 })) {
    assert.ok(page.length > 0);
    if (++pages === 3) break;
  }
  assert.equal(pages, 3);
  await assert.rejects(scanItems(client, { table, segment: 4, totalSegments: 4 }).next(), UsageError);
  await assert.rejects(parallelScanPages(client, { table, segments: 0 }).next(), UsageError);
});

test('scan with projection and a budget; query pages with key conditions', async () => {
  const { client } = await table2000();
  const table = await createTestTable(client, {
    hash: { name: 'pk', type: 'S' },
    range: { name: 'sk', type: 'N' },
  });
  await batchWriteAll(client, {
    [table]: Array.from({ length: 300 }, (_, i) => ({
      put: { pk: { S: i < 250 ? 'a' : 'b' }, sk: { N: String(i) }, v: { S: 'x' } },
    })),
  });
  const budget = new CapacityBudget({ unitsPerSecond: 100_000 });
  const projected: Item[] = [];
  for await (const it of scanItems(client, { table, projection: ['pk', 'sk'], budget })) projected.push(it);
  assert.equal(projected.length, 300);
  assert.deepEqual(Object.keys(projected[0] ?? {}).sort(), ['pk', 'sk']);
  assert.equal(budget.consumed.items, 300);
  assert.ok(budget.consumed.units > 0);

  const sks: number[] = [];
  let pages = 0;
  for await (const page of queryPages(client, {
    table,
    keyCondition: '#p = :p AND #s >= :from',
    names: { '#p': 'pk', '#s': 'sk' },
    values: { ':p': { S: 'a' }, ':from': { N: '100' } },
    scanForward: false,
    pageSize: 40,
  })) {
    pages++;
    for (const it of page) sks.push(Number((it.sk as { N: string }).N));
  }
  assert.equal(sks.length, 150);
  assert.equal(pages, 4);
  assert.deepEqual(
    sks,
    Array.from({ length: 150 }, (_, i) => 249 - i),
  );
  let b = 0;
  for await (const it of queryItems(client, {
    table,
    keyCondition: 'pk = :p',
    values: { ':p': { S: 'b' } },
    projection: ['sk'],
  })) {
    assert.deepEqual(Object.keys(it), ['sk']);
    b++;
  }
  assert.equal(b, 50);
});
