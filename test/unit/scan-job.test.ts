import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidDataError } from '../../src/core/errors.js';
import {
  advance,
  budgetSpent,
  initialState,
  JOB_FORMAT,
  mergeTotals,
  pendingSegments,
  segmentsOfWorker,
  splitCapacity,
  validateCapacity,
  validateSliceBudget,
  validateJobManifest,
  validateSegmentState,
  type JobManifest,
  type SegmentState,
} from '../../src/core/scan-job.js';

const JOB: JobManifest = {
  format: JOB_FORMAT,
  version: 1,
  jobId: 'j1',
  kind: 'copy',
  params: { source: 'a', target: 'b' },
  segments: 3,
  createdAt: 1,
};

test('advance: one slice later, counts added, outputs appended, continuation cleared when done', () => {
  const s0 = initialState('j1', 2);
  const s1 = advance(s0, {
    done: false,
    continuation: { lastKey: 'k' },
    totals: { items: 5 },
    outputs: ['a'],
  });
  const s2 = advance(s1, {
    done: true,
    continuation: { lastKey: 'ignored' },
    totals: { items: 3, retries: 1 },
    outputs: ['b'],
  });
  assert.deepEqual(
    { slice: s2.slice, done: s2.done, continuation: s2.continuation, totals: s2.totals, outputs: s2.outputs },
    { slice: 2, done: true, continuation: null, totals: { items: 8, retries: 1 }, outputs: ['a', 'b'] },
  );
  assert.throws(
    () => advance(s2, { done: true, continuation: null, totals: {}, outputs: [] }),
    /already done/,
  );
});

test('mergeTotals adds every segment; pendingSegments lists the unfinished ones', () => {
  const done = (segment: number, items: number): SegmentState => ({
    ...initialState('j1', segment),
    slice: 1,
    done: true,
    totals: { items },
  });
  const states = new Map([
    [0, done(0, 4)],
    [2, { ...done(2, 7), done: false }],
  ]);
  assert.deepEqual(mergeTotals(states.values()), { items: 11 });
  assert.deepEqual(pendingSegments(4, states), [1, 2, 3]);
});

test('segmentsOfWorker gives each segment to exactly one worker', () => {
  const all = [0, 1, 2].flatMap((w) => segmentsOfWorker(10, w, 3)).sort((a, b) => a - b);
  assert.deepEqual(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(segmentsOfWorker(10, 1, 3), [1, 4, 7]);
});

test('budgetSpent: items or time, whichever comes first; no budget never stops', () => {
  assert.equal(budgetSpent({}, 0, 1e12, 1e9), false);
  assert.equal(budgetSpent({ items: 10 }, 0, 0, 9), false);
  assert.equal(budgetSpent({ items: 10 }, 0, 0, 10), true);
  assert.equal(budgetSpent({ timeMs: 1000 }, 500, 1499, 0), false);
  assert.equal(budgetSpent({ timeMs: 1000 }, 500, 1500, 0), true);
});

test('job records are validated when read: wrong format, kind, segments, job, segment', () => {
  assert.deepEqual(validateJobManifest(JOB, 'job.json'), JOB);
  assert.throws(() => validateJobManifest({ ...JOB, format: 'x' }, 'job.json'), InvalidDataError);
  assert.throws(() => validateJobManifest({ ...JOB, kind: 'drop' }, 'job.json'), /kind "drop" is not one of/);
  assert.throws(() => validateJobManifest({ ...JOB, segments: 0 }, 'job.json'), /segments must be 1 to/);
  assert.throws(
    () => validateJobManifest({ ...JOB, jobId: '../x' }, 'job.json'),
    /jobId "..\/x" is not valid/,
  );
  const state = { ...initialState('j1', 1), slice: 2 };
  assert.deepEqual(validateSegmentState(state, 's', JOB, 1), state);
  assert.throws(
    () => validateSegmentState({ ...state, jobId: 'other' }, 's', JOB, 1),
    /belongs to job "other", not to job "j1"/,
  );
  assert.throws(() => validateSegmentState(state, 's', JOB, 0), /state of segment 1, not of segment 0/);
  assert.throws(() => validateSegmentState({ ...state, totals: { items: -1 } }, 's', JOB, 1), /totals/);
  assert.throws(() => validateSegmentState({ ...state, slice: 0 }, 's', JOB, 1), /slice/);
});

test('a job capacity is split evenly over the tasks running at once, and checked when it comes as JSON', () => {
  assert.deepEqual(splitCapacity({ readUnitsPerSecond: 1000, writeUnitsPerSecond: 300 }, 4), {
    readUnitsPerSecond: 250,
    writeUnitsPerSecond: 75,
  });
  assert.deepEqual(splitCapacity({ readUnitsPerSecond: 10 }, 0), { readUnitsPerSecond: 10 });
  assert.deepEqual(validateCapacity(undefined, 'e'), {});
  assert.deepEqual(validateCapacity({ readUnitsPerSecond: 5 }, 'e'), { readUnitsPerSecond: 5 });
  assert.throws(
    () => validateCapacity({ readUnitsPerSecond: 0 }, 'e'),
    /capacity.readUnitsPerSecond must be a positive number, got 0/,
  );
  assert.throws(() => validateCapacity({ writeUnitsPerSecond: '9' }, 'e'), /capacity.writeUnitsPerSecond/);
  assert.throws(() => validateCapacity([1], 'e'), /capacity must be an object/);
});

test('a slice budget from JSON: time and items only; a capacity put in the budget is named, not ignored', () => {
  assert.deepEqual(validateSliceBudget({ timeMs: 840_000, items: 10 }, 'e'), { timeMs: 840_000, items: 10 });
  assert.deepEqual(validateSliceBudget(undefined, 'e'), {});
  assert.throws(
    () => validateSliceBudget({ readUnitsPerSecond: 50 }, 'e'),
    /budget.readUnitsPerSecond is not a slice budget \(timeMs, items\); capacity goes in "capacity"/,
  );
  assert.throws(() => validateSliceBudget({ timeMs: -1 }, 'e'), /budget.timeMs must be a positive number/);
});
