import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertNoGap,
  changesFrom,
  GAP_FORMAT,
  SNAPSHOT_FORMAT,
  type LogGap,
  type SnapshotInfo,
} from '../../src/backup/point-in-time.js';
import { STREAM_CLOCK_MARGIN_MS } from '../../src/core/change.js';
import { UsageError } from '../../src/core/errors.js';
import { unappliedSince, type CheckpointState } from '../../src/replicate/checkpoint.js';

const base = (startedAt: number): SnapshotInfo => ({
  format: SNAPSHOT_FORMAT,
  version: 1,
  id: `s${startedAt}`,
  kind: 'backfill',
  table: 't',
  startedAt,
  completedAt: startedAt + 1000,
  itemCount: 0,
  exportFolder: 'AWSDynamoDB/x',
});
// Changes from 10,000 on may be missing; the gap was met at 50,000.
const gap: LogGap = {
  format: GAP_FORMAT,
  version: 1,
  lossFrom: 10_000,
  detectedAt: 50_000,
  reason: 'trimmed',
};

test('a moment before the loss is restorable from an old base; one inside it only from a base after the gap', () => {
  assert.doesNotThrow(() => assertNoGap([gap], base(1_000), 9_999, 'log'));
  assert.throws(
    () => assertNoGap([gap], base(1_000), 10_000, 'log'),
    (e: unknown) =>
      e instanceof UsageError &&
      /log may be missing changes made from 1970-01-01T00:00:10.000Z \(10000\) until 1970-01-01T00:00:50.000Z \(50000\) \(trimmed\)/.test(
        e.message,
      ),
  );
  assert.throws(() => assertNoGap([gap], base(49_999), 60_000, 'log'), UsageError);
  assert.doesNotThrow(() => assertNoGap([gap], base(50_000), 60_000, 'log'));
  assert.doesNotThrow(() => assertNoGap([], base(1_000), 60_000, 'log'));
});

test('changes over a base after a gap start at the gap, not STREAM_CLOCK_MARGIN_MS before the scan', () => {
  const start = 50_000 + STREAM_CLOCK_MARGIN_MS / 2;
  assert.equal(changesFrom(base(start), [gap]), 50_000);
  assert.equal(changesFrom(base(start), []), start - STREAM_CLOCK_MARGIN_MS);
  // A gap long before the margin, or after the base began, changes nothing.
  const late = 50_000 + 2 * STREAM_CLOCK_MARGIN_MS;
  assert.equal(changesFrom(base(late), [gap]), late - STREAM_CLOCK_MARGIN_MS);
  assert.equal(changesFrom(base(1_000), [gap]), 1_000 - STREAM_CLOCK_MARGIN_MS);
});

test('unappliedSince: the oldest last-applied time of the open shards, 0 when unknown', () => {
  const state = (shards: CheckpointState['shards']): CheckpointState => ({
    version: 1,
    streamArn: 'arn',
    shards,
    updatedAt: '',
  });
  assert.equal(
    unappliedSince(
      state({
        a: { sequenceNumber: '1', changeTime: 5_000 },
        b: { sequenceNumber: '2', changeTime: 3_000 },
        c: { finished: true, changeTime: 1_000 },
      }),
    ),
    3_000,
  );
  assert.equal(
    unappliedSince(state({ a: { sequenceNumber: '1' }, b: { sequenceNumber: '2', changeTime: 3_000 } })),
    0,
  );
  assert.equal(
    unappliedSince(
      state({ c: { finished: true, changeTime: 1_000 }, d: { finished: true, changeTime: 2_000 } }),
    ),
    1_000,
  );
  assert.equal(unappliedSince(state({})), 0);
  assert.equal(unappliedSince(undefined), 0);
});
