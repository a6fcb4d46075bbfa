import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { byId, scanAll } from '../harness/table-items.js';

/** Loads items with plain BatchWriteItem calls (several in flight), re-sending any unprocessed ones. */
async function load(client: DynamoDBClient, table: string, items: readonly Item[]): Promise<void> {
  const batches: Item[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  const worker = async () => {
    for (let batch = batches.shift(); batch; batch = batches.shift()) {
      let requests = { [table]: batch.map((item) => ({ PutRequest: { Item: item as never } })) };
      while (Object.keys(requests).length > 0) {
        const out = await client.send(new BatchWriteItemCommand({ RequestItems: requests }));
        requests = (out.UnprocessedItems ?? {}) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
}

function items(count: number): Item[] {
  // ~100 bytes each: one write capacity unit per item.
  return Array.from({ length: count }, (_, i) => ({
    id: { S: `item-${String(i).padStart(6, '0')}` },
    n: { N: `${i}12345678901234567890.5` },
    payload: { S: 'x'.repeat(40) },
    set: { NS: ['-1', String(i)] },
  }));
}

test('copy --create creates the target from the source description and copies every item', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client, { range: { name: 'r', type: 'N' } });
  const data = items(600).map((item, i) => ({ ...item, r: { N: String(i % 3) } }));
  await load(client, source, data);
  const target = uniqueName('copy');

  const result = await runCliCapture(['copy', `${endpoint}/${source}`, `${endpoint}/${target}`, '--create']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`^copied 600 items from .*/${source} to .*/${target} \\(created`));

  const copied = await scanAll(client, target);
  assert.equal(copied.length, 600);
  const original = byId(await scanAll(client, source));
  for (const [id, item] of byId(copied)) assert.ok(itemsEqual(item, original.get(id)), id);

  // Copying again into the now existing target (same key schema) is fine and idempotent.
  const again = await runCliCapture(['copy', `${endpoint}/${source}`, `${endpoint}/${target}`, '--json']);
  assert.equal(again.code, 0, again.stderr);
  const summary = JSON.parse(again.stdout);
  assert.equal(summary.items, 600);
  assert.equal(summary.created, false);
  assert.equal((await scanAll(client, target)).length, 600);
  client.destroy();
});

test('copy between two regions of one endpoint', async () => {
  const endpoint = await dynamoEndpoint();
  const east = dynamoClient(endpoint, 'us-east-1');
  const west = dynamoClient(endpoint, 'eu-west-1');
  const table = await createTestTable(east);
  await load(east, table, items(100));
  const result = await runCliCapture([
    'copy',
    `${endpoint}/${table}?region=us-east-1`,
    `${endpoint}/${table}?region=eu-west-1`,
    '--create',
  ]);
  assert.equal(result.code, 0, result.stderr);
  const a = byId(await scanAll(east, table));
  const b = byId(await scanAll(west, table));
  assert.equal(b.size, 100);
  for (const [id, item] of a) assert.ok(itemsEqual(item, b.get(id)), id);
  east.destroy();
  west.destroy();
});

test('copy of 20,000 items with a write budget never exceeds it by more than 10%', async (t) => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  const target = await createTestTable(client);
  const loadStarted = performance.now();
  await load(client, source, items(20_000));
  const ceiling = 20_000 / ((performance.now() - loadStarted) / 1000);
  // 20,000 one-unit writes at 1,000 WCU/s take about 20 s, far below what DynamoDB Local takes
  // (~8,000 items/s). A machine busy with other work may not even reach 1,000/s, and a budget the
  // server cannot sustain is not a test of the budget: stay at half the write rate just measured.
  const budget = Math.min(1000, Math.floor(ceiling / 2));
  t.diagnostic(`write rate while loading ${Math.round(ceiling)} items/s; budget ${budget} WCU/s`);
  const started = performance.now();
  const result = await runCliCapture([
    'copy',
    `${endpoint}/${source}`,
    `${endpoint}/${target}`,
    '--write-budget',
    String(budget),
    '--json',
  ]);
  const elapsed = (performance.now() - started) / 1000;
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout);
  assert.equal(summary.items, 20_000);
  // ConsumedCapacity as DynamoDB reported it, summed over every BatchWriteItem response.
  assert.ok(summary.consumedWriteUnits >= 20_000, `consumed ${summary.consumedWriteUnits} units`);
  // Only the upper bound holds whatever the machine's speed or load (a busy machine only writes more
  // slowly); that the pacing also reaches the budget is tested on virtual time (capacity-budget and
  // dynamodb-capacity tests).
  const rate = summary.consumedWriteUnits / summary.seconds;
  assert.ok(rate <= budget * 1.1, `consumed ${rate.toFixed(0)} WCU/s for a ${budget} budget`);
  // Measured around the whole command too: DescribeTable calls add time, never units, so this rate
  // can only be lower; it must not exceed the budget either.
  const outerRate = summary.consumedWriteUnits / elapsed;
  assert.ok(outerRate <= rate && outerRate <= budget * 1.1, `outer rate ${outerRate.toFixed(0)} WCU/s`);
  t.diagnostic(
    `consumed ${summary.consumedWriteUnits} WCU in ${summary.seconds.toFixed(1)} s: ${rate.toFixed(0)} WCU/s`,
  );
  const copied = await runCliCapture(['scan', `${endpoint}/${target}`, '--parallel', '4']);
  assert.equal(copied.stdout.split('\n').filter((l) => l !== '').length, 20_000);
  client.destroy();
});
