import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CircuitBreaker,
  DEFAULT_BREAKER,
  readOrder,
  resolveBreakerOptions,
  type BreakerOptions,
} from '../../src/core/circuit-breaker.js';
import { UsageError } from '../../src/core/errors.js';
import { virtualClock, type VirtualClock } from '../harness/virtual-clock.js';

const options: BreakerOptions = { failureThreshold: 3, openMs: 1_000, maxOpenMs: 4_000 };

function breaker(clock: VirtualClock, o: BreakerOptions = options): CircuitBreaker {
  return new CircuitBreaker(o, clock.now);
}

describe('CircuitBreaker', () => {
  it('opens after exactly failureThreshold consecutive failures; a success resets the count', () => {
    const clock = virtualClock(10_000);
    const b = breaker(clock);
    assert.equal(b.recordFailure(clock.now()), undefined);
    assert.equal(b.recordFailure(clock.now()), undefined);
    assert.equal(b.recordSuccess(clock.now()), undefined);
    assert.equal(b.failures, 0);
    assert.equal(b.recordFailure(clock.now()), undefined);
    assert.equal(b.recordFailure(clock.now()), undefined);
    assert.equal(b.state, 'closed');
    assert.deepEqual(b.recordFailure(clock.now()), { from: 'closed', to: 'open', failures: 3 });
    assert.equal(b.state, 'open');
    assert.equal(b.isClosed, false);
  });

  it('allows one trial after the cool-down; its success closes the breaker', () => {
    const clock = virtualClock(0);
    const b = breaker(clock, { ...options, failureThreshold: 1 });
    b.recordFailure(clock.now());
    assert.equal(b.trialDue, false);
    assert.equal(b.startTrial(), undefined);
    assert.equal(b.msUntilTrial(), 1_000);
    clock.advance(999);
    assert.equal(b.trialDue, false);
    clock.advance(1);
    assert.equal(b.trialDue, true);
    const started = clock.now();
    assert.deepEqual(b.startTrial(), { from: 'open', to: 'half-open', failures: 1 });
    // Only one trial at a time.
    assert.equal(b.startTrial(), undefined);
    assert.equal(b.trialDue, false);
    assert.deepEqual(b.recordSuccess(started), { from: 'half-open', to: 'closed', failures: 0 });
    assert.equal(b.state, 'closed');
    assert.equal(b.msUntilTrial(), Infinity);
  });

  it('a failed trial opens it again, the cool-down doubling up to maxOpenMs, and resets on close', () => {
    const clock = virtualClock(0);
    const b = breaker(clock, { ...options, failureThreshold: 1 });
    b.recordFailure(clock.now());
    const cooldowns: number[] = [];
    for (let i = 0; i < 5; i++) {
      cooldowns.push(b.msUntilTrial());
      clock.advance(b.msUntilTrial());
      b.startTrial();
      assert.deepEqual(b.recordFailure(clock.now()), { from: 'half-open', to: 'open', failures: 2 + i });
    }
    assert.deepEqual(cooldowns, [1_000, 2_000, 4_000, 4_000, 4_000]);
    clock.advance(b.msUntilTrial());
    b.startTrial();
    b.recordSuccess(clock.now());
    b.recordFailure(clock.now() + 1);
    assert.equal(b.msUntilTrial(), 1_000, 'the cool-down starts over once the member recovered');
  });

  it('ignores outcomes of requests that started before its last change', () => {
    const clock = virtualClock(0);
    const b = breaker(clock, { ...options, failureThreshold: 1 });
    const early = clock.now();
    clock.advance(5);
    b.recordFailure(clock.now());
    assert.equal(b.state, 'open');
    // A request sent before the member failed comes back fine: it says nothing about now.
    assert.equal(b.recordSuccess(early), undefined);
    assert.equal(b.state, 'open');
    clock.advance(1_000);
    b.startTrial();
    const trial = clock.now();
    clock.advance(1);
    assert.deepEqual(b.recordSuccess(trial), { from: 'half-open', to: 'closed', failures: 0 });
    // A failure of a request sent while the member was still down does not reopen it.
    assert.equal(b.recordFailure(early), undefined);
    assert.equal(b.recordFailure(trial), undefined);
    assert.equal(b.state, 'closed');
    assert.equal(b.failures, 0);
  });

  it('failures while open are not counted twice', () => {
    const clock = virtualClock(0);
    const b = breaker(clock);
    for (let i = 0; i < 3; i++) b.recordFailure(clock.now());
    clock.advance(1);
    assert.equal(b.recordFailure(clock.now()), undefined);
    assert.equal(b.failures, 3);
  });
});

describe('readOrder', () => {
  it('prefers the first closed member, then the next; with every breaker open, tries all', () => {
    const clock = virtualClock(0);
    const o = { ...options, failureThreshold: 1 };
    const bs = [breaker(clock, o), breaker(clock, o), breaker(clock, o)];
    assert.deepEqual(readOrder(bs, false), [0, 1, 2]);
    bs[0]?.recordFailure(clock.now());
    assert.deepEqual(readOrder(bs, false), [1, 2]);
    bs[1]?.recordFailure(clock.now());
    bs[2]?.recordFailure(clock.now());
    assert.deepEqual(readOrder(bs, false), [0, 1, 2], 'a read is never refused without a try');
  });

  it('puts a member whose trial is due back in its place only when reads take the trials', () => {
    const clock = virtualClock(0);
    const o = { ...options, failureThreshold: 1 };
    const bs = [breaker(clock, o), breaker(clock, o)];
    bs[0]?.recordFailure(clock.now());
    clock.advance(1_000);
    assert.deepEqual(readOrder(bs, false), [1], 'the probe makes the trial');
    assert.deepEqual(readOrder(bs, true), [0, 1]);
  });
});

describe('resolveBreakerOptions', () => {
  it('has documented defaults', () => {
    assert.deepEqual(resolveBreakerOptions(), DEFAULT_BREAKER);
    assert.deepEqual(DEFAULT_BREAKER, { failureThreshold: 3, openMs: 1_000, maxOpenMs: 30_000 });
  });

  it('names the option that is out of range', () => {
    const cases: [Partial<BreakerOptions>, RegExp][] = [
      [{ failureThreshold: 0 }, /breaker\.failureThreshold must be a whole number of at least 1 \(got 0\)/],
      [{ failureThreshold: -2 }, /breaker\.failureThreshold .*got -2/],
      [{ failureThreshold: 1.5 }, /breaker\.failureThreshold .*got 1\.5/],
      [{ openMs: -1 }, /breaker\.openMs must be a number of milliseconds of at least 0 \(got -1\)/],
      [{ maxOpenMs: Number.NaN }, /breaker\.maxOpenMs .*got NaN/],
      [
        { openMs: 5_000, maxOpenMs: 1_000 },
        /breaker\.maxOpenMs \(1000\) must not be less than breaker\.openMs \(5000\)/,
      ],
    ];
    for (const [given, message] of cases)
      assert.throws(
        () => resolveBreakerOptions(given),
        (e: unknown) => e instanceof UsageError && message.test(e.message),
      );
  });
});
