/**
 * The state of a table at a moment T, rebuilt from a change log: a base snapshot plus every logged
 * change created at or before T, the last change of each key winning in order of (creation time,
 * sequence number) — never upload time.
 *
 * Snapshots live in the log under `snapshots/<id>/` (export layout + `snapshot.json`, written by
 * `incremental-backfill` and `incremental-snapshot`). A backfill's scan takes time, so its items are
 * a mix of states between `startedAt` and `completedAt`; the log fixes that up: every key changed
 * since shortly before the scan started takes its last logged change, and a key that did not change
 * cannot differ from what the scan read. Hence:
 * - the log covers T from the earliest snapshot's `completedAt` on (an earlier T is refused);
 * - changes are read from the base's `startedAt - STREAM_CLOCK_MARGIN_MS`: stream creation times are
 *   truncated to the second and come from DynamoDB's clock, the scan times from ours; re-applying a
 *   change the scan already saw is harmless because only the last change of each key counts;
 * - the log must have been recording when the backfill started (start the backup first);
 * - a recorded gap (stream records trimmed before the runner logged them, `gaps/<id>.json`) makes
 *   every T from its `lossFrom` on unknowable from a base older than the gap: such a T is refused
 *   until a base snapshot started after the gap was detected (the runner's resync writes one), and
 *   changes logged before the gap are not applied over such a base (see changesFrom).
 *
 * Memory bound: one entry per distinct key changed between the base's start and T (the key id and
 * the key's last image), plus one segment being decoded; the base snapshot's items are streamed.
 * Compact regularly with `incremental-snapshot` to keep that window short.
 */
import { formatTime } from '../core/time.js';
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import { keyId, keyOf } from '../core/canonical-key.js';
import { STREAM_CLOCK_MARGIN_MS } from '../core/change.js';
import { InvalidDataError, NotFoundError, UsageError } from '../core/errors.js';
import type { Item, KeySchema } from '../core/types.js';
import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import {
  compareLogged,
  lastStreamChange,
  readChanges,
  type LoggedChange,
  type SegmentCheck,
} from './change-log.js';
import { openExport } from './export-layout.js';
import { checkedLogOwner, segmentCheck } from './log-identity.js';
import { CHANGES_FOLDER } from './log-manifest.js';
import { assertExportCoverage, EXPORTS_INDEX_FOLDER, listExportWindows } from './native-incremental.js';
import type { RestoreSourceDetector, SourceParts } from './restore-source.js';

export const SNAPSHOTS_FOLDER = 'snapshots';
export const SNAPSHOT_INFO = 'snapshot.json';
export const SNAPSHOT_FORMAT = 'dynamodb-replicator/snapshot';

/** What `snapshot.json` records about a snapshot in the log. */
export interface SnapshotInfo {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly version: 1;
  /** Folder name under `snapshots/`: a sortable UTC time. */
  readonly id: string;
  /** backfill: a scan; compaction: base + log; export: a native full export (exact at its moment). */
  readonly kind: 'backfill' | 'compaction' | 'export';
  readonly table: string;
  /** Epoch ms: when the scan started (a compaction: its moment, or when it ran if that was earlier). */
  readonly startedAt: number;
  /** Epoch ms: from this moment on the snapshot plus the log give the exact state. */
  readonly completedAt: number;
  readonly itemCount: number;
  /** The export folder (AWS export layout) inside the snapshot folder, e.g. `AWSDynamoDB/<id>`. */
  readonly exportFolder: string;
}

/** A sortable folder name for a time: `20261127T095715123Z`. */
export function snapshotId(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:.]/g, '');
}

export async function writeSnapshotInfo(snapshotStore: ObjectStore, info: SnapshotInfo): Promise<void> {
  await snapshotStore.put(SNAPSHOT_INFO, JSON.stringify(info, null, 2) + '\n', {
    contentType: 'application/json',
  });
}

function parseSnapshotInfo(text: string, where: string): SnapshotInfo {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (cause) {
    throw new InvalidDataError(`${where} is not valid JSON`, { cause });
  }
  const info = v as Partial<SnapshotInfo> | null;
  if (
    !info ||
    info.format !== SNAPSHOT_FORMAT ||
    typeof info.startedAt !== 'number' ||
    typeof info.completedAt !== 'number' ||
    typeof info.id !== 'string' ||
    typeof info.exportFolder !== 'string'
  )
    throw new InvalidDataError(`${where} is not a ${SNAPSHOT_FORMAT} description`);
  return info as SnapshotInfo;
}

/**
 * The snapshots of a log, oldest first by `completedAt`. Folders without a `snapshot.json` (a
 * backfill still running or one that failed) are ignored: they are not usable bases.
 */
export async function listSnapshots(logStore: ObjectStore): Promise<SnapshotInfo[]> {
  const out: SnapshotInfo[] = [];
  for (const folder of await logStore.listFolders(SNAPSHOTS_FOLDER)) {
    const key = `${SNAPSHOTS_FOLDER}/${folder}/${SNAPSHOT_INFO}`;
    if (!(await logStore.exists(key))) continue;
    // The folder name is the id that locates it, whatever name the snapshot was written under.
    out.push({ ...parseSnapshotInfo((await logStore.get(key)).toString('utf8'), key), id: folder });
  }
  return out.sort((a, b) => a.completedAt - b.completedAt || a.id.localeCompare(b.id));
}

/** The folder of a snapshot in its log. */
export function snapshotStore(logStore: ObjectStore, info: SnapshotInfo): ObjectStore {
  return logStore.at(`${SNAPSHOTS_FOLDER}/${info.id}`);
}

/** The newest snapshot complete at `at`; a clear error when the log does not reach back that far. */
export function chooseBase(snapshots: readonly SnapshotInfo[], at: number, where: string): SnapshotInfo {
  if (snapshots.length === 0)
    throw new NotFoundError(
      `${where} has no base snapshot; run \`dynamodb-replicator incremental-backfill <table> ${where}\` to seed it`,
    );
  let base: SnapshotInfo | undefined;
  for (const s of snapshots) if (s.completedAt <= at) base = s;
  if (!base)
    throw new UsageError(
      `${formatTime(at)} is before the coverage of ${where}, which starts at ${formatTime((snapshots[0] as SnapshotInfo).completedAt)}`,
    );
  return base;
}

export const GAPS_FOLDER = 'gaps';
export const GAP_FORMAT = 'dynamodb-replicator/log-gap';

/** `gaps/<id>.json`: changes created from `lossFrom` on may be missing from the log. */
export interface LogGap {
  readonly format: typeof GAP_FORMAT;
  readonly version: 1;
  /** Epoch ms (creation time): the oldest change that may be missing. 0: anything before too. */
  readonly lossFrom: number;
  /** Epoch ms, our clock: when the runner met the gap. Bases started after it are complete again. */
  readonly detectedAt: number;
  readonly reason: string;
}

/** Records a gap in the log; several gaps are kept side by side. */
export async function recordGap(
  logStore: ObjectStore,
  gap: Omit<LogGap, 'format' | 'version'>,
): Promise<LogGap> {
  const full: LogGap = { format: GAP_FORMAT, version: 1, ...gap };
  await logStore.put(
    `${GAPS_FOLDER}/${snapshotId(gap.detectedAt)}.json`,
    JSON.stringify(full, null, 2) + '\n',
    {
      contentType: 'application/json',
    },
  );
  return full;
}

export async function listGaps(logStore: ObjectStore): Promise<LogGap[]> {
  const gaps: LogGap[] = [];
  for await (const info of logStore.list(GAPS_FOLDER)) {
    if (!info.key.endsWith('.json')) continue;
    let gap: Partial<LogGap> | undefined;
    try {
      gap = JSON.parse((await logStore.get(info.key)).toString('utf8')) as Partial<LogGap>;
    } catch {
      gap = undefined;
    }
    if (gap?.format !== GAP_FORMAT || typeof gap.lossFrom !== 'number' || typeof gap.detectedAt !== 'number')
      throw new InvalidDataError(`${info.key} is not a ${GAP_FORMAT} record`);
    gaps.push(gap as LogGap);
  }
  return gaps;
}

/** Refuses a moment `at` that a recorded gap leaves unknown when rebuilt from `base`. */
export function assertNoGap(gaps: readonly LogGap[], base: SnapshotInfo, at: number, where: string): void {
  for (const gap of gaps) {
    if (at < gap.lossFrom || base.startedAt >= gap.detectedAt) continue;
    throw new UsageError(
      `${where} may be missing changes made from ${formatTime(gap.lossFrom)} until ${formatTime(gap.detectedAt)} ` +
        `(${gap.reason}), so ${formatTime(at)} cannot be restored exactly. Choose a time before ` +
        `${formatTime(gap.lossFrom)}, or one after a base snapshot taken since (written by ` +
        '`replicate --backfill --backup` or `incremental-backfill`).',
    );
  }
}

/**
 * Where the changes applied over `base` start: shortly before its scan began, but never before a
 * gap detected before the scan. Changes logged before a gap may have lost their successors, so
 * re-applying one would put an old image over the newer one the scan read.
 */
export function changesFrom(base: SnapshotInfo, gaps: readonly LogGap[]): number {
  let from = base.startedAt - STREAM_CLOCK_MARGIN_MS;
  for (const gap of gaps) if (gap.detectedAt <= base.startedAt) from = Math.max(from, gap.detectedAt);
  return from;
}

/** The last change of each key, by key id. */
export type LatestChanges = Map<string, LoggedChange>;

/**
 * Reads every change in [from, to] and keeps the last one of each key. Re-delivered copies are
 * harmless: a copy of the winning change is the same change. Reads the whole range before
 * returning, so a corrupt segment fails before anything is written. `strictTo` (default true)
 * refuses a `to` inside a native export window that hides later changes (readExportChanges).
 */
export async function latestChangePerKey(
  logStore: ObjectStore,
  range: { readonly from: number; readonly to: number },
  check?: SegmentCheck,
  strictTo = true,
): Promise<{ latest: LatestChanges; read: number }> {
  const latest: LatestChanges = new Map();
  let read = 0;
  for await (const change of readChanges(logStore, range, { ...(check ? { check } : {}), strictTo })) {
    read++;
    if (change.eventName !== 'REMOVE' && !change.newImage)
      throw new InvalidDataError(
        `change ${change.shardId}/${change.sequenceNumber} has no new image: the log was written from a stream without new images (KEYS_ONLY or OLD_IMAGE) and cannot rebuild items`,
      );
    const id = keyId(change.keys);
    const current = latest.get(id);
    if (!current || compareLogged(current, change) < 0) {
      // Keep only what rebuilding needs; the old image can be large.
      const { oldImage: _oldImage, ...slim } = change;
      latest.set(id, slim as LoggedChange);
    }
  }
  return { latest, read };
}

/**
 * Base items with the latest changes applied: an item whose key changed is replaced by its last
 * image or dropped if its last change is a REMOVE; keys created after the base are appended.
 * Consumes `latest`.
 */
export async function* applyLatest(
  baseItems: AsyncIterable<Item>,
  latest: LatestChanges,
  schema: KeySchema,
): AsyncIterable<Item> {
  for await (const item of baseItems) {
    const id = keyId(keyOf(item, schema));
    const change = latest.get(id);
    if (!change) {
      yield item;
      continue;
    }
    latest.delete(id);
    if (change.eventName !== 'REMOVE' && change.newImage) yield change.newImage;
  }
  for (const change of latest.values())
    if (change.eventName !== 'REMOVE' && change.newImage) yield change.newImage;
  latest.clear();
}

/** How to read a snapshot's items and description (the export-layout reader). */
export interface SnapshotReader {
  readonly description: TableDescription;
  readonly keySchema: KeySchema;
  /** Items streamed; checksums verified before the first item is yielded. */
  items(): AsyncIterable<Item>;
}

/**
 * Opens (and verifies: MD5, gzip, counts, keys) a snapshot's export folder; with `verifyData`
 * false only its manifests are checked here and each data file while it is read.
 */
export async function openSnapshot(
  snapshotStore: ObjectStore,
  info: SnapshotInfo,
  verifyData = true,
): Promise<SnapshotReader & { readonly files: SourceParts['files'] }> {
  const reader = await openExport(snapshotStore.at(info.exportFolder), verifyData ? {} : { verifyData });
  const where = formatStoreLocation(snapshotStore.location);
  if (!reader.description || !reader.keySchema)
    throw new InvalidDataError(`snapshot ${where} has no table description; it cannot be used as a base`);
  return {
    description: reader.description,
    keySchema: reader.keySchema,
    files: reader.files,
    items: () => reader.items(),
  };
}

export interface PointInTimeState {
  readonly base: SnapshotInfo;
  readonly at: number;
  readonly description: TableDescription;
  readonly keySchema: KeySchema;
  /** Logged changes read (duplicates included) and distinct keys they touched. */
  readonly changesRead: number;
  readonly keysChanged: number;
  items(): AsyncIterable<Item>;
  /** The base snapshot's data files (folder relative to the log) and the changes over them. */
  readonly parts: SourceParts;
}

/**
 * Plans the state of the logged table at `at`: checks that every part of the log belongs to one
 * table (log-identity.ts), picks the base snapshot, opens it (which verifies it), reads and
 * verifies the changes up to `at`. Only `items()` streams, after everything has been checked.
 *
 * @example
 * const state = await stateAt(openObjectStore('s3://my-logs/users'), Date.parse('2026-11-27T09:00:00Z'));
 * for await (const item of state.items()) console.log(JSON.stringify(item));
 */
export async function stateAt(
  logStore: ObjectStore,
  at: number,
  where: string = formatStoreLocation(logStore.location),
  options: { readonly verifyData?: boolean } = {},
): Promise<PointInTimeState> {
  const owner = await checkedLogOwner(logStore, where);
  const base = chooseBase(await listSnapshots(logStore), at, where);
  const gaps = await listGaps(logStore);
  assertNoGap(gaps, base, at, where);
  const streamEnd = await lastStreamChange(logStore);
  assertExportCoverage(await listExportWindows(logStore), base, at, where, streamEnd);
  const reader = await openSnapshot(snapshotStore(logStore, base), base, options.verifyData ?? true);
  // Up to their newest change the stream segments hold every change (the coverage rule), so an
  // export window around `at` that kept only later changes of some items hides nothing then.
  const { latest, read } = await latestChangePerKey(
    logStore,
    { from: changesFrom(base, gaps), to: at },
    segmentCheck(owner, where),
    streamEnd === undefined || at > streamEnd,
  );
  const keysChanged = latest.size;
  return {
    base,
    at,
    description: reader.description,
    keySchema: reader.keySchema,
    changesRead: read,
    keysChanged,
    items: () => applyLatest(reader.items(), latest, reader.keySchema),
    parts: {
      folder: `${SNAPSHOTS_FOLDER}/${base.id}/${base.exportFolder}`,
      files: reader.files,
      overlay: latest,
    },
  };
}

/** True when `store` is the root of a change log (logged changes, indexed native exports or snapshots). */
export async function isChangeLog(store: ObjectStore): Promise<boolean> {
  if ((await store.listFolders(CHANGES_FOLDER)).length > 0) return true;
  for await (const _ of store.list(EXPORTS_INDEX_FOLDER)) return true;
  return (await listSnapshots(store)).length > 0;
}

/**
 * The restore source of a change log: the state at `options.at` (default: now, the latest state).
 * Claims a location holding `changes/` or `snapshots/`; everything is verified before it returns.
 */
export const detectChangeLog: RestoreSourceDetector = async (store, options) => {
  if (!(await isChangeLog(store))) return undefined;
  const where = formatStoreLocation(store.location);
  const at = options.at ?? Date.now();
  const state = await stateAt(store, at, where, options.deferDataChecks ? { verifyData: false } : {});
  return {
    kind: 'change-log',
    label: `change log ${where} at ${formatTime(at)} (base ${state.base.id} + ${state.changesRead} logged changes)`,
    description: state.description,
    keySchema: state.keySchema,
    items: () => state.items(),
    parts: state.parts,
  };
};
