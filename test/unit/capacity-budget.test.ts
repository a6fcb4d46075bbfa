import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from '../../src/core/backoff.js';
import { UsageError } from '../../src/core/errors.js';
import { CapacityBudget } from '../../src/dynamodb/capacity.js';

/** `workers` concurrent "requests" of `items` items costing `unitsPerItem` each, for `ms`. */
async function simulate(
  budget: CapacityBudget,
  workers: number,
  items: number,
  unitsPerItem: number,
  ms: number,
) {
  const started = performance.now();
  let units = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() - started < ms) {
        await budget.acquire(items);
        await sleep(3);
        budget.record(items * unitsPerItem);
        units += items * unitsPerItem;
      }
    }),
  );
  return { units, seconds: (performance.now() - started) / 1000 };
}

test('concurrent requests stay within 10% of a units budget, whatever each request costs', async () => {
  for (const unitsPerItem of [1, 4, 0.5]) {
    // Far below what 8 workers can do even on a loaded machine, so only the budget limits them.
    const budget = new CapacityBudget({ unitsPerSecond: 1000 });
    const { units, seconds } = await simulate(budget, 8, 25, unitsPerItem, 2000);
    const rate = units / seconds;
    assert.ok(rate > 900 && rate < 1100, `${unitsPerItem} units/item: ${rate.toFixed(0)} units/s`);
    assert.equal(budget.consumed.units, units);
  }
});

test('an items budget paces acquire by item count', async () => {
  const budget = new CapacityBudget({ itemsPerSecond: 500 });
  const { units, seconds } = await simulate(budget, 8, 20, 1, 2000);
  const rate = units / seconds;
  assert.ok(rate > 450 && rate < 550, `${rate.toFixed(0)} items/s`);
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
