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
import { randomUUID } from 'node:crypto';
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
import { formatStoreLocation, joinKey, type ObjectStore } from '../storage/object-store.js';
import { EXPORT_ROOT, openExport, writeTableDescription } from './export-layout.js';
import { assertLogOwnedBy, claimLog } from './log-identity.js';
import {
  EXPORT_WINDOW_FORMAT,
  INCREMENTAL_FOLDER,
  listExportWindows,
  openIncrementalExport,
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
}

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
  if (!options.incremental) {
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
  const window = await incrementalWindow(store, options, where, options.now ?? Date.now);
  const first = await startExport(client, {
    ...start,
    prefix: joinKey(loc.prefix, INCREMENTAL_FOLDER),
    incremental: window,
  });
  return {
    started: { kind: 'incremental', table: options.table, exportArn: first.arn, window },
    first,
    table,
  };
}

/** Verifies and indexes a completed export. */
function complete(
  store: ObjectStore,
  started: NativeExportStarted,
  done: ExportState,
  table: TableInfo,
): Promise<NativeBackupResult> {
  const claim = { table: started.table, keySchema: table.keySchema };
  if (started.kind === 'full') {
    const id = started.snapshotId ?? '';
    if (!/^[A-Za-z0-9._-]+$/.test(id))
      throw new UsageError(`a started full export needs its snapshotId, got "${id}"`);
    return indexFullExport(store, store.at(`${SNAPSHOTS_FOLDER}/${id}`), id, done, table, claim);
  }
  if (!started.window || !Number.isFinite(started.window.from))
    throw new UsageError('a started incremental export needs its window (from, to)');
  return indexIncrementalExport(store, done, table, claim, started.window);
}

/**
 * Runs a native export of `options.table` into the change log at `store` (an S3 location), waits for
 * it, verifies it and indexes it. A log of another table is refused before the export starts.
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
  const { started, first, table } = await begin(client, store, options);
  const done = await waitForExport(client, first, options.table, {
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.onPoll ? { onPoll: options.onPoll } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  return complete(store, started, done, table);
}

/**
 * The first of three resumable steps of `backupTableNative` (for waits longer than one process,
 * such as a Lambda's 15 minutes): the same checks, then the export is started. The result is plain
 * JSON for `checkNativeBackup` and `finishNativeBackup`.
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

/** The last step: the completed export verified and indexed, as `backupTableNative` does. */
export async function finishNativeBackup(
  client: DynamoDBClient,
  store: ObjectStore,
  started: NativeExportStarted,
): Promise<NativeBackupResult> {
  const { table } = await prepare(client, store, started.table);
  const done = await describeExport(client, started.exportArn, started.table);
  if (done.status === 'FAILED') throw exportFailed(done, started.table);
  if (done.status !== 'COMPLETED')
    throw new UsageError(
      `export ${done.arn} of table "${started.table}" is still ${done.status}: check it again later`,
    );
  return complete(store, started, done, table);
}

/** Verifies a completed full export, gives it our table description and makes it a base snapshot. */
async function indexFullExport(
  store: ObjectStore,
  snapshotFolder: ObjectStore,
  id: string,
  done: ExportState,
  table: TableInfo,
  claim: { table: string; keySchema: TableInfo['keySchema'] },
): Promise<NativeBackupResult> {
  const exportId = exportIdOf(done.arn);
  const exportFolder = `${EXPORT_ROOT}/${exportId}`;
  const exportStore = snapshotFolder.at(exportFolder);
  const reader = await openExport(exportStore, { keySchema: table.keySchema });
  if (done.itemCount !== undefined && done.itemCount !== reader.itemCount)
    throw new InvalidDataError(
      `${reader.label}: DescribeExport reports ${done.itemCount} items but the export holds ${reader.itemCount}`,
    );
  const exportTime = done.exportTime ?? Date.parse(reader.summary.exportTime);
  if (!Number.isFinite(exportTime)) throw new InvalidDataError(`${reader.label}: the export time is unknown`);
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
    itemCount: reader.itemCount,
    exportFolder,
  };
  await writeSnapshotInfo(snapshotFolder, snapshot);
  return {
    kind: 'full',
    exportArn: done.arn,
    exportId,
    itemCount: reader.itemCount,
    location: reader.label,
    snapshot,
  };
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

/** Verifies a completed incremental export and indexes it as part of the log. */
async function indexIncrementalExport(
  store: ObjectStore,
  done: ExportState,
  table: TableInfo,
  claim: { table: string; keySchema: TableInfo['keySchema'] },
  asked: { from: number; to?: number },
): Promise<NativeBackupResult> {
  const exportId = exportIdOf(done.arn);
  const from = done.window?.from ?? asked.from;
  const to = done.window?.to ?? asked.to;
  if (to === undefined)
    throw new ServiceError(`DescribeExport for ${done.arn} gave no ExportToTime: the window is unknown`);
  const reader = await openIncrementalExport(store.at(INCREMENTAL_FOLDER), exportId, {
    keySchema: table.keySchema,
    window: { from, to },
  });
  if (done.itemCount !== undefined && done.itemCount !== reader.itemCount)
    throw new InvalidDataError(
      `${reader.label}: DescribeExport reports ${done.itemCount} items but the export holds ${reader.itemCount}`,
    );
  await claimLog(store, claim, formatStoreLocation(store.location));
  const window: ExportWindow = {
    format: EXPORT_WINDOW_FORMAT,
    version: 1,
    table: claim.table,
    exportArn: done.arn,
    exportId,
    folder: INCREMENTAL_FOLDER,
    from,
    to,
    itemCount: reader.itemCount,
  };
  await writeExportWindow(store, window);
  return {
    kind: 'incremental',
    exportArn: done.arn,
    exportId,
    itemCount: reader.itemCount,
    location: reader.label,
    window,
  };
}
