import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffCeiling, backoffDelay, sleep, type RetryPolicy } from '../../src/core/backoff.js';
import { APPLY_RETRY, BATCH_RETRY, STREAM_READ_RETRY } from '../../src/core/retry-policies.js';

const policy: RetryPolicy = { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 1000 };

describe('backoffDelay', () => {
  it('doubles the ceiling per attempt up to the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 50, 5000].map((a) => backoffCeiling(a, policy)),
      [100, 200, 400, 800, 1000, 1000, 1000, 1000],
    );
    assert.equal(backoffCeiling(0, policy), 100);
  });

  it('is full jitter: random() scales the ceiling, deterministic when injected', () => {
    assert.equal(
      backoffDelay(1, policy, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(1, policy, () => 0.5),
      50,
    );
    assert.equal(
      backoffDelay(3, policy, () => 0.5),
      200,
    );
    assert.equal(
      backoffDelay(3, policy, () => 0.999),
      399,
    );
    assert.equal(
      backoffDelay(10, policy, () => 0.25),
      250,
    );
    assert.equal(
      backoffDelay(10, policy, () => 7),
      1000,
    );
    assert.equal(
      backoffDelay(10, policy, () => -1),
      0,
    );
  });

  it('stays within [0, ceiling) with the default random', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const d = backoffDelay(attempt, BATCH_RETRY);
      assert.ok(
        Number.isInteger(d) && d >= 0 && d <= backoffCeiling(attempt, BATCH_RETRY),
        `${attempt}: ${d}`,
      );
    }
  });

  it('has sane layer policies: bounded except the apply layer (the runner never skips a record)', () => {
    for (const p of [BATCH_RETRY, STREAM_READ_RETRY, APPLY_RETRY]) {
      assert.ok(p.maxAttempts > 1);
      assert.ok(p.baseDelayMs > 0 && p.baseDelayMs <= p.maxDelayMs);
    }
    assert.equal(BATCH_RETRY.maxAttempts, 10);
    assert.equal(STREAM_READ_RETRY.maxAttempts, 8);
    assert.equal(APPLY_RETRY.maxAttempts, Infinity);
  });
});

describe('sleep', () => {
  it('resolves after the delay', async () => {
    const t0 = Date.now();
    await sleep(20);
    assert.ok(Date.now() - t0 >= 15);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const c = new AbortController();
    c.abort(new Error('stop'));
    await assert.rejects(sleep(60_000, c.signal), { message: 'stop' });
  });

  it('rejects with an AbortError when aborted while waiting', async () => {
    const c = new AbortController();
    const p = sleep(60_000, c.signal);
    setTimeout(() => c.abort(), 5);
    await assert.rejects(p, { name: 'AbortError' });
  });

  it('removes its abort listener once it has resolved', async () => {
    const c = new AbortController();
    let listeners = 0;
    const add = c.signal.addEventListener.bind(c.signal);
    const remove = c.signal.removeEventListener.bind(c.signal);
    c.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners++;
      add(...args);
    }) as typeof add;
    c.signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      listeners--;
      remove(...args);
    }) as typeof remove;
    await sleep(1, c.signal);
    assert.equal(listeners, 0);
  });
});
