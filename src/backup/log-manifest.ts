/**
 * The change log's time index. There is no index object to update: the folder a segment is written
 * to *is* its index entry. Segments live under `changes/YYYY/MM/DD/HH/` by the creation time of
 * their changes (change-log.ts never lets a segment span two hours), and their names start with a
 * sortable 13-digit creation time. So:
 *
 * - writers never read-modify-write anything: concurrent writers (several Lambda shards, a runner,
 *   `incremental-backup-record`) cannot clobber each other's entries, with no S3 versioning and no
 *   conditional writes;
 * - a reader looking for changes between two times walks the year/month/day/hour folders with
 *   `listFolders` and lists only the hours that overlap the range (a folder wholly inside the range
 *   is listed in one recursive listing), never the whole log;
 * - a late upload (a retried Lambda batch hours later) still lands in the folder of its change time,
 *   which is the order point-in-time restore needs, not upload order.
 */
import type { ObjectInfo, ObjectStore } from '../storage/object-store.js';

export const CHANGES_FOLDER = 'changes';

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `YYYY/MM/DD/HH` (UTC) of an epoch-ms time. */
export function hourFolder(ms: number): string {
  const d = new Date(Math.max(0, Math.floor(ms)));
  return `${pad(d.getUTCFullYear(), 4)}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}`;
}

/** The folder (with trailing slash) a segment whose changes were created at `ms` is written to. */
export function segmentFolder(ms: number): string {
  return `${CHANGES_FOLDER}/${hourFolder(ms)}/`;
}

/** [start, end) in epoch ms of a time folder given as its path parts [YYYY, MM?, DD?, HH?]. */
export function folderSpan(parts: readonly number[]): [number, number] {
  const [y = 1970, m = 1, d = 1, h = 0] = parts;
  const start = Date.UTC(y, m - 1, d, h);
  let end: number;
  if (parts.length <= 1) end = Date.UTC(y + 1, 0, 1);
  else if (parts.length === 2) end = Date.UTC(y, m, 1);
  else if (parts.length === 3) end = Date.UTC(y, m - 1, d + 1);
  else end = Date.UTC(y, m - 1, d, h + 1);
  return [start, end];
}

export interface TimeRange {
  /** Inclusive lower bound, epoch ms; undefined = from the beginning of the log. */
  readonly from?: number;
  /** Inclusive upper bound, epoch ms; undefined = to the end of the log. */
  readonly to?: number;
}

function overlaps([start, end]: [number, number], range: TimeRange): 'none' | 'inside' | 'partial' {
  const from = range.from ?? -Infinity;
  const to = range.to ?? Infinity;
  if (end <= from || start > to) return 'none';
  if (start >= from && end - 1 <= to) return 'inside';
  return 'partial';
}

/**
 * Every segment object whose hour folder overlaps `range`, oldest hour first (names inside an hour
 * sorted by their leading time). Changes inside a returned segment may still fall outside the range
 * at the hour's edges; the caller filters changes by time.
 */
export async function* listSegments(store: ObjectStore, range: TimeRange = {}): AsyncIterable<ObjectInfo> {
  yield* walk(store, CHANGES_FOLDER, [], range);
}

async function* walk(
  store: ObjectStore,
  folder: string,
  parts: readonly number[],
  range: TimeRange,
): AsyncIterable<ObjectInfo> {
  if (parts.length > 0) {
    const relation = overlaps(folderSpan(parts), range);
    if (relation === 'none') return;
    if (relation === 'inside' || parts.length === 4) {
      yield* sortedSegments(store, folder);
      return;
    }
  }
  const children = (await store.listFolders(folder))
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(a) - Number(b));
  for (const child of children) yield* walk(store, `${folder}/${child}`, [...parts, Number(child)], range);
}

async function* sortedSegments(store: ObjectStore, folder: string): AsyncIterable<ObjectInfo> {
  // Listing order is key order, which is time order: folders are zero-padded and names start with
  // a 13-digit time. Objects that are not segments (stray uploads) are skipped here and never read.
  for await (const info of store.list(folder)) if (info.key.endsWith('.jsonl.gz')) yield info;
}
