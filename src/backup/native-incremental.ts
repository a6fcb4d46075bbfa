/**
 * DynamoDB's native incremental exports, read in place as part of a change log.
 *
 * An incremental export (ExportType INCREMENTAL_EXPORT, view NEW_AND_OLD_IMAGES) of the window
 * [from, to) is written by DynamoDB as
 *
 *   <log>/incremental/AWSDynamoDB/<exportId>/manifest-summary.json (+ .checksum)  exportType, window
 *   <log>/incremental/AWSDynamoDB/<exportId>/manifest-files.json   (+ .checksum)  MD5 and count per file
 *   <log>/incremental/AWSDynamoDB/data/<name>.json.gz    shared by all incremental exports of the prefix
 *
 * one line per item changed in the window: `{"Metadata":{"WriteTimestampMicros":{"N":"..."}},
 * "Keys":{...},"NewImage":{...},"OldImage":{...}}` in DynamoDB JSON. DynamoDB compacts a window to
 * the last change of each item (an insert then a delete leaves nothing); a delete has no NewImage.
 *
 * After `backup-table --native --incremental` has verified an export (every MD5 and count, every
 * record's keys, images and time inside the window), it indexes it with `exports/<from>-<to>-<id>.json`
 * in the log, written last: the change log's readers (readChanges) then read the export in place as
 * changes, ordered like logged stream records by time (WriteTimestampMicros) — one change per item
 * and window, so the order within a key is the order of the windows. Because a window keeps only an
 * item's last change, the state at a moment strictly inside a window is known only if no item changed
 * after that moment within it (readExportChanges refuses otherwise) or the log's stream segments
 * reach that moment (stateAt), and consecutive windows must leave no gap (assertExportCoverage).
 */
import { keyId, keyOf, scalarType } from '../core/canonical-key.js';
import { fromDynamoJson } from '../core/ddb-json.js';
import { InvalidDataError, UsageError } from '../core/errors.js';
import { formatTime } from '../core/time.js';
import type { Item, Key, KeySchema } from '../core/types.js';
import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import type { LoggedChange, SegmentCheck, SegmentHeader } from './change-log.js';
import {
  assertKeyed,
  EXPORT_ROOT,
  parseJsonObject,
  readDataFile,
  readManifests,
  verifyDataFiles,
  type ManifestFileEntry,
} from './export-layout.js';
import type { TimeRange } from './log-manifest.js';
import type { SnapshotInfo } from './point-in-time.js';

/** Where in a log incremental exports are written (their S3Prefix) and indexed. */
export const INCREMENTAL_FOLDER = 'incremental';
export const EXPORTS_INDEX_FOLDER = 'exports';
export const EXPORT_WINDOW_FORMAT = 'dynamodb-replicator/native-incremental-export';

/** `exports/<from>-<to>-<exportId>.json`: a verified incremental export, part of the log. */
export interface ExportWindow {
  readonly format: typeof EXPORT_WINDOW_FORMAT;
  readonly version: 1;
  readonly table: string;
  readonly exportArn: string;
  readonly exportId: string;
  /** The S3Prefix folder, relative to the log root, holding `AWSDynamoDB/<exportId>/`. */
  readonly folder: string;
  /** The window, epoch ms: changes written at `from` or later and before `to`. */
  readonly from: number;
  readonly to: number;
  readonly itemCount: number;
}

/** One record of an incremental export. */
export interface IncrementalRecord {
  /** WriteTimestampMicros, exact (a decimal string). */
  readonly micros: string;
  readonly keys: Key;
  readonly newImage?: Item;
  readonly oldImage?: Item;
}

const pad = (ms: number) => String(Math.max(0, Math.floor(ms))).padStart(13, '0');

export function exportWindowKey(w: Pick<ExportWindow, 'from' | 'to' | 'exportId'>): string {
  return `${EXPORTS_INDEX_FOLDER}/${pad(w.from)}-${pad(w.to)}-${w.exportId}.json`;
}

export async function writeExportWindow(logStore: ObjectStore, window: ExportWindow): Promise<void> {
  await logStore.put(exportWindowKey(window), JSON.stringify(window, null, 2) + '\n', {
    contentType: 'application/json',
  });
}

/** The indexed incremental exports of a log, by window start. */
export async function listExportWindows(logStore: ObjectStore): Promise<ExportWindow[]> {
  const where = formatStoreLocation(logStore.location);
  const out: ExportWindow[] = [];
  for await (const info of logStore.list(EXPORTS_INDEX_FOLDER)) {
    if (!info.key.endsWith('.json')) continue;
    const v = parseJsonObject((await logStore.get(info.key)).toString('utf8'), `${where}/${info.key}`);
    if (
      v.format !== EXPORT_WINDOW_FORMAT ||
      typeof v.table !== 'string' ||
      typeof v.exportId !== 'string' ||
      !/^[A-Za-z0-9._-]+$/.test(v.exportId) ||
      typeof v.folder !== 'string' ||
      typeof v.from !== 'number' ||
      typeof v.to !== 'number' ||
      !(v.from < v.to)
    )
      throw new InvalidDataError(`${where}/${info.key} is not a ${EXPORT_WINDOW_FORMAT} record`);
    out.push(v as unknown as ExportWindow);
  }
  return out.sort((a, b) => a.from - b.from || a.to - b.to);
}

/** A data file's key relative to the export prefix: the shared `AWSDynamoDB/data/` or the export's own. */
function incrementalDataKey(dataFileS3Key: string, exportId: string): string {
  const m = /(?:^|\/)AWSDynamoDB\/(?:([^/]+)\/)?data\/([^/]+)$/.exec(dataFileS3Key);
  if (!m?.[2] || m[2] === '.' || m[2] === '..')
    throw new InvalidDataError(`data file key "${dataFileS3Key}" is not under AWSDynamoDB/data/`);
  return m[1] ? `${EXPORT_ROOT}/${exportId}/data/${m[2]}` : `${EXPORT_ROOT}/data/${m[2]}`;
}

function micros(v: unknown, where: string): string {
  const text =
    typeof v === 'number' && Number.isSafeInteger(v)
      ? String(v)
      : typeof v === 'object' && v !== null && typeof (v as { N?: unknown }).N === 'string'
        ? (v as { N: string }).N
        : undefined;
  if (text === undefined || !/^\d{1,19}$/.test(text))
    throw new InvalidDataError(`${where}: Metadata.WriteTimestampMicros is missing or not a whole number`);
  return text;
}

function image(v: unknown, where: string, keys: Key, keySchema: KeySchema | undefined): Item | undefined {
  if (v === undefined) return undefined;
  const item = fromDynamoJson(v, where);
  if (keySchema) assertKeyed(item, keySchema, where);
  for (const [name, value] of Object.entries(keys))
    if (JSON.stringify(item[name]) !== JSON.stringify(value))
      throw new InvalidDataError(`${where}: key attribute "${name}" differs from the record's Keys`);
  return item;
}

/** Parses and checks one line of an incremental export. */
function parseIncrementalLine(keySchema: KeySchema | undefined) {
  return (record: Record<string, unknown>, where: string): IncrementalRecord => {
    const metadata = record.Metadata as Record<string, unknown> | undefined;
    const time = micros(metadata?.WriteTimestampMicros, where);
    const keys = fromDynamoJson(record.Keys, `${where} Keys`);
    if (keySchema) {
      const key = keyOf(keys, keySchema);
      if (Object.keys(keys).length !== Object.keys(key).length)
        throw new InvalidDataError(`${where}: Keys holds attributes that are not the table's key`);
    } else if (Object.keys(keys).length === 0 || Object.values(keys).some((v) => !scalarType(v)))
      throw new InvalidDataError(`${where}: Keys must be the item's key attributes`);
    const newImage = image(record.NewImage, `${where} NewImage`, keys, keySchema);
    const oldImage = image(record.OldImage, `${where} OldImage`, keys, keySchema);
    return { micros: time, keys, ...(newImage ? { newImage } : {}), ...(oldImage ? { oldImage } : {}) };
  };
}

/** An incremental export's manifests checked, its data files not yet read. */
export interface IncrementalExportFiles {
  readonly label: string;
  readonly window: { readonly from: number; readonly to: number };
  readonly itemCount: number;
  readonly files: readonly ManifestFileEntry[];
  /**
   * Streams one data file's records, verifying it as it goes: MD5, gzip, count, every record's keys
   * and images, its time inside the window, and one record per item within the file.
   */
  read(entry: ManifestFileEntry): AsyncIterable<IncrementalRecord>;
}

export interface IncrementalExportReader extends Omit<IncrementalExportFiles, 'read'> {
  /** Streams the records; MD5s and counts are checked again while streaming. */
  records(): AsyncIterable<IncrementalRecord>;
}

function summaryTime(v: unknown): number | undefined {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

/** A record is inside the window and the only one of its item so far (`seen`); else InvalidDataError. */
function checkRecord(
  record: IncrementalRecord,
  window: { from: number; to: number },
  seen: Set<string>,
  label: string,
): void {
  const t = Number(record.micros) / 1000;
  if (t < window.from || t >= window.to)
    throw new InvalidDataError(
      `${label}: a record of ${JSON.stringify(record.keys)} was written at ${formatTime(t)}, outside the export's window ${formatTime(window.from)} – ${formatTime(window.to)}`,
    );
  // DynamoDB keeps one record per item and window; two would leave the item's order to chance.
  const id = keyId(record.keys);
  if (seen.has(id))
    throw new InvalidDataError(`${label}: two records of ${JSON.stringify(record.keys)} in one export`);
  seen.add(id);
}

/**
 * The incremental export `exportId` under `prefixStore` (its S3Prefix) with its manifests checked
 * (checksums, the summary's window and total): the part of openIncrementalExport before the verify
 * pass, for a caller that verifies the files in slices. The window is the summary's, else
 * `window` (what DynamoDB reported).
 */
export async function openIncrementalExportFiles(
  prefixStore: ObjectStore,
  exportId: string,
  options: { readonly keySchema?: KeySchema; readonly window?: { from: number; to: number } } = {},
): Promise<IncrementalExportFiles> {
  const folder = prefixStore.at(`${EXPORT_ROOT}/${exportId}`);
  const label = formatStoreLocation(folder.location);
  const { summary, files } = await readManifests(folder, label, true);
  const raw = summary as unknown as Record<string, unknown>;
  const from = summaryTime(raw.exportFromTime) ?? options.window?.from;
  const to = summaryTime(raw.exportToTime) ?? options.window?.to;
  if (from === undefined || to === undefined || !(from < to))
    throw new InvalidDataError(`${label}: the export's window (exportFromTime, exportToTime) is unknown`);
  if (options.window && (options.window.from !== from || options.window.to !== to))
    throw new InvalidDataError(
      `${label}: its summary's window ${formatTime(from)} – ${formatTime(to)} is not the one indexed (${formatTime(options.window.from)} – ${formatTime(options.window.to)})`,
    );
  const listed = files.reduce((n, f) => n + f.itemCount, 0);
  if (listed !== summary.itemCount)
    throw new InvalidDataError(
      `${label}: manifest-files.json lists ${listed} items but the summary says ${summary.itemCount}`,
    );
  const parse = parseIncrementalLine(options.keySchema);
  const window = { from, to };
  return {
    label,
    window,
    itemCount: summary.itemCount,
    files,
    async *read(entry) {
      const seen = new Set<string>();
      const key = incrementalDataKey(entry.dataFileS3Key, exportId);
      for await (const record of readDataFile(prefixStore, key, entry, label, parse)) {
        checkRecord(record, window, seen, label);
        yield record;
      }
    },
  };
}

/**
 * Opens and verifies the incremental export `exportId` under `prefixStore` (its S3Prefix): the
 * manifests' checksums, every data file's MD5 and count, every record's keys and images, each
 * record's time inside the window, and one record per item across the whole export.
 */
export async function openIncrementalExport(
  prefixStore: ObjectStore,
  exportId: string,
  options: { readonly keySchema?: KeySchema; readonly window?: { from: number; to: number } } = {},
): Promise<IncrementalExportReader> {
  const { read, ...opened } = await openIncrementalExportFiles(prefixStore, exportId, options);
  const seen = new Set<string>();
  await verifyDataFiles(opened.files, 4, async function* (entry) {
    for await (const record of read(entry)) {
      checkRecord(record, opened.window, seen, opened.label);
      yield record;
    }
  });
  return {
    ...opened,
    async *records() {
      for (const entry of opened.files) yield* read(entry);
    },
  };
}

/** An incremental export record as a logged change, timed and ordered by its WriteTimestampMicros. */
export function recordToChange(record: IncrementalRecord, exportId: string): LoggedChange {
  return {
    eventName: record.newImage ? (record.oldImage ? 'MODIFY' : 'INSERT') : 'REMOVE',
    keys: record.keys,
    ...(record.newImage ? { newImage: record.newImage } : {}),
    ...(record.oldImage ? { oldImage: record.oldImage } : {}),
    sequenceNumber: record.micros,
    shardId: `export-${exportId}`,
    approximateCreationTime: Number(record.micros) / 1000,
  };
}

/**
 * The changes in `range` held by the log's indexed incremental exports, export by export (each
 * verified in full when opened, then streamed). With `strictTo`, a `range.to` strictly inside a window whose items changed
 * after it is refused (UsageError): the export kept only their last change, so their state at
 * `range.to` is unknown.
 */
export async function* readExportChanges(
  logStore: ObjectStore,
  range: TimeRange,
  options: {
    readonly check?: SegmentCheck;
    readonly strictTo?: boolean;
    readonly keySchema?: KeySchema;
  } = {},
): AsyncIterable<LoggedChange> {
  const lo = range.from ?? -Infinity;
  const hi = range.to ?? Infinity;
  for (const w of await listExportWindows(logStore)) {
    if (w.to <= lo || w.from > hi) continue;
    const reader = await openIncrementalExport(logStore.at(w.folder), w.exportId, {
      window: { from: w.from, to: w.to },
      ...(options.keySchema ? { keySchema: options.keySchema } : {}),
    });
    // Streamed: the export was verified in full when opened; memory stays one record.
    let later = 0;
    for await (const record of reader.records()) {
      const change = recordToChange(record, w.exportId);
      const t = change.approximateCreationTime;
      if (t > hi) later++;
      if (t > hi || t < lo) continue;
      options.check?.({ header: exportHeader(w, change), changes: [change] }, exportWindowKey(w));
      yield change;
    }
    // At the window's very start nothing of it has happened yet (but a write at that exact moment).
    if (options.strictTo && later > 0 && hi > w.from)
      throw new UsageError(
        `${formatTime(hi)} is inside native incremental export ${w.exportId} (${formatTime(w.from)} – ${formatTime(w.to)}), ` +
          `which keeps only the last change of each item in its window: ${later} item${later === 1 ? '' : 's'} changed after ${formatTime(hi)} within it, so their state then is unknown. ` +
          `Choose a time before ${formatTime(w.from)} or at or after ${formatTime(w.to)}.`,
      );
  }
}

/** What a segment header would say about an export's change, for the log's identity checks. */
function exportHeader(w: ExportWindow, change: LoggedChange): SegmentHeader {
  return {
    format: 'dynamodb-replicator/change-log',
    version: 1,
    count: 1,
    shardId: change.shardId,
    firstSequenceNumber: change.sequenceNumber,
    lastSequenceNumber: change.sequenceNumber,
    minCreationTime: change.approximateCreationTime,
    maxCreationTime: change.approximateCreationTime,
    table: w.table,
  };
}

/** Where the log's coverage from its base first breaks: no change is known from `from` until `to`. */
export interface CoverageHole {
  /** Epoch ms: covered up to here (the base, the end of a window, or the last logged stream change). */
  readonly from: number;
  /** Epoch ms: where coverage resumes (the start of the next export window). */
  readonly to: number;
  /** The export window that resumes it. */
  readonly next: ExportWindow;
}

/**
 * The first hole in a log's coverage after `base`. Export windows cover [from, to); the stream
 * segments cover from the base to their last change (`streamEnd`: the runner's log is continuous,
 * its recorded gaps are checked apart). A time after the last piece of coverage is an open tail, not
 * a hole (the runner may still be logging): a hole is a stretch with coverage resuming after it.
 */
export function coverageHole(
  windows: readonly ExportWindow[],
  streamEnd: number | undefined,
  base: Pick<SnapshotInfo, 'startedAt'>,
): CoverageHole | undefined {
  let covered = Math.max(base.startedAt, streamEnd ?? -Infinity);
  for (const w of [...windows].sort((a, b) => a.from - b.from || a.to - b.to)) {
    if (w.to <= covered) continue;
    if (w.from > covered) return { from: covered, to: w.from, next: w };
    covered = w.to;
  }
  return undefined;
}

/**
 * Refuses (UsageError) a moment `at` after a hole in the log's coverage from `base` (see
 * coverageHole): every instant from the base to `at` must be covered by stream segments or export
 * windows. The error names the hole's exact bounds and the export that would fill it.
 */
export function assertExportCoverage(
  windows: readonly ExportWindow[],
  base: SnapshotInfo,
  at: number,
  where: string,
  streamEnd?: number,
): void {
  const hole = coverageHole(windows, streamEnd, base);
  if (!hole || at <= hole.from) return;
  const [from, to] = [new Date(hole.from).toISOString(), new Date(hole.to).toISOString()];
  throw new UsageError(
    `${where} has no export of the changes made from ${formatTime(hole.from)} until ${formatTime(hole.to)}: ` +
      `its base snapshot ${base.id}, its stream segments and the incremental exports after it reach ${from}, the next export (${hole.next.exportId}) starts at ${to}, ` +
      `so ${formatTime(at)} cannot be restored exactly (hole ${from} – ${to}). Export that window ` +
      `(\`backup-table --native --incremental --from ${from} --to ${to}\`) or choose a time at or before ${from}.`,
  );
}
