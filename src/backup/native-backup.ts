/**
 * `backup-table --native`: backups made by DynamoDB's own Export to S3 (ExportTableToPointInTime),
 * which reads no capacity from the table and scales on AWS's side, kept as a change log so every
 * reader of the tool's backups reads them:
 *
 * - a full export is written by DynamoDB to `<log>/snapshots/<id>/AWSDynamoDB/<exportId>/`; once
 *   verified it gets our table description and `snapshot.json` (kind `export`, exact at its export
 *   time) and is a base snapshot of the log;
 * - an incremental export of [from, to) (new and old images) is written to
 *   `<log>/incremental/AWSDynamoDB/...`; once verified it is indexed by `exports/<from>-<to>-<id>.json`
 *   and read in place as the log's changes (native-incremental.ts). By default an incremental
 *   export starts where the log's last one ended (or at its newest base), so windows chain.
 *
 * Nothing is indexed until every data file has been verified (MD5, gzip, counts, keys, times): an
 * export that fails verification stays unindexed and is never restored. The location must be S3.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createHash, randomUUID } from 'node:crypto';
import { InvalidDataError, ServiceError, UsageError } from '../core/errors.js';
import { formatTime } from '../core/time.js';
import {
  describeExport,
  exportFailed,
  startExport,
  waitForExport,
  type ExportState,
} from '../dynamodb/export-to-s3.js';
import { describeTable, type TableInfo } from '../dynamodb/tables.js';
import {
  assertLeaseHeld,
  newRunId,
  parseHeldLease,
  releaseLease,
  takeLease,
  type HeldLease,
} from '../storage/object-lease.js';
import { formatStoreLocation, joinKey, type ObjectStore } from '../storage/object-store.js';
import {
  EXPORT_ROOT,
  openExportFiles,
  verifyDataFileRange,
  writeTableDescription,
  type FileRangeBudget,
  type ManifestFileEntry,
} from './export-layout.js';
import { assertLogOwnedBy, claimLog } from './log-identity.js';
import {
  EXPORT_WINDOW_FORMAT,
  INCREMENTAL_FOLDER,
  listExportWindows,
  openIncrementalExportFiles,
  writeExportWindow,
  type ExportWindow,
} from './native-incremental.js';
import {
  listSnapshots,
  SNAPSHOT_FORMAT,
  snapshotId,
  SNAPSHOTS_FOLDER,
  writeSnapshotInfo,
  type SnapshotInfo,
} from './point-in-time.js';

export interface NativeBackupOptions {
  readonly table: string;
  /**
   * An incremental export of the changes in [from, to) instead of a full export. `from` defaults
   * to the end of the log's last incremental export (or its newest base snapshot); `to` to the
   * latest time DynamoDB has data for, or 24 hours after `from` when more has passed (run again to
   * catch up). AWS accepts windows of 15 minutes to 24 hours.
   */
  readonly incremental?: boolean | { readonly from?: number; readonly to?: number };
  /**
   * Incremental: when the log has no base snapshot and no incremental export yet, run a full export
   * (the base) instead of refusing. What a schedule of incremental exports wants on its first run.
   */
  readonly fullIfNoBase?: boolean;
  /** Give up waiting after this long (default 2 hours); the export keeps running on AWS. */
  readonly timeoutMs?: number;
  /** Recorded by DynamoDB: the objects are encrypted with this KMS key. */
  readonly sseKmsKeyId?: string;
  /** The account owning the bucket, when it is another account's. */
  readonly bucketOwner?: string;
  /** Called after each poll that found the export still running. */
  readonly onPoll?: (state: ExportState) => void;
  readonly signal?: AbortSignal;
  /** Clock (tests). */
  readonly now?: () => number;
  /**
   * Incremental: who this run is, as a second run is told (default host:pid:random). A run takes
   * the log's lease on incremental exports (`runs/native-incremental/`) before it picks its window
   * and gives it up when the export is indexed or fails; a second run meanwhile is refused with
   * LeaseHeldError ("skipped: run <id> in progress since <time>").
   */
  readonly run?: string;
  /**
   * How long the lease lasts if this run never gives it up (it crashed): after that the next run
   * takes over. Default: the wait's timeout plus an hour (backupTableNative), else 24 hours.
   */
  readonly leaseMs?: number;
}

export interface NativeBackupResult {
  readonly kind: 'full' | 'incremental';
  readonly exportArn: string;
  readonly exportId: string;
  /** Items (full) or changed items (incremental) in the export, verified. */
  readonly itemCount: number;
  /** The export folder. */
  readonly location: string;
  /** Full: the base snapshot it became. */
  readonly snapshot?: SnapshotInfo;
  /** Incremental: the window it covers and its index entry. */
  readonly window?: ExportWindow;
}

/** The longest window DynamoDB exports incrementally. */
const MAX_WINDOW_MS = 24 * 60 * 60_000;

/** The export id DynamoDB put in an export ARN (`.../export/<id>`). */
function exportIdOf(arn: string): string {
  const id = arn.slice(arn.lastIndexOf('/export/') + '/export/'.length);
  if (!/^[A-Za-z0-9._-]+$/.test(id)) throw new ServiceError(`export ARN "${arn}" has no usable export id`);
  return id;
}

/**
 * A started native export, as plain JSON: what `checkNativeBackup` and `finishNativeBackup` need to
 * go on from another process (a Step Functions state between Lambda invocations).
 */
export interface NativeExportStarted {
  readonly kind: 'full' | 'incremental';
  readonly table: string;
  readonly exportArn: string;
  /** Full: the base snapshot id the export becomes (its folder is `snapshots/<id>`). */
  readonly snapshotId?: string;
  /** Incremental: the window asked for (epoch ms); DynamoDB's resolved window wins when it says. */
  readonly window?: { readonly from: number; readonly to?: number };
  /** Incremental: the lease this run holds on the log's incremental exports until it finishes. */
  readonly lease?: HeldLease;
}

/** Where in a log the lease on its incremental exports is kept. */
export const NATIVE_LEASE_FOLDER = 'runs/native-incremental';

/** The default lease of a run whose wait has no deadline of its own (the resumable steps). */
const DEFAULT_LEASE_MS = 24 * 60 * 60_000;
const DEFAULT_TIMEOUT_MS = 2 * 60 * 60_000;

/** One look at a started export. */
export interface NativeExportCheck {
  readonly state: 'IN_PROGRESS' | 'COMPLETED';
  readonly exportArn: string;
  readonly itemCount?: number;
}

/** The checks before an export (an S3 location, a table with an ARN, a log of this table). */
async function prepare(client: DynamoDBClient, store: ObjectStore, tableName: string) {
  const loc = store.location;
  const where = formatStoreLocation(loc);
  if (loc.kind !== 's3')
    throw new UsageError(
      `--native needs an S3 backup location (s3://bucket/prefix): DynamoDB writes the export to S3 itself, not to ${where}`,
    );
  const table = await describeTable(client, tableName);
  const tableArn = table.description.TableArn;
  if (!tableArn) throw new ServiceError(`DescribeTable gave no ARN for table "${tableName}"`);
  const claim = { table: tableName, keySchema: table.keySchema };
  await assertLogOwnedBy(store, claim, where);
  return { loc, where, table, tableArn, claim };
}

/** Checks and starts the export; the started export and DynamoDB's first answer about it. */
async function begin(
  client: DynamoDBClient,
  store: ObjectStore,
  options: NativeBackupOptions,
): Promise<{ started: NativeExportStarted; first: ExportState; table: TableInfo }> {
  const { loc, where, table, tableArn } = await prepare(client, store, options.table);
  const start = {
    table: options.table,
    tableArn,
    bucket: loc.bucket,
    ...(options.sseKmsKeyId ? { sseKmsKeyId: options.sseKmsKeyId } : {}),
    ...(options.bucketOwner ? { bucketOwner: options.bucketOwner } : {}),
    clientToken: randomUUID(),
  };
  const noBase =
    options.fullIfNoBase === true &&
    (await listSnapshots(store)).length === 0 &&
    (await listExportWindows(store)).length === 0;
  if (!options.incremental || noBase) {
    const id = snapshotId((options.now ?? Date.now)());
    const first = await startExport(client, {
      ...start,
      prefix: joinKey(loc.prefix, `${SNAPSHOTS_FOLDER}/${id}`),
    });
    return {
      started: { kind: 'full', table: options.table, exportArn: first.arn, snapshotId: id },
      first,
      table,
    };
  }
  // Refused before anything is written when there is nothing to continue from or the window is bad;
  // then chosen again under the lease, so a second run cannot pick the same one.
  await incrementalWindow(store, options, where, options.now ?? Date.now);
  const lease = await takeLease(store, NATIVE_LEASE_FOLDER, {
    run: options.run ?? newRunId(),
    ttlMs: options.leaseMs ?? DEFAULT_LEASE_MS,
  });
  try {
    const window = await incrementalWindow(store, options, where, options.now ?? Date.now);
    const first = await startExport(client, {
      ...start,
      prefix: joinKey(loc.prefix, INCREMENTAL_FOLDER),
      incremental: window,
    });
    return {
      started: { kind: 'incremental', table: options.table, exportArn: first.arn, window, lease },
      first,
      table,
    };
  } catch (error) {
    await releaseLease(store, lease).catch(() => undefined);
    throw error;
  }
}

/**
 * Runs a native export of `options.table` into the change log at `store` (an S3 location), waits for
 * it, verifies it and indexes it. A log of another table is refused before the export starts; an
 * incremental run while another one holds the log's lease is refused with LeaseHeldError.
 *
 * @example
 * const log = openObjectStore('s3://my-backups/users');
 * await backupTableNative(client, log, { table: 'users' }); // a full export: the base
 * await backupTableNative(client, log, { table: 'users', incremental: true }); // later: the changes since
 */
export async function backupTableNative(
  client: DynamoDBClient,
  store: ObjectStore,
  options: NativeBackupOptions,
): Promise<NativeBackupResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { started, first, table } = await begin(client, store, {
    ...options,
    leaseMs: options.leaseMs ?? timeoutMs + 60 * 60_000,
  });
  try {
    const done = await waitForExport(client, first, options.table, {
      timeoutMs,
      ...(options.onPoll ? { onPoll: options.onPoll } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    const step = await finishSlice(store, started, done, table, {});
    if (!step.done) throw new ServiceError(`export ${done.arn}: verification stopped before its end`);
    const { done: _done, ...result } = step;
    return result;
  } catch (error) {
    await releaseNativeBackup(store, started).catch(() => undefined);
    throw error;
  }
}

/**
 * The first of three resumable steps of `backupTableNative` (for waits longer than one process,
 * such as a Lambda's 15 minutes): the same checks (and, incremental, the same lease), then the export
 * is started. The result is plain JSON for `checkNativeBackup` and `finishNativeBackupSlice`.
 */
export async function startNativeBackup(
  client: DynamoDBClient,
  store: ObjectStore,
  options: Omit<NativeBackupOptions, 'timeoutMs' | 'onPoll' | 'signal'>,
): Promise<NativeExportStarted> {
  return (await begin(client, store, options)).started;
}

/** One DescribeExport of a started export; FAILED is the same ServiceError as `backupTableNative`'s. */
export async function checkNativeBackup(
  client: DynamoDBClient,
  started: NativeExportStarted,
): Promise<NativeExportCheck> {
  const state = await describeExport(client, started.exportArn, started.table);
  if (state.status === 'FAILED') throw exportFailed(state, started.table);
  return {
    state: state.status,
    exportArn: state.arn,
    ...(state.itemCount !== undefined ? { itemCount: state.itemCount } : {}),
  };
}

/** Where a finish that spans several invocations stands: the next slice's input. */
export interface NativeFinishProgress {
  readonly done: false;
  readonly exportArn: string;
  /** The manifest's first `filesVerified` data files are verified. */
  readonly filesVerified: number;
  readonly filesTotal: number;
  /** Items (or changed items) in the files verified so far. */
  readonly itemsVerified: number;
  /** MD5 of the manifest's file entries: a later slice refuses a manifest that changed meanwhile. */
  readonly manifest: string;
  /** Slices run so far. */
  readonly slices: number;
}

/** A finish slice's outcome: more files to verify, or the export verified and indexed. */
export type NativeFinishStep = NativeFinishProgress | (NativeBackupResult & { readonly done: true });

export interface NativeFinishOptions extends FileRangeBudget {
  /** The previous slice's progress (none: the first slice). */
  readonly progress?: NativeFinishProgress;
}

/**
 * The last step, resumable: verifies the completed export's data files (MD5, gzip, counts, keys,
 * times) in manifest order until `budgetMs` is spent (at least one file per call) and returns its
 * progress with `done: false`; the call that verifies the last file indexes the export (as
 * `backupTableNative` does), gives up the run's lease and returns the result with `done: true`. The
 * result is the same however many slices it took. A file that fails verification fails the call,
 * naming the file; nothing is indexed.
 */
export async function finishNativeBackupSlice(
  client: DynamoDBClient,
  store: ObjectStore,
  started: NativeExportStarted,
  options: NativeFinishOptions = {},
): Promise<NativeFinishStep> {
  const { table } = await prepare(client, store, started.table);
  const done = await describeExport(client, started.exportArn, started.table);
  if (done.status === 'FAILED') throw exportFailed(done, started.table);
  if (done.status !== 'COMPLETED')
    throw new UsageError(
      `export ${done.arn} of table "${started.table}" is still ${done.status}: check it again later`,
    );
  return finishSlice(store, started, done, table, options);
}

/** The last step in one call: `finishNativeBackupSlice` without a budget. */
export async function finishNativeBackup(
  client: DynamoDBClient,
  store: ObjectStore,
  started: NativeExportStarted,
): Promise<NativeBackupResult> {
  const step = await finishNativeBackupSlice(client, store, started);
  if (!step.done) throw new ServiceError(`export ${started.exportArn}: verification stopped before its end`);
  const { done: _done, ...result } = step;
  return result;
}

/**
 * Gives up the lease a started incremental run holds (a run that failed: the state machine's catch
 * path), so the next run need not wait for it to expire. False when it held none or lost it.
 */
export async function releaseNativeBackup(
  store: ObjectStore,
  started: NativeExportStarted,
): Promise<boolean> {
  if (!started.lease) return false;
  return releaseLease(store, parseHeldLease(started.lease, `the lease of export ${started.exportArn}`));
}

/** A completed export's files, and how to index it once they are verified. */
interface FinishPlan {
  readonly label: string;
  readonly files: readonly ManifestFileEntry[];
  read(entry: ManifestFileEntry): AsyncIterable<unknown>;
  index(): Promise<NativeBackupResult>;
}

function manifestDigest(files: readonly ManifestFileEntry[]): string {
  return createHash('md5').update(JSON.stringify(files)).digest('hex');
}

/** One slice of verification of a completed export, indexing it after its last file. */
async function finishSlice(
  store: ObjectStore,
  started: NativeExportStarted,
  done: ExportState,
  table: TableInfo,
  options: NativeFinishOptions,
): Promise<NativeFinishStep> {
  const plan = await finishPlan(store, started, done, table);
  const manifest = manifestDigest(plan.files);
  const before = options.progress;
  if (
    before &&
    (before.exportArn !== done.arn ||
      before.manifest !== manifest ||
      before.filesTotal !== plan.files.length ||
      !Number.isSafeInteger(before.filesVerified) ||
      before.filesVerified < 0 ||
      before.filesVerified > plan.files.length)
  )
    throw new InvalidDataError(
      `${plan.label}: the finish progress given (${before.filesVerified}/${before.filesTotal} files of ${before.exportArn}) is not of this export's manifest; start the finish again without it`,
    );
  const from = before?.filesVerified ?? 0;
  const next = await verifyDataFileRange(plan.files, from, options, (entry) => plan.read(entry));
  const items = plan.files.slice(from, next).reduce((n, f) => n + f.itemCount, before?.itemsVerified ?? 0);
  if (next < plan.files.length)
    return {
      done: false,
      exportArn: done.arn,
      filesVerified: next,
      filesTotal: plan.files.length,
      itemsVerified: items,
      manifest,
      slices: (before?.slices ?? 0) + 1,
    };
  return { ...(await plan.index()), done: true };
}

/** The files of a completed export and its indexing, by kind. */
function finishPlan(
  store: ObjectStore,
  started: NativeExportStarted,
  done: ExportState,
  table: TableInfo,
): Promise<FinishPlan> {
  const claim = { table: started.table, keySchema: table.keySchema };
  if (started.kind === 'full') {
    const id = started.snapshotId ?? '';
    if (!/^[A-Za-z0-9._-]+$/.test(id))
      throw new UsageError(`a started full export needs its snapshotId, got "${id}"`);
    return fullExportPlan(store, store.at(`${SNAPSHOTS_FOLDER}/${id}`), id, done, table, claim);
  }
  if (!started.window || !Number.isFinite(started.window.from))
    throw new UsageError('a started incremental export needs its window (from, to)');
  return incrementalExportPlan(store, started, done, table, claim);
}

/** A completed full export: verified, it gets our table description and becomes a base snapshot. */
async function fullExportPlan(
  store: ObjectStore,
  snapshotFolder: ObjectStore,
  id: string,
  done: ExportState,
  table: TableInfo,
  claim: { table: string; keySchema: TableInfo['keySchema'] },
): Promise<FinishPlan> {
  const exportId = exportIdOf(done.arn);
  const exportFolder = `${EXPORT_ROOT}/${exportId}`;
  const exportStore = snapshotFolder.at(exportFolder);
  const opened = await openExportFiles(exportStore, { keySchema: table.keySchema });
  const itemCount = opened.summary.itemCount;
  if (done.itemCount !== undefined && done.itemCount !== itemCount)
    throw new InvalidDataError(
      `${opened.label}: DescribeExport reports ${done.itemCount} items but the export holds ${itemCount}`,
    );
  const exportTime = done.exportTime ?? Date.parse(opened.summary.exportTime);
  if (!Number.isFinite(exportTime)) throw new InvalidDataError(`${opened.label}: the export time is unknown`);
  const index = async (): Promise<NativeBackupResult> => {
    await claimLog(store, claim, formatStoreLocation(store.location));
    await writeTableDescription(exportStore, table.description);
    const snapshot: SnapshotInfo = {
      format: SNAPSHOT_FORMAT,
      version: 1,
      id,
      kind: 'export',
      table: claim.table,
      // A native export is the table at one moment: exact from that moment on.
      startedAt: exportTime,
      completedAt: exportTime,
      itemCount,
      exportFolder,
    };
    await writeSnapshotInfo(snapshotFolder, snapshot);
    return { kind: 'full', exportArn: done.arn, exportId, itemCount, location: opened.label, snapshot };
  };
  return { label: opened.label, files: opened.files, read: (entry) => opened.read(entry), index };
}

/** The window of the next incremental export: given, or chained to the log's last one (or base). */
async function incrementalWindow(
  store: ObjectStore,
  options: NativeBackupOptions,
  where: string,
  now: () => number,
): Promise<{ from: number; to?: number }> {
  const given = typeof options.incremental === 'object' ? options.incremental : {};
  let from = given.from;
  if (from === undefined) {
    const last = (await listExportWindows(store)).at(-1);
    const base = (await listSnapshots(store)).at(-1);
    from = Math.max(last?.to ?? -Infinity, base?.completedAt ?? -Infinity);
    if (!Number.isFinite(from))
      throw new UsageError(
        `${where} has no base snapshot and no incremental export to continue from: run a full export first ` +
          '(`backup-table --native` without --incremental), or give --from',
      );
  }
  if (given.to !== undefined && !(from < given.to))
    throw new UsageError(
      `the export window must end after it starts: ${formatTime(from)} – ${formatTime(given.to)}`,
    );
  // AWS exports at most 24 hours at once: a longer backlog is caught up one day per run.
  const to = given.to ?? (now() - from > MAX_WINDOW_MS ? from + MAX_WINDOW_MS : undefined);
  return { from, ...(to !== undefined ? { to } : {}) };
}

/**
 * A completed incremental export: verified, it is indexed as part of the log, under the run's lease
 * and never over a window already indexed; then the lease is given up. Indexing the same export
 * again (a retried finish) returns what was indexed.
 */
async function incrementalExportPlan(
  store: ObjectStore,
  started: NativeExportStarted,
  done: ExportState,
  table: TableInfo,
  claim: { table: string; keySchema: TableInfo['keySchema'] },
): Promise<FinishPlan> {
  const asked = started.window as { from: number; to?: number };
  const exportId = exportIdOf(done.arn);
  const from = done.window?.from ?? asked.from;
  const to = done.window?.to ?? asked.to;
  if (to === undefined)
    throw new ServiceError(`DescribeExport for ${done.arn} gave no ExportToTime: the window is unknown`);
  const opened = await openIncrementalExportFiles(store.at(INCREMENTAL_FOLDER), exportId, {
    keySchema: table.keySchema,
    window: { from, to },
  });
  const itemCount = opened.itemCount;
  if (done.itemCount !== undefined && done.itemCount !== itemCount)
    throw new InvalidDataError(
      `${opened.label}: DescribeExport reports ${done.itemCount} items but the export holds ${itemCount}`,
    );
  const window: ExportWindow = {
    format: EXPORT_WINDOW_FORMAT,
    version: 1,
    table: claim.table,
    exportArn: done.arn,
    exportId,
    folder: INCREMENTAL_FOLDER,
    from,
    to,
    itemCount,
  };
  const result: NativeBackupResult = {
    kind: 'incremental',
    exportArn: done.arn,
    exportId,
    itemCount,
    location: opened.label,
    window,
  };
  const index = async (): Promise<NativeBackupResult> => {
    const indexed = await listExportWindows(store);
    if (indexed.some((w) => w.exportId === exportId && w.from === from && w.to === to)) return result;
    const lease = started.lease
      ? parseHeldLease(started.lease, `the lease of export ${done.arn}`)
      : undefined;
    if (lease) await assertLeaseHeld(store, lease);
    const overlap = indexed.find((w) => w.from < to && from < w.to);
    if (overlap)
      throw new UsageError(
        `${opened.label} covers ${formatTime(from)} – ${formatTime(to)}, which overlaps export ${overlap.exportId} already indexed (${formatTime(overlap.from)} – ${formatTime(overlap.to)}): not indexed`,
      );
    await claimLog(store, claim, formatStoreLocation(store.location));
    await writeExportWindow(store, window);
    if (lease) await releaseLease(store, lease);
    return result;
  };
  return { label: opened.label, files: opened.files, read: (entry) => opened.read(entry), index };
}
