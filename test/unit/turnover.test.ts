import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyTurnover,
  secondsToEpochMs,
  TURNOVER_AT_MAX,
  TURNOVER_AT_MIN,
  turnoverAtProblem,
  turnoverKeeps,
} from '../../src/core/turnover.js';
import type { Change } from '../../src/core/change.js';

const AT = 1_700_000_001_000;

test('BEFORE keeps records created strictly before TurnoverAt, AFTER keeps the rest', () => {
  const before = { role: 'BEFORE', at: AT } as const;
  const after = { role: 'AFTER', at: AT } as const;
  assert.equal(turnoverKeeps(before, AT - 1), true);
  assert.equal(turnoverKeeps(before, AT), false);
  assert.equal(turnoverKeeps(before, AT + 1), false);
  assert.equal(turnoverKeeps(after, AT - 1), false);
  assert.equal(turnoverKeeps(after, AT), true);
  assert.equal(turnoverKeeps(after, AT + 1), true);
});

test('a record without a creation time counts as after any cut-over: AFTER keeps it, BEFORE drops it', () => {
  assert.equal(turnoverKeeps({ role: 'AFTER', at: AT }, undefined), true);
  assert.equal(turnoverKeeps({ role: 'BEFORE', at: AT }, undefined), false);
});

test('fractional seconds convert to milliseconds truncated, never rounded up across the boundary', () => {
  assert.equal(secondsToEpochMs(1_700_000_001), 1_700_000_001_000);
  assert.equal(secondsToEpochMs(1_700_000_000.9995), 1_700_000_000_999);
  assert.equal(secondsToEpochMs(1_700_000_000.999999), 1_700_000_000_999);
  assert.equal(secondsToEpochMs(1_700_000_000.5), 1_700_000_000_500);
  // Binary arithmetic would give 1700000000000.9998 -> 1700000000000 here; the decimal text is exact.
  assert.equal(secondsToEpochMs(1_700_000_000.001), 1_700_000_000_001);
  assert.equal(secondsToEpochMs(1_479_499_740.123), 1_479_499_740_123);
  assert.equal(secondsToEpochMs(0), 0);
  // A time 0.5 ms before the cut-over stays before it on both sides.
  const t = secondsToEpochMs(1_700_000_000.9995);
  assert.equal(turnoverKeeps({ role: 'BEFORE', at: AT }, t), true);
  assert.equal(turnoverKeeps({ role: 'AFTER', at: AT }, t), false);
});

test('every record is kept by exactly one side', () => {
  const changes: Change[] = [AT - 1000, AT - 1, AT, AT + 1, undefined].map((t, i) => ({
    eventName: 'INSERT',
    keys: { id: { S: `r${i}` } },
    newImage: { id: { S: `r${i}` } },
    sequenceNumber: String(100 + i),
    ...(t !== undefined ? { approximateCreationTime: t } : {}),
  }));
  const b = applyTurnover(changes, { role: 'BEFORE', at: AT }).map((c) => c.sequenceNumber);
  const a = applyTurnover(changes, { role: 'AFTER', at: AT }).map((c) => c.sequenceNumber);
  assert.deepEqual(b, ['100', '101']);
  assert.deepEqual(a, ['102', '103', '104']);
  assert.equal(applyTurnover(changes, undefined), changes);
});

test('turnoverAtProblem: epoch milliseconds from 2012-01-01 to 2100-01-01; seconds are named as such', () => {
  assert.equal(TURNOVER_AT_MIN, 1_325_376_000_000);
  assert.equal(TURNOVER_AT_MAX, 4_102_444_800_000);
  assert.equal(turnoverAtProblem('1325376000000'), undefined);
  assert.equal(turnoverAtProblem('1767225700000'), undefined);
  assert.equal(turnoverAtProblem('4102444800000'), undefined);
  assert.equal(
    turnoverAtProblem('1767225700'),
    'must be epoch milliseconds of a date from 2012-01-01 to 2100-01-01, got 1767225700: it looks like epoch seconds; in milliseconds that is 1767225700000 (2026-01-01T00:01:40.000Z)',
  );
  assert.equal(
    turnoverAtProblem('1000'),
    'must be epoch milliseconds of a date from 2012-01-01 to 2100-01-01, got 1000',
  );
  assert.equal(
    turnoverAtProblem('2026-01-01'),
    'must be a whole number of epoch milliseconds of a date from 2012-01-01 to 2100-01-01, got "2026-01-01"',
  );
  assert.match(turnoverAtProblem('99999999999999999999') ?? '', /^must be a whole number/);
});
