/**
 * The incremental backup: a change log of gzipped JSON-lines segments. Every change is kept (not
 * only the last per key), with its event name, keys, images, sequence number, shard and creation
 * time, so any past state can be rebuilt and every version of an item listed.
 *
 * One segment is one object PUT: one per applied batch per shard (a Lambda batch of 100 records is
 * one PUT; the runner buffers up to N changes / T seconds). A segment never spans two hours of
 * creation time, so it lives in the hour folder of its changes (see log-manifest.ts) and readers
 * find it by time. Its name is derived from the shard and sequence range only, so a retried batch
 * overwrites its own object instead of adding a copy; readers still dedupe by (shard, sequence
 * number) because a re-delivered batch may be cut differently.
 *
 * Segment format: line 1 is a header `{"format":"dynamodb-replicator/change-log","version":1,
 * "count":N,"table":"<name>",...}` (the table is absent in segments written before logs recorded
 * their identity; see log-identity.ts), then N lines, one change each, images in DynamoDB JSON (numbers as exact strings,
 * binary as base64). gzip's CRC and length trailer plus the header's count catch truncation.
 */
import { gzip, gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { compareSequenceNumbers, type Change, type EventName } from '../core/change.js';
import { fromDynamoJson, toDynamoJson } from '../core/ddb-json.js';
import { InvalidDataError } from '../core/errors.js';
import { applyTurnover, type TurnoverFilter } from '../core/turnover.js';
import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import { claimLog, type LogClaim } from './log-identity.js';
import { CHANGES_FOLDER, hourFolder, listSegments, segmentFolder, type TimeRange } from './log-manifest.js';
import { readExportChanges } from './native-incremental.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export const SEGMENT_FORMAT = 'dynamodb-replicator/change-log';
export const SEGMENT_VERSION = 1;
export const SEGMENT_SUFFIX = '.jsonl.gz';

/** Shard name used for changes written by `incremental-backup-record` rather than read from a stream. */
export const SYNTHETIC_SHARD_PREFIX = 'record-';

/** What the first line of a segment says about the rest. */
export interface SegmentHeader {
  readonly format: typeof SEGMENT_FORMAT;
  readonly version: number;
  readonly count: number;
  readonly shardId: string;
  readonly firstSequenceNumber: string;
  readonly lastSequenceNumber: string;
  readonly minCreationTime: number;
  readonly maxCreationTime: number;
  /** The table whose stream the changes came from (absent in older segments). */
  readonly table?: string;
}

/** A change as stored in the log: a creation time and shard are always present. */
export type LoggedChange = Change & { readonly approximateCreationTime: number; readonly shardId: string };

/**
 * The time a change is filed and ordered under. Changes whose source gave no creation time are
 * filed under `fallback` (the time the writer saw them), which is the best estimate available.
 */
export function logTime(change: Change, fallback: number): number {
  const t = change.approximateCreationTime;
  return t !== undefined && Number.isFinite(t) ? t : fallback;
}

/** Order of changes in time: creation time, then sequence number, then shard (for a stable order). */
export function compareLogged(a: LoggedChange, b: LoggedChange): number {
  if (a.approximateCreationTime !== b.approximateCreationTime)
    return a.approximateCreationTime < b.approximateCreationTime ? -1 : 1;
  const bySequence = compareSequenceNumbers(a.sequenceNumber, b.sequenceNumber);
  if (bySequence !== 0) return bySequence;
  return a.shardId < b.shardId ? -1 : a.shardId > b.shardId ? 1 : 0;
}

/** Identity of a stream record, used to drop re-delivered copies. */
export function recordIdentity(change: LoggedChange): string {
  return `${change.shardId}/${change.sequenceNumber}`;
}

/** A planned segment: its object name (relative to the log root) and its changes in stream order. */
export interface PlannedSegment {
  readonly name: string;
  readonly header: SegmentHeader;
  readonly changes: readonly LoggedChange[];
}

const SAFE_SHARD = /^[A-Za-z0-9._-]+$/;

function padTime(ms: number): string {
  return String(Math.max(0, Math.floor(ms))).padStart(13, '0');
}

/**
 * Deterministic object name of a segment: `changes/YYYY/MM/DD/HH/<minTime>-<shard>-<first>-<last>.jsonl.gz`.
 * The leading creation time keeps names sortable by time inside an hour folder.
 */
export function segmentName(header: Omit<SegmentHeader, 'format' | 'version' | 'count'>): string {
  const shard = SAFE_SHARD.test(header.shardId) ? header.shardId : encodeURIComponent(header.shardId);
  return (
    `${segmentFolder(header.minCreationTime)}${padTime(header.minCreationTime)}-${shard}-` +
    `${header.firstSequenceNumber}-${header.lastSequenceNumber}${SEGMENT_SUFFIX}`
  );
}

/** The creation time a segment name starts with (for filtering a listing by time), or undefined. */
export function segmentNameTime(name: string): number | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const m = /^(\d{13})-/.exec(base);
  return m && base.endsWith(SEGMENT_SUFFIX) ? Number(m[1]) : undefined;
}

/**
 * Cuts one shard's batch into segments: changes sorted by sequence number, split where the hour of
 * creation time changes (rare: a batch spanning an hour boundary), so each segment lives in exactly
 * one hour folder. Changes from several shards are grouped per shard first.
 */
export function planSegments(
  changes: readonly Change[],
  now: number = Date.now(),
  table?: string,
): PlannedSegment[] {
  const byShard = new Map<string, LoggedChange[]>();
  for (const change of changes) {
    if (!change.sequenceNumber)
      throw new InvalidDataError('a change without a sequence number cannot be logged');
    const logged: LoggedChange = {
      ...change,
      approximateCreationTime: logTime(change, now),
      shardId: change.shardId ?? 'unknown-shard',
    };
    const list = byShard.get(logged.shardId) ?? [];
    list.push(logged);
    byShard.set(logged.shardId, list);
  }
  const segments: PlannedSegment[] = [];
  for (const [shardId, list] of byShard) {
    list.sort((a, b) => compareSequenceNumbers(a.sequenceNumber, b.sequenceNumber));
    let current: LoggedChange[] = [];
    let currentHour: string | undefined;
    const flush = () => {
      if (current.length > 0) segments.push(makeSegment(shardId, current, table));
      current = [];
    };
    for (const change of list) {
      const hour = hourFolder(change.approximateCreationTime);
      if (currentHour !== undefined && hour !== currentHour) flush();
      currentHour = hour;
      current.push(change);
    }
    flush();
  }
  return segments;
}

function makeSegment(shardId: string, changes: LoggedChange[], table?: string): PlannedSegment {
  const first = changes[0] as LoggedChange;
  const last = changes[changes.length - 1] as LoggedChange;
  let min = first.approximateCreationTime;
  let max = min;
  for (const c of changes) {
    min = Math.min(min, c.approximateCreationTime);
    max = Math.max(max, c.approximateCreationTime);
  }
  const header: SegmentHeader = {
    format: SEGMENT_FORMAT,
    version: SEGMENT_VERSION,
    count: changes.length,
    shardId,
    firstSequenceNumber: first.sequenceNumber,
    lastSequenceNumber: last.sequenceNumber,
    minCreationTime: min,
    maxCreationTime: max,
    ...(table !== undefined ? { table } : {}),
  };
  return { name: segmentName(header), header, changes };
}

function changeToLine(c: LoggedChange): string {
  const line: Record<string, unknown> = {
    eventName: c.eventName,
    keys: toDynamoJson(c.keys),
    sequenceNumber: c.sequenceNumber,
    shardId: c.shardId,
    approximateCreationTime: c.approximateCreationTime,
  };
  if (c.newImage) line.newImage = toDynamoJson(c.newImage);
  if (c.oldImage) line.oldImage = toDynamoJson(c.oldImage);
  if (c.streamViewType) line.streamViewType = c.streamViewType;
  if (c.eventId) line.eventId = c.eventId;
  return JSON.stringify(line);
}

/** The gzipped bytes of a segment. */
export async function encodeSegment(segment: PlannedSegment): Promise<Buffer> {
  const lines = [JSON.stringify(segment.header), ...segment.changes.map(changeToLine)];
  return gzipAsync(Buffer.from(lines.join('\n') + '\n', 'utf8'));
}

const EVENT_NAMES: ReadonlySet<string> = new Set(['INSERT', 'MODIFY', 'REMOVE']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseChange(value: unknown, where: string): LoggedChange {
  if (!isRecord(value)) throw new InvalidDataError(`${where}: expected a change object`);
  const { eventName, sequenceNumber, shardId, approximateCreationTime } = value;
  if (typeof eventName !== 'string' || !EVENT_NAMES.has(eventName))
    throw new InvalidDataError(`${where}: eventName must be INSERT, MODIFY or REMOVE`);
  if (typeof sequenceNumber !== 'string' || !/^\d+$/.test(sequenceNumber))
    throw new InvalidDataError(`${where}: sequenceNumber must be a decimal string`);
  if (typeof shardId !== 'string' || shardId === '')
    throw new InvalidDataError(`${where}: shardId is missing`);
  if (typeof approximateCreationTime !== 'number' || !Number.isFinite(approximateCreationTime))
    throw new InvalidDataError(`${where}: approximateCreationTime must be a number`);
  const change: {
    -readonly [K in keyof LoggedChange]: LoggedChange[K];
  } = {
    eventName: eventName as EventName,
    keys: fromDynamoJson(value.keys, `${where} keys`),
    sequenceNumber,
    shardId,
    approximateCreationTime,
  };
  if (value.newImage !== undefined) change.newImage = fromDynamoJson(value.newImage, `${where} newImage`);
  if (value.oldImage !== undefined) change.oldImage = fromDynamoJson(value.oldImage, `${where} oldImage`);
  if (typeof value.streamViewType === 'string')
    change.streamViewType = value.streamViewType as LoggedChange['streamViewType'];
  if (typeof value.eventId === 'string') change.eventId = value.eventId;
  return change;
}

/**
 * Decodes a segment's bytes; `name` is used in errors. A truncated or corrupt object, a count that
 * does not match the header or an invalid change is an InvalidDataError naming the object.
 */
export async function decodeSegment(bytes: Uint8Array, name: string): Promise<LoggedChange[]> {
  return (await decodeSegmentWithHeader(bytes, name)).changes;
}

/** decodeSegment, with the segment's header (what it says about itself, e.g. its table). */
export async function decodeSegmentWithHeader(
  bytes: Uint8Array,
  name: string,
): Promise<{ header: SegmentHeader; changes: LoggedChange[] }> {
  let text: string;
  try {
    text = (await gunzipAsync(bytes)).toString('utf8');
  } catch (error) {
    throw new InvalidDataError(
      `change log segment ${name} is truncated or corrupt (${(error as Error).message})`,
      { cause: error },
    );
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let header: unknown;
  try {
    header = JSON.parse(lines[0] ?? '');
  } catch {
    header = undefined;
  }
  if (!isRecord(header) || header.format !== SEGMENT_FORMAT)
    throw new InvalidDataError(`${name} is not a change log segment (no ${SEGMENT_FORMAT} header)`);
  if (header.version !== SEGMENT_VERSION)
    throw new InvalidDataError(`${name}: unsupported change log version ${String(header.version)}`);
  if (header.count !== lines.length - 1)
    throw new InvalidDataError(
      `change log segment ${name} is truncated: header says ${String(header.count)} changes, found ${lines.length - 1}`,
    );
  if (header.table !== undefined && (typeof header.table !== 'string' || header.table === ''))
    throw new InvalidDataError(`${name}: the header's table must be a table name`);
  const changes = lines.slice(1).map((line, i) => {
    const where = `${name} line ${i + 2}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new InvalidDataError(`${where}: not valid JSON`, { cause: error });
    }
    return parseChange(parsed, where);
  });
  return { header: header as unknown as SegmentHeader, changes };
}

/**
 * Checks a decoded segment before any of its changes is used (readers pass one that refuses
 * segments of another table or key schema; see log-identity.ts).
 */
export type SegmentCheck = (
  segment: { readonly header: SegmentHeader; readonly changes: readonly LoggedChange[] },
  name: string,
) => void;

/** Result of logging one batch: the objects written (one PUT each) and what could not be written. */
export interface LoggedBatch {
  /** Names (relative to the log root) of the segments durably written. */
  readonly objects: readonly string[];
  /** Changes durably written. */
  readonly written: number;
  /**
   * Segments whose PUT failed, in stream order, with the error. Their changes are not in the log; a
   * caller reporting partial batch failures names the first sequence number of the first one.
   */
  readonly failed: ReadonlyArray<{ readonly segment: PlannedSegment; readonly error: unknown }>;
}

/**
 * Writes one batch of changes to the log (`store` is rooted at the log): one object per shard per
 * hour of creation time, PUT concurrently. Never throws for a failed PUT: the result says which
 * segments failed, so a Lambda handler can report a partial batch failure.
 */
export async function writeChangeBatch(
  store: ObjectStore,
  changes: readonly Change[],
  options: {
    readonly now?: number;
    /** The table the changes belong to, recorded in each segment's header. */
    readonly table?: string;
  } = {},
): Promise<LoggedBatch> {
  const segments = planSegments(changes, options.now, options.table);
  const results = await Promise.allSettled(
    segments.map(async (segment) => store.put(segment.name, await encodeSegment(segment), SEGMENT_PUT)),
  );
  const objects: string[] = [];
  const failed: Array<{ segment: PlannedSegment; error: unknown }> = [];
  let written = 0;
  results.forEach((result, i) => {
    const segment = segments[i] as PlannedSegment;
    if (result.status === 'fulfilled') {
      objects.push(segment.name);
      written += segment.changes.length;
    } else failed.push({ segment, error: result.reason });
  });
  return { objects, written, failed };
}

const SEGMENT_PUT = { contentType: 'application/gzip' } as const;

/**
 * Reads every change in `range` from the log, segment by segment in time-folder order, then the
 * changes of the native incremental exports indexed in the log (native-incremental.ts; read in
 * place). Not globally sorted: sort or reduce with compareLogged. A re-delivered batch may appear
 * twice; pass `dedupe: true` to drop copies by (shard, sequence number) at the cost of remembering
 * each identity read, or reduce idempotently (last change per key) as point-in-time restore does.
 * `strictTo` refuses a `range.to` that cuts a native export's window where it hides changes.
 * Memory per step: one segment, or one export's changes in range.
 */
export async function* readChanges(
  store: ObjectStore,
  range: TimeRange = {},
  options: { readonly dedupe?: boolean; readonly check?: SegmentCheck; readonly strictTo?: boolean } = {},
): AsyncIterable<LoggedChange> {
  const seen = options.dedupe ? new Set<string>() : undefined;
  const from = range.from ?? -Infinity;
  const to = range.to ?? Infinity;
  for await (const info of listSegments(store, range)) {
    const segment = await decodeSegmentWithHeader(await store.get(info.key), info.key);
    options.check?.(segment, info.key);
    for (const change of segment.changes) {
      const t = change.approximateCreationTime;
      if (t < from || t > to) continue;
      if (seen) {
        const id = recordIdentity(change);
        if (seen.has(id)) continue;
        seen.add(id);
      }
      yield change;
    }
  }
  // One record per item and export: nothing to dedupe.
  yield* readExportChanges(store, range, {
    ...(options.check ? { check: options.check } : {}),
    ...(options.strictTo ? { strictTo: true } : {}),
  });
}

/**
 * Reads and decodes every segment in `range` before returning, so a corrupt or truncated segment
 * anywhere in the range fails before the caller acts on any of it ("nothing written").
 */
export async function verifySegments(
  store: ObjectStore,
  range: TimeRange = {},
  check?: SegmentCheck,
): Promise<number> {
  let n = 0;
  for await (const info of listSegments(store, range)) {
    const segment = await decodeSegmentWithHeader(await store.get(info.key), info.key);
    check?.(segment, info.key);
    n++;
  }
  return n;
}

/**
 * A sink for the stream runner's backup mode: logs every change the cut-over filter keeps (one
 * segment per page per shard) and throws if any segment could not be written, so the runner retries
 * the page and its checkpoint never passes an unlogged change. Refuses changes without new images.
 * With `owner`, the log's identity is claimed before the first write (a log of another table or key
 * schema is refused: see log-identity.ts) and segments record the table.
 *
 * @example
 * const runner = new StreamRunner({ ...options, logChanges: changeLogSink(openObjectStore('s3://my-logs/users')) });
 */
export function changeLogSink(
  store: ObjectStore,
  options: { readonly turnover?: TurnoverFilter; readonly owner?: LogClaim } = {},
): (changes: readonly Change[]) => Promise<void> {
  const owner = options.owner;
  let claimed: Promise<void> | undefined;
  return async (changes) => {
    const kept = applyTurnover(changes, options.turnover);
    assertNewImages(kept);
    if (kept.length === 0) return;
    if (owner) {
      claimed ??= claimLog(store, owner, formatStoreLocation(store.location));
      // A failed claim is retried with the next page rather than remembered.
      await claimed.catch((error: unknown) => {
        claimed = undefined;
        throw error;
      });
    }
    const result = await writeChangeBatch(store, kept, owner ? { table: owner.table } : {});
    const failure = result.failed[0];
    if (failure) throw failure.error;
  };
}

/** A backup rebuilds items from new images: refuse inserts/updates without one (KEYS_ONLY, OLD_IMAGE). */
export function assertNewImages(changes: readonly Change[]): void {
  for (const c of changes)
    if (c.eventName !== 'REMOVE' && !c.newImage)
      throw new InvalidDataError(
        `${c.eventName} record ${c.sequenceNumber} has no new image: a backup needs a stream with view type NEW_IMAGE or NEW_AND_OLD_IMAGES (got ${c.streamViewType ?? 'unknown'})`,
      );
}

/**
 * The creation time of the newest change the log's stream segments hold, or undefined when it has
 * none: the newest hour folder is found with four folder listings, and only the last segment of
 * each shard in it is read (a shard's segments follow its sequence numbers; none spans two hours).
 */
export async function lastStreamChange(store: ObjectStore): Promise<number | undefined> {
  let folder = CHANGES_FOLDER;
  for (let level = 0; level < 4; level++) {
    const newest = (await store.listFolders(folder)).filter((f) => /^\d+$/.test(f)).at(-1);
    if (newest === undefined) return undefined;
    folder = `${folder}/${newest}`;
  }
  const byShard = new Map<string, { key: string; last: string }>();
  for await (const info of store.list(folder)) {
    const m = /\/\d{13}-(.+)-(\d+)-(\d+)\.jsonl\.gz$/.exec(info.key);
    const [shard, last] = m ? [m[1] as string, m[3] as string] : [info.key, '0'];
    const seen = byShard.get(shard);
    if (!seen || compareSequenceNumbers(last, seen.last) > 0) byShard.set(shard, { key: info.key, last });
  }
  let newest: number | undefined;
  for (const { key } of byShard.values()) {
    const { header } = await decodeSegmentWithHeader(await store.get(key), key);
    newest = Math.max(newest ?? header.maxCreationTime, header.maxCreationTime);
  }
  return newest;
}
