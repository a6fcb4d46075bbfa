/**
 * One coverage rule for a change log fed both by stream segments (the runner, `replicate <table>
 * --backup LOG`) and by native incremental exports (`backup-table --native --incremental`), end to
 * end on a real log: segments cover from the base to their newest change, an export window covers
 * [from, to), a hole is a stretch covered by neither with coverage resuming after it, and every
 * moment after a hole's start is refused with its exact UTC bounds by `restore --at`,
 * `diff-tables --against-backup --at` and reported by `backup-status`.
 *
 * DynamoDB Local has no export API: the exports here come from the export stand-in
 * (test/harness/export-stand-in.ts), which answers ExportTableToPointInTime and DescribeExport in
 * front of DynamoDB Local, times each stream record when it first reads it (`observe`, called right
 * after each batch of writes) and writes the documented export layout into the S3 test server.
 *
 * DynamoDB Local stamps stream records with whole minutes (ApproximateCreationDateTime), so the
 * runner's segments record the writes of a phase as made at the minute they began in: each test
 * waits for a minute boundary after its base snapshot, so the segments' newest change (read from the
 * stream itself) lies after the base's start and it, not the base, ends the segments' coverage.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { listSnapshots, type SnapshotInfo } from '../../src/backup/point-in-time.js';
import { canonicalKey } from '../../src/core/canonical-key.js';
import type { Item } from '../../src/core/types.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint, streamsClient } from '../harness/dynamodb.js';
import { startExportStandIn } from '../harness/export-stand-in.js';
import { startLocalS3 } from '../harness/s3.js';
import { readStream } from '../harness/stream-capture.js';
import { scanAll } from '../harness/table-items.js';

// Set up at the top level: the harness stops its servers after the file, not after a hook.
const endpoint = await dynamoEndpoint();
const host = new URL(endpoint).host;
const client = dynamoClient(endpoint);
const streams = streamsClient(endpoint);
const s3 = await startLocalS3();
const bucket = await s3.createBucket();
const standIn = await startExportStandIn(endpoint, s3.client);
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const env = {
  ...process.env,
  S3_ENDPOINT: s3.endpoint,
  S3_ACCESS_KEY_ID: credentials.accessKeyId,
  S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
};
const cli = (...argv: string[]) => runCliCapture(argv, { env });
const iso = (ms: number) => new Date(ms).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const row = (id: string, v: string): Item => ({
  id: { S: id },
  v: { N: v },
  big: { N: '12345678901234567890123456789012345678' },
});
const put = (table: string, ...items: Item[]) =>
  Promise.all(
    items.map((Item) => client.send(new PutItemCommand({ TableName: table, Item: Item as never }))),
  );
const remove = (table: string, id: string) =>
  client.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: id } } }));

/** The table's items, sorted by key: for exact comparison. */
async function state(table: string): Promise<Item[]> {
  const items = await scanAll(client, table);
  const key = (i: Item) => canonicalKey({ id: i.id as never });
  return items.sort((a, b) => (key(a) < key(b) ? -1 : 1));
}

/**
 * Waits until a whole second at least 100 ms away has begun, and returns it: the stand-in times
 * records when observed, so writes observed before and after it fall on its two sides.
 */
async function nextSecond(): Promise<number> {
  const second = Math.ceil((Date.now() + 100) / 1000) * 1000;
  while (Date.now() < second + 20) await sleep(10);
  return second;
}

/** Waits until the first minute boundary at least 2 s after `after` has passed, and returns it. */
async function nextMinute(after: number): Promise<number> {
  const minute = Math.ceil((after + 2_000) / 60_000) * 60_000;
  while (Date.now() < minute + 50) await sleep(Math.min(1_000, minute + 50 - Date.now()));
  return minute;
}

/** A source table with a stream, its change log in S3, and the runner that feeds it. */
async function setUp(t: { after: (fn: () => Promise<void>) => void }) {
  const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
  const root = `s3://${bucket}/mixed-${table}`;
  const log = `${root}/${table}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'mixed-log-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let records = 0;
  return {
    table,
    log,
    /** Writes, then lets the stand-in time the `count` stream records they made. */
    async write(count: number, act: () => Promise<unknown>) {
      await act();
      records += count;
      await standIn.observe(table, count);
    },
    /** The runner logs what the stream holds, then stops. */
    async runner() {
      const r = await cli(
        'replicate',
        `${host}/${table}`,
        '--backup',
        root,
        '--checkpoint',
        path.join(dir, 'cp.json'),
        '--stop-when-idle',
        '1s',
        '--json',
      );
      assert.equal(r.code, 0, r.stderr);
    },
    /** `incremental-backfill`: the log's base snapshot (the runner has been logging before it). */
    async backfill(): Promise<SnapshotInfo> {
      const r = await cli('incremental-backfill', `${host}/${table}`, log, '--json');
      assert.equal(r.code, 0, r.stderr);
      const snapshots = await listSnapshots(
        openObjectStore(log, { s3: { endpoint: s3.endpoint, credentials } }),
      );
      assert.equal(snapshots.length, 1);
      return snapshots[0] as SnapshotInfo;
    },
    /** The newest creation time on the stream: what the runner's segments recorded last. */
    async streamEnd(): Promise<number> {
      const { records: all } = await readStream(client, streams, table, records);
      return Math.max(...all.map((r) => (r.dynamodb?.ApproximateCreationDateTime as Date).getTime()));
    },
    /** `backup-table --native --incremental` of [from, to): the number of items exported. */
    async exportWindow(from: number, to: number): Promise<number> {
      const r = await cli(
        'backup-table',
        `${standIn.endpoint}/${table}?region=us-east-1`,
        log,
        '--native',
        '--incremental',
        '--from',
        iso(from),
        '--to',
        iso(to),
        '--json',
      );
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { kind: string; from: number; to: number; items: number };
      assert.deepEqual([out.kind, out.from, out.to], ['incremental', from, to]);
      return out.items;
    },
    /** `restore LOG <new empty table> --at at`: the exit code, stderr and the target's items after. */
    async restoreAt(at: number) {
      const target = await createTestTable(client);
      const r = await cli('restore', log, `${host}/${target}`, '--at', iso(at));
      return { code: r.code, stdout: r.stdout, stderr: r.stderr, items: await state(target) };
    },
    diffAt: (at: number) =>
      cli('diff-tables', `${host}/${table}`, log, '--against-backup', '--at', iso(at), '--json'),
    status: (...extra: string[]) => cli('backup-status', log, ...extra),
  };
}

type Counts = { total: number; missing: number; different: number; extraneous: number };
const discrepancies = (stdout: string) => (JSON.parse(stdout) as { discrepancies: Counts }).discrepancies;

/** The hole's part of every refusal: its exact UTC bounds and the export that fills it. */
function assertHoleRefusal(
  r: { code: number; stdout: string; stderr: string },
  from: number,
  to: number,
  label: string,
) {
  assert.equal(r.code, 2, `${label}: ${r.stdout}${r.stderr}`);
  assert.ok(r.stderr.startsWith('error: '), `${label}: ${r.stderr}`);
  assert.ok(r.stderr.includes(`(hole ${iso(from)} – ${iso(to)})`), `${label}: ${r.stderr}`);
  assert.ok(
    r.stderr.includes(`backup-table --native --incremental --from ${iso(from)} --to ${iso(to)}`),
    `${label}: ${r.stderr}`,
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${label}: no stack trace`);
}

const HOLE_LINE = (from: number, to: number) =>
  `hole         ${iso(from)} – ${iso(to)}: no stream segment or export window covers it; no time after ${iso(from)} is restorable from the newest base until it is exported (backup-table --native --incremental --from ${iso(from)} --to ${iso(to)})`;

// Both cases wait for a minute boundary: run side by side, the file waits for about one.
describe('a change log fed by the runner and by native incremental exports', { concurrency: 2 }, () => {
  test('segments, unrecorded writes, then a later export window: the hole is refused with its exact bounds, reported, and filled', async (t) => {
    const s = await setUp(t);
    await s.write(4, () => put(s.table, row('s0', '0'), row('s1', '1'), row('s2', '2'), row('s3', '3')));
    const state0 = await state(s.table);
    await s.runner();
    const base = await s.backfill();
    assert.equal(base.itemCount, 4);

    // 1. Writes the runner records.
    const minute = await nextMinute(base.completedAt);
    await s.write(3, async () => {
      await put(s.table, row('s1', '11'), row('a1', '100'));
      await remove(s.table, 's2');
    });
    const state1 = await state(s.table);
    await s.runner();
    const streamEnd = await s.streamEnd();
    assert.equal(streamEnd, minute, 'DynamoDB Local stamps the minute the writes were made in');
    assert.ok(streamEnd > base.startedAt, 'the segments, not the base, end the stream coverage');

    // 2. Writes nothing records.
    await s.write(3, async () => {
      await put(s.table, row('a1', '101'), row('b1', '200'));
      await remove(s.table, 's3');
    });
    const state2 = await state(s.table);

    // 3. An export window starting after the segments' newest change, and writes it covers.
    const from = await nextSecond();
    await s.write(3, async () => {
      await put(s.table, row('s1', '12'), row('c1', '300'));
      await remove(s.table, 'b1');
    });
    const state3 = await state(s.table);
    const to = await nextSecond();
    assert.equal(await s.exportWindow(from, to), 3); // s1, c1, b1 (inserted before the window, deleted in it)
    assert.deepEqual(
      [state0, state1, state2, state3].map((items) => items.map((i) => (i.id as { S: string }).S)),
      [
        ['s0', 's1', 's2', 's3'],
        ['a1', 's0', 's1', 's3'],
        ['a1', 'b1', 's0', 's1'],
        ['a1', 'c1', 's0', 's1'],
      ],
    );

    // backup-status reports the hole [streamEnd, from), as JSON and as text.
    const json = await s.status('--json');
    assert.equal(json.code, 0, json.stderr);
    const coverage = JSON.parse(json.stdout) as { hole?: unknown; lastChange: number };
    assert.deepEqual(coverage.hole, { from: streamEnd, to: from });
    assert.equal(coverage.lastChange, streamEnd);
    const text = await s.status();
    assert.equal(text.code, 0, text.stderr);
    assert.deepEqual(
      text.stdout.split('\n').filter((l) => l.startsWith('hole')),
      [HOLE_LINE(streamEnd, from)],
    );

    // Inside the hole, at its end and after it (inside the export window): refused, nothing written.
    // After the hole the state would lack a1's and s3's changes of step 2, which no part of the log holds.
    for (const at of [streamEnd + 1, Math.floor((streamEnd + from) / 2), from - 1, from, to - 1, to]) {
      const r = await s.restoreAt(at);
      assertHoleRefusal(r, streamEnd, from, `restore --at ${iso(at)}`);
      assert.deepEqual(r.items, [], `restore --at ${iso(at)} wrote nothing`);
      assertHoleRefusal(await s.diffAt(at), streamEnd, from, `diff-tables --at ${iso(at)}`);
    }
    // The hole's start is still covered: the base plus every change the segments logged.
    const atEnd = await s.restoreAt(streamEnd);
    assert.equal(atEnd.code, 0, atEnd.stderr);
    assert.deepEqual(atEnd.items, state1);
    let diff = await s.diffAt(streamEnd);
    assert.equal(diff.code, 1, diff.stderr);
    // The table (state 3) against the log's state then (state 1): c1 only in the table, s1 and a1
    // changed, s3 only in the backup.
    assert.deepEqual(discrepancies(diff.stdout), { total: 4, missing: 1, different: 2, extraneous: 1 });

    // Exporting the window the error names fills the hole: every moment is restorable, exactly.
    assert.equal(await s.exportWindow(streamEnd, from), 5); // s1, a1, s2, b1, s3
    const filled = await s.status('--json');
    assert.equal(filled.code, 0, filled.stderr);
    assert.equal((JSON.parse(filled.stdout) as { hole?: unknown }).hole, undefined);
    assert.deepEqual(
      (await s.status()).stdout.split('\n').filter((l) => l.startsWith('hole')),
      [],
    );
    for (const [at, expected, label] of [
      [streamEnd, state1, 'the segments end'],
      [from - 1, state2, 'the end of the filled window'],
      [to - 1, state3, 'the end of the later window'],
    ] as const) {
      const r = await s.restoreAt(at);
      assert.equal(r.code, 0, `${label}: ${r.stderr}`);
      assert.deepEqual(r.items, expected, label);
    }
    diff = await s.diffAt(to - 1);
    assert.equal(diff.code, 0, diff.stderr);
    assert.deepEqual(discrepancies(diff.stdout), { total: 0, missing: 0, different: 0, extraneous: 0 });
  });

  test('an export window overlapping the segments: no hole, every moment from the base on is accepted and exact', async (t) => {
    const s = await setUp(t);
    await s.write(3, () => put(s.table, row('o0', '0'), row('o1', '1'), row('o2', '2')));
    const state0 = await state(s.table);
    await s.runner();
    const base = await s.backfill();

    // The window starts a second before the minute the runner's writes are stamped with.
    const minute = await nextMinute(base.completedAt);
    const from = minute - 1_000;
    assert.ok(from > base.completedAt);
    await s.write(2, () => put(s.table, row('o1', '11'), row('p1', '100')));
    const state1 = await state(s.table);
    await s.runner();
    const streamEnd = await s.streamEnd();
    assert.equal(streamEnd, minute);

    // Writes nothing but the export records.
    await s.write(3, async () => {
      await put(s.table, row('p1', '101'), row('p2', '200'));
      await remove(s.table, 'o0');
    });
    const state2 = await state(s.table);
    const to = await nextSecond();
    assert.equal(await s.exportWindow(from, to), 4); // o1, p1, p2, o0
    assert.ok(from < streamEnd && streamEnd < to, 'the window overlaps the segments');

    const json = await s.status('--json');
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { hole?: unknown }).hole, undefined);
    const text = await s.status();
    assert.deepEqual(
      text.stdout.split('\n').filter((l) => l.startsWith('hole')),
      [],
    );

    const now = Date.now();
    for (const [at, expected, label] of [
      [base.completedAt, state0, 'the base'],
      [from, state0, 'the window start (inside the overlap)'],
      [streamEnd, state1, 'the segments end (inside the overlap)'],
      [to - 1, state2, 'the end of the window'],
      [now, state2, 'after all coverage'],
    ] as const) {
      const r = await s.restoreAt(at);
      assert.equal(r.code, 0, `${label}: ${r.stderr}`);
      assert.deepEqual(r.items, expected, label);
    }
    // Past the segments' end only the window covers: a moment inside it that hides later changes
    // is refused by the window's own rule (every item changed after it), not as a hole.
    const past = await s.restoreAt(streamEnd + 1);
    assert.equal(past.code, 2, past.stderr);
    assert.ok(
      past.stderr.includes(`(${iso(from)} (${from}) – ${iso(to)} (${to})), which keeps only the last change`),
      past.stderr,
    );
    assert.match(past.stderr, /: 4 items changed after /);
    assert.doesNotMatch(past.stderr, /hole/);
    assert.deepEqual(past.items, []);
    let diff = await s.diffAt(streamEnd);
    assert.equal(diff.code, 1, diff.stderr);
    // The table (state 2) against state 1: p2 only in the table, p1 changed, o0 only in the backup.
    assert.deepEqual(discrepancies(diff.stdout), { total: 3, missing: 1, different: 1, extraneous: 1 });
    diff = await s.diffAt(to - 1);
    assert.equal(diff.code, 0, diff.stderr);
  });
});
