import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/core/errors.js';
import { CapacityBudget, type CapacityBudgetOptions } from '../../src/dynamodb/capacity.js';
import { virtualClock } from '../harness/virtual-clock.js';

/**
 * `workers` concurrent "requests" of `items` items costing `unitsPerItem` each, each taking 3 ms,
 * for `ms` of virtual time: the rate depends on the budget alone, not on the machine's speed.
 */
async function simulate(
  limits: CapacityBudgetOptions,
  workers: number,
  items: number,
  unitsPerItem: number,
  ms: number,
) {
  const clock = virtualClock();
  const budget = new CapacityBudget({ ...limits, now: clock.now, sleep: clock.sleep });
  let units = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (clock.now() < ms) {
        await budget.acquire(items);
        await clock.sleep(3);
        budget.record(items * unitsPerItem);
        units += items * unitsPerItem;
      }
    }),
  );
  return { budget, units, seconds: clock.now() / 1000 };
}

test('concurrent requests stay within 10% of a units budget, whatever each request costs', async () => {
  for (const unitsPerItem of [1, 4, 0.5]) {
    // 8 workers of 3 ms requests could do far more, so only the budget limits them.
    const { budget, units, seconds } = await simulate({ unitsPerSecond: 1000 }, 8, 25, unitsPerItem, 20_000);
    const rate = units / seconds;
    assert.ok(rate > 900 && rate < 1100, `${unitsPerItem} units/item: ${rate.toFixed(0)} units/s`);
    assert.equal(budget.consumed.units, units);
  }
});

test('an items budget paces acquire by item count', async () => {
  const { units, seconds } = await simulate({ itemsPerSecond: 500 }, 8, 20, 1, 20_000);
  const rate = units / seconds;
  assert.ok(rate > 450 && rate < 550, `${rate.toFixed(0)} items/s`);
});

test("without a budget the same workers run far faster: the pacing above is the budget's", async () => {
  const { units, seconds } = await simulate({}, 8, 25, 1, 2_000);
  assert.ok(units / seconds > 50_000, `${(units / seconds).toFixed(0)} units/s`);
});

test('an unlimited budget never waits; bad rates are usage errors; acquire honours abort', async () => {
  const free = new CapacityBudget();
  for (let i = 0; i < 1000; i++) {
    await free.acquire(25);
    free.record(1000);
  }
  assert.deepEqual(free.consumed, { units: 1_000_000, items: 25_000 });
  assert.throws(() => new CapacityBudget({ unitsPerSecond: 0 }), UsageError);
  assert.throws(() => new CapacityBudget({ itemsPerSecond: Number.NaN }), UsageError);
  const slow = new CapacityBudget({ unitsPerSecond: 1 });
  await slow.acquire(1);
  slow.record(1000); // 1000 s of debt
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(slow.acquire(1, controller.signal), { name: 'AbortError' });
});
