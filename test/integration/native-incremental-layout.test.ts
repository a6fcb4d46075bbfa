/**
 * The reader of DynamoDB's incremental export layout (backup/native-incremental.ts) on hand-written
 * exports in a directory: what it accepts, and each corruption or inconsistency it refuses before
 * anything is indexed or restored. The coverage rule for restoring a moment from chained windows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { InvalidDataError, UsageError } from '../../src/core/errors.js';
import type { KeySchema } from '../../src/core/types.js';
import {
  assertExportCoverage,
  coverageHole,
  openIncrementalExport,
  recordToChange,
  type ExportWindow,
} from '../../src/backup/native-incremental.js';
import type { SnapshotInfo } from '../../src/backup/point-in-time.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';

const SCHEMA: KeySchema = { hash: { name: 'id', type: 'S' } };
const FROM = Date.parse('2026-11-01T00:00:00Z');
const TO = FROM + 3_600_000;

function line(id: string, micros: number, image?: Record<string, unknown>, old?: Record<string, unknown>) {
  return {
    Metadata: { WriteTimestampMicros: { N: String(micros) } },
    Keys: { id: { S: id } },
    ...(image ? { NewImage: { id: { S: id }, ...image } } : {}),
    ...(old ? { OldImage: { id: { S: id }, ...old } } : {}),
  };
}

/** Writes an incremental export as DynamoDB lays it out; `tamper` changes the data file after its MD5. */
async function writeExport(
  store: ObjectStore,
  id: string,
  lines: readonly object[],
  options: { ownDataFolder?: boolean; tamper?: (text: string) => string; summary?: object } = {},
): Promise<void> {
  const text = lines.map((l) => JSON.stringify(l) + '\n').join('');
  const gz = gzipSync(text);
  const dataKey = options.ownDataFolder ? `AWSDynamoDB/${id}/data/f1.json.gz` : 'AWSDynamoDB/data/f1.json.gz';
  await store.put(dataKey, options.tamper ? gzipSync(options.tamper(text)) : gz);
  const entry = {
    itemCount: lines.length,
    md5Checksum: createHash('md5').update(gz).digest('base64'),
    etag: 'e',
    dataFileS3Key: `prefix/incremental/${dataKey}`,
  };
  await store.put(`AWSDynamoDB/${id}/manifest-files.json`, JSON.stringify(entry) + '\n');
  await store.put(
    `AWSDynamoDB/${id}/manifest-summary.json`,
    JSON.stringify({
      version: '2023-08-01',
      exportFromTime: new Date(FROM).toISOString(),
      exportToTime: new Date(TO).toISOString(),
      itemCount: lines.length,
      outputFormat: 'DYNAMODB_JSON',
      outputView: 'NEW_AND_OLD_IMAGES',
      exportType: 'INCREMENTAL_EXPORT',
      ...options.summary,
    }),
  );
}

const fresh = () => openObjectStore(mkdtempSync(path.join(tmpdir(), 'incremental-')));
const open = (store: ObjectStore, id = 'e1') =>
  openIncrementalExport(store, id, { keySchema: SCHEMA, window: { from: FROM, to: TO } });

test('an export in the shared or its own data folder reads as changes ordered by WriteTimestampMicros', async () => {
  for (const ownDataFolder of [false, true]) {
    const store = fresh();
    const t = FROM * 1000;
    await writeExport(
      store,
      'e1',
      [
        line('a', t + 5, { v: { N: '1' } }),
        line('b', t + 7, { v: { N: '2' } }, { v: { N: '1' } }),
        line('c', t + 9, undefined, { v: { S: 'x' } }),
      ],
      { ownDataFolder },
    );
    const reader = await open(store);
    assert.equal(reader.itemCount, 3);
    const changes = [];
    for await (const r of reader.records()) changes.push(recordToChange(r, 'e1'));
    assert.deepEqual(
      changes.map((c) => [c.eventName, c.sequenceNumber, c.approximateCreationTime]),
      [
        ['INSERT', String(t + 5), FROM + 0.005],
        ['MODIFY', String(t + 7), FROM + 0.007],
        ['REMOVE', String(t + 9), FROM + 0.009],
      ],
    );
    assert.equal(changes[2]?.newImage, undefined);
  }
});

test('each inconsistency is refused with the file named', async () => {
  const t = FROM * 1000;
  const cases: [string, readonly object[], Parameters<typeof writeExport>[3], RegExp][] = [
    [
      'bad MD5',
      [line('a', t, { v: { S: 'x' } })],
      { tamper: (s) => s.replace('"x"', '"y"') },
      /MD5 .* does not match/,
    ],
    ['outside the window', [line('a', TO * 1000, { v: { S: 'x' } })], {}, /outside the export's window/],
    [
      'two records of one item',
      [line('a', t + 1, {}), line('a', t + 2, {})],
      {},
      /two records of \{"id":\{"S":"a"\}\}/,
    ],
    [
      'no timestamp',
      [{ Keys: { id: { S: 'a' } }, NewImage: { id: { S: 'a' } } }],
      {},
      /WriteTimestampMicros is missing/,
    ],
    [
      'keys beyond the key',
      [{ ...line('a', t, {}), Keys: { id: { S: 'a' }, x: { S: '1' } } }],
      {},
      /not the table's key/,
    ],
    [
      'image of another item',
      [{ ...line('a', t, {}), NewImage: { id: { S: 'b' } } }],
      {},
      /differs from the record's Keys/,
    ],
    [
      'a full export',
      [line('a', t, {})],
      { summary: { exportType: undefined } },
      /not an incremental export/,
    ],
    [
      'another window than indexed',
      [line('a', t, {})],
      { summary: { exportToTime: new Date(TO + 1000).toISOString() } },
      /is not the one indexed/,
    ],
  ];
  for (const [label, lines, options, message] of cases) {
    const store = fresh();
    await writeExport(store, 'e1', lines, options);
    await assert.rejects(
      open(store),
      (e: Error) => e instanceof InvalidDataError && message.test(e.message),
      label,
    );
  }
});

test('coverage: windows chained from the base restore any moment; a gap before the moment is refused', () => {
  const base = { id: 'base', startedAt: FROM, completedAt: FROM } as SnapshotInfo;
  const w = (from: number, to: number, exportId: string) => ({ from, to, exportId }) as ExportWindow;
  const hour = 3_600_000;
  const chained = [w(FROM, FROM + hour, 'a'), w(FROM + hour, FROM + 2 * hour, 'b')];
  for (const at of [FROM, FROM + hour, FROM + 2 * hour, FROM + 5 * hour])
    assertExportCoverage(chained, base, at, 'log');
  const gap = [w(FROM, FROM + hour, 'a'), w(FROM + 2 * hour, FROM + 3 * hour, 'c')];
  assertExportCoverage(gap, base, FROM + hour, 'log'); // the hole's start: still covered
  const hole = /\(hole 2026-11-01T01:00:00\.000Z – 2026-11-01T02:00:00\.000Z\)/;
  // Inside the hole, at its end and after it: refused, with the hole's exact bounds.
  for (const at of [FROM + hour + 1, FROM + 2 * hour - 1, FROM + 2 * hour, FROM + 4 * hour])
    assert.throws(
      () => assertExportCoverage(gap, base, at, 'log'),
      (e: Error) =>
        e instanceof UsageError &&
        /no export of the changes made from 2026-11-01T01:00:00.000Z \(\d+\) until 2026-11-01T02:00:00.000Z/.test(
          e.message,
        ) &&
        hole.test(e.message) &&
        /--from 2026-11-01T01:00:00.000Z --to 2026-11-01T02:00:00.000Z/.test(e.message),
      String(at),
    );
  // Mixed: stream segments to 00:30:00.250, then an export window from 01:00: a hole between them.
  const streamEnd = FROM + hour / 2 + 250;
  const late = [w(FROM + hour, FROM + 2 * hour, 'late')];
  assert.deepEqual(coverageHole(late, streamEnd, base), { from: streamEnd, to: FROM + hour, next: late[0] });
  assertExportCoverage(late, base, streamEnd, 'log', streamEnd);
  assert.throws(
    () => assertExportCoverage(late, base, FROM + hour + 10, 'log', streamEnd),
    (e: Error) =>
      e instanceof UsageError &&
      /\(hole 2026-11-01T00:30:00\.250Z – 2026-11-01T01:00:00\.000Z\)/.test(e.message),
  );
  // Overlapping coverage (segments past the window's start): no hole, any moment accepted.
  assert.equal(coverageHole(late, FROM + hour + 5, base), undefined);
  for (const at of [FROM + hour / 2, FROM + hour + 10, FROM + 3 * hour])
    assertExportCoverage(late, base, at, 'log', FROM + hour + 5);
  // Only segments: no hole, whatever the moment (the runner may still be logging).
  assert.equal(coverageHole([], streamEnd, base), undefined);
  // A window starting after the base leaves the time between them unexported.
  assert.throws(
    () => assertExportCoverage([w(FROM + hour, FROM + 2 * hour, 'b')], base, FROM + hour, 'log'),
    UsageError,
  );
});
