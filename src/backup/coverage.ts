/**
 * What a change log covers: its base snapshots, the first and last logged change, recorded gaps and
 * how many objects it holds. One recursive listing of the log, the snapshots' and gaps' small JSON
 * records, and the headers of the newest segment of each shard in the newest hour folder (the last
 * change is in one of them: a shard's segments follow its sequence numbers, and no segment spans
 * two hours), never the whole log's contents.
 */
import { compareSequenceNumbers } from '../core/change.js';
import { LogIdentityError, NotFoundError } from '../core/errors.js';
import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import { decodeSegmentWithHeader, segmentNameTime } from './change-log.js';
import { checkedLogOwner, describeOwner } from './log-identity.js';
import { CHANGES_FOLDER } from './log-manifest.js';
import { coverageHole, listExportWindows } from './native-incremental.js';
import { isChangeLog, listGaps, listSnapshots, type SnapshotInfo } from './point-in-time.js';

export interface BackupCoverage {
  /** The log's location as given (credentials never appear in it). */
  readonly location: string;
  /** The table the log belongs to, when any part of it says so. */
  readonly table?: string;
  /** Base snapshots, oldest first. */
  readonly snapshots: readonly {
    readonly id: string;
    readonly kind: SnapshotInfo['kind'];
    readonly startedAt: number;
    readonly completedAt: number;
    readonly itemCount: number;
  }[];
  /** Epoch ms: the earliest moment a restore can rebuild (the first snapshot's completion). */
  readonly coveredFrom?: number;
  /** Epoch ms creation times of the oldest and newest logged change. */
  readonly firstChange?: number;
  readonly lastChange?: number;
  /** Recorded gaps: changes from `lossFrom` until `detectedAt` may be missing. */
  readonly gaps: readonly {
    readonly lossFrom: number;
    readonly detectedAt: number;
    readonly reason: string;
  }[];
  /**
   * The first hole after the newest base snapshot: no stream segment and no export window covers
   * [from, to) (epoch ms), while coverage resumes after it; no time after `from` is restorable.
   */
  readonly hole?: { readonly from: number; readonly to: number };
  /** Change segments, and every object of the log (segments, snapshots, records) with their bytes. */
  readonly segments: number;
  readonly objects: number;
  readonly bytes: number;
}

export interface CoverageOptions {
  /** Refuse (LogIdentityError) a log that belongs to another table. */
  readonly table?: string;
}

/** `changes/YYYY/MM/DD/HH/<time>-<shard>-<first>-<last>.jsonl.gz` split into its parts. */
const SEGMENT_NAME = /^changes\/(\d{4}\/\d{2}\/\d{2}\/\d{2})\/\d{13}-(.+)-(\d+)-(\d+)\.jsonl\.gz$/;

interface Listing {
  objects: number;
  bytes: number;
  segments: number;
  firstChange?: number;
  newestHour?: string;
  /** In the newest hour: the last segment of each shard (by its last sequence number). */
  newestByShard: Map<string, { key: string; last: string }>;
}

async function listLog(store: ObjectStore): Promise<Listing> {
  const l: Listing = { objects: 0, bytes: 0, segments: 0, newestByShard: new Map() };
  for await (const info of store.list('')) {
    l.objects++;
    l.bytes += info.size;
    const time = info.key.startsWith(`${CHANGES_FOLDER}/`) ? segmentNameTime(info.key) : undefined;
    if (time === undefined) continue;
    l.segments++;
    l.firstChange = Math.min(l.firstChange ?? time, time);
    const m = SEGMENT_NAME.exec(info.key);
    // A name this reader cannot split still counts: it is read as a shard of its own.
    const [hour, shard, last] = m ? [m[1] as string, m[2] as string, m[4] as string] : ['', info.key, '0'];
    if (l.newestHour === undefined || hour > l.newestHour) {
      l.newestHour = hour;
      l.newestByShard.clear();
    }
    if (hour !== l.newestHour) continue;
    const seen = l.newestByShard.get(shard);
    if (!seen || compareSequenceNumbers(last, seen.last) > 0)
      l.newestByShard.set(shard, { key: info.key, last });
  }
  return l;
}

/**
 * The coverage of the change log at `store` (the log's root, e.g. `store.at(table)`). NotFoundError
 * when it is not a change log; LogIdentityError when its parts disagree or it is another table's.
 */
export async function backupCoverage(
  store: ObjectStore,
  options: CoverageOptions = {},
): Promise<BackupCoverage> {
  const where = formatStoreLocation(store.location);
  if (!(await isChangeLog(store)))
    throw new NotFoundError(
      `${where} is not a change log (no ${CHANGES_FOLDER}/ or snapshots/ in it); give the log's folder, ` +
        'LOCATION/<table> as written by `replicate --backup LOCATION` or the backup Lambda',
    );
  const owner = await checkedLogOwner(store, where);
  if (options.table !== undefined && owner?.table !== undefined && owner.table !== options.table)
    throw new LogIdentityError(
      `${where} is the change log of ${describeOwner(owner)}, not of table "${options.table}"`,
    );
  const listing = await listLog(store);
  let lastChange: number | undefined;
  for (const { key } of listing.newestByShard.values()) {
    const { header } = await decodeSegmentWithHeader(await store.get(key), key);
    lastChange = Math.max(lastChange ?? header.maxCreationTime, header.maxCreationTime);
  }
  const snapshots = (await listSnapshots(store)).map(({ id, kind, startedAt, completedAt, itemCount }) => ({
    id,
    kind,
    startedAt,
    completedAt,
    itemCount,
  }));
  const gaps = (await listGaps(store))
    .map(({ lossFrom, detectedAt, reason }) => ({ lossFrom, detectedAt, reason }))
    .sort((a, b) => a.detectedAt - b.detectedAt);
  const newest = snapshots.at(-1);
  const hole = newest && coverageHole(await listExportWindows(store), lastChange, newest);
  return {
    location: where,
    ...(hole ? { hole: { from: hole.from, to: hole.to } } : {}),
    ...(owner?.table !== undefined ? { table: owner.table } : {}),
    snapshots,
    ...(snapshots[0] ? { coveredFrom: snapshots[0].completedAt } : {}),
    ...(listing.firstChange !== undefined ? { firstChange: listing.firstChange } : {}),
    ...(lastChange !== undefined ? { lastChange } : {}),
    gaps,
    segments: listing.segments,
    objects: listing.objects,
    bytes: listing.bytes,
  };
}
