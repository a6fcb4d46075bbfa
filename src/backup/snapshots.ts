/**
 * Snapshots of a change log, in DynamoDB's export layout:
 * - `incrementalBackfill` seeds a log with a base snapshot of the live table (a parallel scan,
 *   through the full-backup engine) so a log started on a table that already holds data can be
 *   restored;
 * - `compactSnapshot` writes the state at a moment T (base + changes up to T) as a new snapshot,
 *   anywhere, e.g. back into the log's `snapshots/` to shorten later restores.
 *
 * A snapshot folder holds `AWSDynamoDB/<id>/` (manifests, data files, table description) and our
 * `snapshot.json`, written last: a folder without it is incomplete and never used as a base.
 */
import type { DynamoDBClient, TableDescription } from '@aws-sdk/client-dynamodb';
import { UsageError } from '../core/errors.js';
import type { CapacityBudget } from '../dynamodb/capacity.js';
import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import { EXPORT_ROOT, writeExport, type ManifestSummary } from './export-layout.js';
import { describeTable } from '../dynamodb/tables.js';
import { backupTable } from './full-backup.js';
import { claimLog, streamOfArn } from './log-identity.js';
import {
  SNAPSHOT_FORMAT,
  SNAPSHOT_INFO,
  snapshotId,
  SNAPSHOTS_FOLDER,
  stateAt,
  writeSnapshotInfo,
  type PointInTimeState,
  type SnapshotInfo,
} from './point-in-time.js';

export interface BackfillOptions {
  readonly table: string;
  readonly parallel?: number;
  readonly budget?: CapacityBudget;
  readonly onProgress?: (items: number) => void;
  readonly signal?: AbortSignal;
  /** Clock (tests). */
  readonly now?: () => number;
}

/**
 * Scans `options.table` into `snapshots/<id>/` of the log and records it as a base snapshot. A log
 * that belongs to another table or key schema is refused before anything is written.
 *
 * @example
 * const snapshot = await incrementalBackfill(client, openObjectStore('s3://my-logs/users'), { table: 'users' });
 * console.log(snapshot.id, snapshot.itemCount);
 */
export async function incrementalBackfill(
  client: DynamoDBClient,
  logStore: ObjectStore,
  options: BackfillOptions,
): Promise<SnapshotInfo> {
  const where = formatStoreLocation(logStore.location);
  const table = await describeTable(client, options.table);
  await claimLog(
    logStore,
    {
      table: options.table,
      keySchema: table.keySchema,
      ...(table.streamArn ? { stream: streamOfArn(table.streamArn) } : {}),
    },
    where,
  );
  const now = options.now ?? Date.now;
  const startedAt = now();
  const id = snapshotId(startedAt);
  const folder = logStore.at(`${SNAPSHOTS_FOLDER}/${id}`);
  if (await folder.exists(SNAPSHOT_INFO)) throw new UsageError(`snapshot ${id} already exists in ${where}`);
  const result = await backupTable(client, folder, {
    table: options.table,
    jobId: id,
    ...(options.parallel !== undefined ? { parallel: options.parallel } : {}),
    ...(options.budget ? { budget: options.budget } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const info: SnapshotInfo = {
    format: SNAPSHOT_FORMAT,
    version: 1,
    id,
    kind: 'backfill',
    table: options.table,
    startedAt,
    completedAt: now(),
    itemCount: result.itemCount,
    exportFolder: `${EXPORT_ROOT}/${id}`,
  };
  await writeSnapshotInfo(folder, info);
  return info;
}

export interface CompactResult {
  readonly info: SnapshotInfo;
  readonly summary: ManifestSummary;
  readonly state: Omit<PointInTimeState, 'items'>;
}

/**
 * Writes the state of the logged table at `at` into `dest` as a snapshot (export layout plus
 * `snapshot.json`). Everything is verified (base checksums, every segment) before the first write.
 *
 * @example
 * const log = openObjectStore('s3://my-logs/users');
 * await compactSnapshot(log, log.at('snapshots/compacted'), Date.now());
 */
export async function compactSnapshot(
  logStore: ObjectStore,
  dest: ObjectStore,
  at: number,
  options: { readonly onProgress?: (items: number) => void } = {},
): Promise<CompactResult> {
  const startTime = Date.now();
  const state = await stateAt(logStore, at);
  const id = snapshotId(at);
  let count = 0;
  const description: TableDescription = state.description;
  async function* counted() {
    for await (const item of state.items()) {
      count++;
      if (count % 1000 === 0) options.onProgress?.(count);
      yield item;
    }
  }
  const summary = await writeExport(dest.at(`${EXPORT_ROOT}/${id}`), counted(), {
    exportId: id,
    startTime,
    endTime: 0,
    exportTime: at,
    description,
    ...(description.TableName ? { tableName: description.TableName } : {}),
  });
  const info: SnapshotInfo = {
    format: SNAPSHOT_FORMAT,
    version: 1,
    id,
    kind: 'compaction',
    table: description.TableName ?? state.base.table,
    // Changes logged after the compaction began are not in it: a base must re-read them (a TIME in
    // the future, or changes delivered late), so its window starts no later than that moment.
    startedAt: Math.min(at, startTime),
    completedAt: at,
    itemCount: summary.itemCount,
    exportFolder: `${EXPORT_ROOT}/${id}`,
  };
  await writeSnapshotInfo(dest, info);
  const { items: _items, ...rest } = state;
  return { info, summary, state: rest };
}
