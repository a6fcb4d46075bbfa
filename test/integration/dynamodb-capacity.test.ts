import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Item } from '../../src/core/types.js';
import { batchWriteAll } from '../../src/dynamodb/batch-write.js';
import { CapacityBudget } from '../../src/dynamodb/capacity.js';
import { writeAll } from '../../src/dynamodb/writer.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { virtualClock } from '../harness/virtual-clock.js';

function item(i: number): Item {
  // About 200 bytes: 1 write unit each (DynamoDB Local reports units as AWS computes them).
  return { id: { S: `item-${i}` }, payload: { S: 'x'.repeat(180) } };
}

test('a write of 2,400 items with a budget of 120 WCU/s stays within 10% of it (measured from ConsumedCapacity)', async (t) => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await createTestTable(client);
  // Virtual time: the budget's waits are the only thing that moves the clock, so the rate measures
  // the pacing (fed by DynamoDB's real ConsumedCapacity answers), not the machine's speed.
  const clock = virtualClock();
  const budget = new CapacityBudget({ unitsPerSecond: 120, now: clock.now, sleep: clock.sleep });
  const result = await batchWriteAll(
    client,
    { [table]: Array.from({ length: 2400 }, (_, i) => ({ put: item(i) })) },
    { budget, concurrency: 8 },
  );
  const seconds = clock.now() / 1000;
  assert.equal(result.written, 2400);
  assert.equal(result.consumedCapacity, 2400);
  assert.equal(budget.consumed.units, 2400);
  const rate = result.consumedCapacity / seconds;
  t.diagnostic(`${rate.toFixed(1)} WCU/s over ${seconds.toFixed(2)} virtual s`);
  assert.ok(rate >= 108 && rate <= 132, `rate ${rate.toFixed(1)} WCU/s over ${seconds.toFixed(2)} s`);
});

test('an items-per-second budget paces a streamed write', async (t) => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await createTestTable(client);
  const clock = virtualClock();
  const budget = new CapacityBudget({ itemsPerSecond: 200, now: clock.now, sleep: clock.sleep });
  async function* source() {
    for (let i = 0; i < 1000; i++) yield { put: item(i) };
  }
  const result = await writeAll(client, table, source(), {
    budget,
    keySchema: { hash: { name: 'id', type: 'S' } },
  });
  const seconds = clock.now() / 1000;
  assert.equal(result.written, 1000);
  const rate = result.written / seconds;
  t.diagnostic(`${rate.toFixed(1)} items/s over ${seconds.toFixed(2)} virtual s`);
  assert.ok(rate >= 180 && rate <= 220, `rate ${rate.toFixed(1)} items/s over ${seconds.toFixed(2)} s`);
});
