/**
 * The status page's model with hand-made runner figures and times (no clock, no runner): the ring's
 * bound, lag percentiles per second, the record rate, the last checkpoint, gaps, states, the
 * group-mode conflicts slot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Change } from '../../src/core/change.js';
import type { BatchEvent, RunnerStats } from '../../src/replicate/runner.js';
import { HISTORY_SECONDS, SampleRing, StatusTracker } from '../../src/replicate/status.js';

const T0 = Date.UTC(2026, 11, 2, 9, 0, 0);

/** A runner whose figures the test sets. */
function fakeRunner(initial: Partial<RunnerStats> = {}): {
  stats(): RunnerStats;
  set(s: Partial<RunnerStats>): void;
} {
  let current: RunnerStats = {
    streamArn: 'arn:aws:dynamodb:us-east-1:1:table/t/stream/s',
    uptimeMs: 0,
    records: 0,
    applied: 0,
    skipped: 0,
    rejected: 0,
    failedAttempts: 0,
    checkpoints: 0,
    shards: [],
    ...initial,
  };
  return { stats: () => current, set: (s) => (current = { ...current, ...s }) };
}

function batch(appliedAt: number, createdAt: readonly number[]): BatchEvent {
  const changes: Change[] = createdAt.map((t, i) => ({
    eventName: 'INSERT',
    keys: { id: { S: `k${i}` } },
    sequenceNumber: String(i + 1),
    approximateCreationTime: t,
  }));
  return { shardId: 's1', changes, result: {} as BatchEvent['result'], attempts: 1, appliedAt };
}

test('SampleRing keeps the newest `capacity` items, oldest first', () => {
  const ring = new SampleRing<number>(3);
  for (let i = 1; i <= 5; i++) ring.push(i);
  assert.deepEqual(ring.toArray(), [3, 4, 5]);
  assert.equal(ring.size, 3);
  assert.throws(() => new SampleRing(0), RangeError);
});

test('one sample per tick: lag p50/p99 of the batches in that second, records/s, the gauge when idle', () => {
  const runner = fakeRunner({ lagMs: 7 });
  const tracker = new StatusTracker({ source: 'us-east-1/a', replicas: ['eu-west-1/b'] });
  assert.equal(tracker.snapshot(T0).state, 'starting');
  tracker.attach(runner);
  tracker.tick(T0); // the first tick only sets the rate's starting point
  tracker.onBatch(batch(T0 + 900, [T0 - 100, T0 + 400, T0 + 800])); // lags 1000, 500, 100
  runner.set({ records: 50, checkpoints: 1 });
  tracker.tick(T0 + 1000);
  runner.set({ records: 80, lagMs: 0 });
  tracker.tick(T0 + 2000); // no batch in this second: the gauge
  const s = tracker.snapshot(T0 + 2000);
  assert.deepEqual(s.history, {
    t: [T0 / 1000, T0 / 1000 + 1, T0 / 1000 + 2],
    lagP50: [7, 500, 0],
    lagP99: [7, 1000, 0],
    recordsPerSecond: [0, 50, 30],
  });
  assert.equal(s.state, 'running');
  assert.equal(s.totals?.recordsPerSecond, 30);
  assert.equal(s.totals?.records, 80);
  assert.deepEqual(s.lastCheckpoint, { at: T0 + 1000, count: 1 });
  assert.deepEqual(s.source, {
    label: 'us-east-1/a',
    streamArn: 'arn:aws:dynamodb:us-east-1:1:table/t/stream/s',
  });
  assert.equal('conflicts' in s, false, 'no conflicts slot outside group mode');
  assert.equal('backup' in s, false);
});

test('the history is bounded to 15 minutes of seconds', () => {
  const tracker = new StatusTracker({ source: 'a', replicas: [] });
  tracker.attach(fakeRunner());
  for (let i = 0; i < HISTORY_SECONDS + 100; i++) tracker.tick(T0 + i * 1000);
  const { t } = tracker.snapshot(T0).history;
  assert.equal(t.length, HISTORY_SECONDS);
  assert.equal(t[0], T0 / 1000 + 100);
  assert.equal(t.at(-1), T0 / 1000 + HISTORY_SECONDS + 99);
});

test('shards, gaps, conflicts and the end of the run', () => {
  const runner = fakeRunner({
    shards: [
      { shardId: 's1', state: 'reading', records: 3, lastSequenceNumber: '300', lagMs: 40, caughtUp: false },
      { shardId: 's0', state: 'finished', records: 9, caughtUp: true },
    ],
  });
  const tracker = new StatusTracker({ source: 'a', replicas: ['b', 'c'] });
  tracker.onEvent({ event: 'lease-wait', checkpoint: 'f', holder: 'h' }, T0);
  assert.equal(tracker.snapshot(T0).state, 'waiting-for-lease');
  tracker.onEvent({ event: 'backfill-start', source: 'a', itemCount: 3 }, T0);
  assert.equal(tracker.snapshot(T0).state, 'backfilling');
  assert.equal(tracker.alive, true);
  tracker.attach(runner);
  tracker.onEvent({ event: 'gap', message: 'trimmed', action: 'resync' }, T0 + 5);
  tracker.onEvent({ event: 'backup-gap', lossFrom: T0 - 60_000, detectedAt: T0 + 6 }, T0 + 7);
  tracker.setConflicts(2);
  const s = tracker.snapshot(T0 + 10);
  assert.deepEqual(s.shards, [
    { shardId: 's1', state: 'reading', records: 3, position: '300', ageMs: 40, caughtUp: false },
    { shardId: 's0', state: 'finished', records: 9, caughtUp: true },
  ]);
  assert.deepEqual(s.gaps, [
    { at: T0 + 5, message: 'trimmed' },
    { at: T0 + 6, message: 'changes may be missing from the change log', lossFrom: T0 - 60_000 },
  ]);
  assert.equal(s.conflicts, 2);
  assert.deepEqual(s.replicas, ['b', 'c']);
  tracker.finish(new Error('lease lost at https://user:secret@checkpoints.example/x'));
  assert.equal(tracker.alive, false);
  const failed = tracker.snapshot(T0);
  assert.equal(failed.state, 'failed');
  assert.doesNotMatch(failed.error as string, /secret/);
  assert.match(failed.error as string, /^lease lost at https:\/\//);
  const clean = new StatusTracker({ source: 'a', replicas: [] });
  clean.onEvent({ event: 'stopped', ...runner.stats(), reason: 'idle' }, T0);
  assert.deepEqual([clean.snapshot(T0).state, clean.alive], ['stopped', false]);
});

test('a second with more lags than the cap keeps a bounded sample of them', () => {
  let n = 0;
  const tracker = new StatusTracker({ source: 'a', replicas: [], random: () => (n++ % 7) / 7 });
  tracker.attach(fakeRunner());
  const created = Array.from({ length: 25_000 }, () => T0);
  tracker.onBatch(batch(T0 + 250, created));
  tracker.tick(T0 + 1000);
  assert.deepEqual(tracker.snapshot(T0).history.lagP50, [250]);
});

test('records applied before the first tick count in its rate when the start time is known', () => {
  const runner = fakeRunner();
  const tracker = new StatusTracker({ source: 'us-east-1/a', replicas: ['eu-west-1/b'] });
  tracker.attach(runner, T0);
  runner.set({ records: 150 });
  tracker.tick(T0 + 1000);
  runner.set({ records: 150 });
  tracker.tick(T0 + 2000);
  assert.deepEqual(tracker.snapshot(T0 + 2000).history.recordsPerSecond, [150, 0]);
});
