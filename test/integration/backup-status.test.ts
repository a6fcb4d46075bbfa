/**
 * `backup-status` and backupCoverage on a change log built with known times: a base snapshot, six
 * changes from two shards over two hours, a recorded gap. Exact counts and UTC times, as text and
 * JSON; exit 2 for what is not a change log, another table's log, or a log mixing tables.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeChangeBatch } from '../../src/backup/change-log.js';
import { backupCoverage } from '../../src/backup/coverage.js';
import { claimLog } from '../../src/backup/log-identity.js';
import { recordGap, SNAPSHOT_FORMAT, writeSnapshotInfo } from '../../src/backup/point-in-time.js';
import type { Change } from '../../src/core/change.js';
import { LogIdentityError, NotFoundError } from '../../src/core/errors.js';
import { FileObjectStore } from '../../src/storage/fs-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { runCliCapture } from '../harness/cli.js';

/** 2026-12-02T09:00:00.000Z */
const T0 = Date.UTC(2026, 11, 2, 9);
const HOUR = 3_600_000;

function change(shardId: string, sequenceNumber: string, at: number): Change {
  const keys = { id: { S: `k${sequenceNumber}` } };
  return {
    eventName: 'INSERT',
    keys,
    newImage: { ...keys, n: { N: sequenceNumber } },
    sequenceNumber,
    approximateCreationTime: at,
    shardId,
  };
}

async function snapshot(log: ObjectStore, id: string, table: string, startedAt: number): Promise<void> {
  await writeSnapshotInfo(log.at(`snapshots/${id}`), {
    format: SNAPSHOT_FORMAT,
    version: 1,
    id,
    kind: 'backfill',
    table,
    startedAt,
    completedAt: startedAt + 2_000,
    itemCount: 42,
    exportFolder: 'AWSDynamoDB/01',
  });
}

/**
 * The newest segment by name (shard A, created from 10:00:06) ends before shard B's (10:00:05 to
 * 10:00:07): the last change is found by shard, not by the newest name.
 */
async function buildLog(): Promise<{ dir: string; log: ObjectStore }> {
  const root = await mkdtemp(path.join(tmpdir(), 'backup-status-'));
  after(() => rm(root, { recursive: true, force: true }));
  const dir = path.join(root, 'orders');
  const log = new FileObjectStore(dir);
  await claimLog(log, { table: 'orders', keySchema: { hash: { name: 'id', type: 'S' } } }, dir);
  await snapshot(log, '20261202T090000000Z', 'orders', T0);
  const first = [change('shard-a', '1', T0 + 10_000), change('shard-a', '2', T0 + 11_000)];
  const later = [
    change('shard-a', '3', T0 + HOUR + 6_000),
    change('shard-b', '10', T0 + HOUR + 5_000),
    change('shard-b', '11', T0 + HOUR + 7_000),
    change('shard-b', '12', T0 + HOUR + 6_500),
  ];
  for (const batch of [first, later]) {
    const written = await writeChangeBatch(log, batch, { table: 'orders' });
    assert.equal(written.failed.length, 0);
  }
  await recordGap(log, {
    lossFrom: T0 + 20_000,
    detectedAt: T0 + 30_000,
    reason: 'stream records were trimmed before they were logged',
  });
  return { dir, log };
}

async function bytesUnder(log: ObjectStore, dir: string): Promise<number> {
  let total = 0;
  for await (const info of log.list('')) total += (await stat(path.join(dir, info.key))).size;
  return total;
}

test('backup-status: snapshots, first and last change, gaps and object count, as text and JSON', async () => {
  const { dir, log } = await buildLog();
  const bytes = await bytesUnder(log, dir);
  const expected = {
    location: dir,
    table: 'orders',
    snapshots: [
      {
        id: '20261202T090000000Z',
        kind: 'backfill',
        startedAt: T0,
        completedAt: T0 + 2_000,
        itemCount: 42,
      },
    ],
    coveredFrom: T0 + 2_000,
    firstChange: T0 + 10_000,
    lastChange: T0 + HOUR + 7_000,
    gaps: [
      {
        lossFrom: T0 + 20_000,
        detectedAt: T0 + 30_000,
        reason: 'stream records were trimmed before they were logged',
      },
    ],
    // shard-a hour 9, shard-a hour 10, shard-b hour 10
    segments: 3,
    // log.json, streams/ none, snapshot.json, 3 segments, 1 gap
    objects: 6,
    bytes,
  };
  assert.deepEqual(await backupCoverage(log, { table: 'orders' }), expected);

  const json = await runCliCapture(['backup-status', dir, '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), expected);

  const text = await runCliCapture(['backup-status', dir, '--table', 'orders']);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(
    text.stdout,
    [
      `change log   ${dir} (table orders)`,
      'restorable   from 2026-12-02T09:00:02.000Z (1796202002000)',
      'first change 2026-12-02T09:00:10.000Z (1796202010000)',
      'last change  2026-12-02T10:00:07.000Z (1796205607000)',
      `objects      6 (3 change segments, ${bytes} bytes)`,
      'snapshots    1',
      '  20261202T090000000Z  backfill    42 items, started 2026-12-02T09:00:00.000Z (1796202000000), complete 2026-12-02T09:00:02.000Z (1796202002000)',
      'gaps         1',
      '  changes from 2026-12-02T09:00:20.000Z (1796202020000) until 2026-12-02T09:00:30.000Z (1796202030000) may be missing (stream records were trimmed before they were logged)',
      '',
    ].join('\n'),
  );
});

test("backup-status refuses (exit 2) what is not a change log, another table's log, a log mixing tables", async () => {
  const { dir, log } = await buildLog();
  const empty = await mkdtemp(path.join(tmpdir(), 'backup-status-empty-'));
  after(() => rm(empty, { recursive: true, force: true }));
  const notLog = await runCliCapture(['backup-status', empty]);
  assert.equal(notLog.code, 2);
  assert.equal(notLog.stdout, '');
  assert.match(notLog.stderr, /is not a change log \(no changes\/ or snapshots\/ in it\)/);
  await assert.rejects(backupCoverage(new FileObjectStore(empty)), NotFoundError);

  const other = await runCliCapture(['backup-status', dir, '--table', 'payments']);
  assert.equal(other.code, 2);
  assert.equal(
    other.stderr,
    `error: ${dir} is the change log of table "orders", hash id (S), no range key, not of table "payments"\n`,
  );
  assert.doesNotMatch(other.stderr, /\n\s+at /, 'no stack trace');

  await snapshot(log, '20261202T093000000Z', 'payments', T0 + 1_800_000);
  const mixed = await runCliCapture(['backup-status', dir]);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /holds parts of different tables/);
  await assert.rejects(backupCoverage(log), LogIdentityError);

  const bad = await runCliCapture(['backup-status', 's3://']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, '');
});
