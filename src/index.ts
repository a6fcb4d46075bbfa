/**
 * dynamodb-replicator as a library: the operations the CLI and the Lambda handlers are made of, each
 * callable with a client and one options object. docs/library.md has a runnable example for each.
 *
 * Internals (retry maths, encodings, planners, file formats) are not exported; import paths below
 * `dist/` are not part of the API.
 */

// ---------------------------------------------------------------------------------------------
// Errors: every error this package throws is a ReplicatorError; UsageError and its subclasses mean
// bad input (nothing was changed), ServiceError a failure of DynamoDB, S3 or the network.
export {
  ConfigError,
  InvalidDataError,
  ItemLimitError,
  ItemTooLargeError,
  KeySchemaMismatchError,
  LogIdentityError,
  NetworkTimeoutError,
  NotFoundError,
  ReplicatorError,
  ServiceError,
  UnprocessedError,
  UsageError,
} from './core/errors.js';
export { StreamGapError } from './streams/reader.js';
export { CheckpointLeaseHeldError, CheckpointLeaseLostError } from './replicate/lease.js';

// ---------------------------------------------------------------------------------------------
// Locations and clients.
export {
  formatServiceLocation,
  formatTableLocation,
  parseServiceLocation,
  parseTableLocation,
  type ServiceLocation,
  type TableLocation,
} from './core/location.js';
export {
  createDynamoClient,
  createStreamsClient,
  LOCAL_CREDENTIALS,
  type ClientCredentials,
  type ClientOptions,
} from './dynamodb/client.js';
export { keepProtoAttributes } from './dynamodb/attribute-names.js';
export { DEFAULT_NETWORK, networkClientConfig, resolveNetwork, type NetworkOptions } from './core/network.js';
export { parseTimeArgument } from './core/time.js';

// ---------------------------------------------------------------------------------------------
// The item model: raw AttributeValue maps with numbers as exact strings; DynamoDB JSON conversion.
export type { AttributeValue, Item, Key, KeySchema, KeyType } from './core/types.js';
export { keyOf } from './core/canonical-key.js';
export { ownAttribute, setAttribute } from './core/attribute-map.js';
export { itemsEqual, valuesEqual } from './core/equality.js';
export { itemSize, MAX_ITEM_BYTES } from './core/item-size.js';
export { fromDynamoJson, toDynamoJson, valueFromDynamoJson, valueToDynamoJson } from './core/ddb-json.js';
export { parseKeyArgument } from './core/key-input.js';
export type { Change, EventName, StreamViewType } from './core/change.js';
export {
  changesFromLambdaEvent,
  type LambdaStreamEvent,
  type LambdaStreamRecord,
} from './core/change-sources.js';
export type { TurnoverFilter, TurnoverRole } from './core/turnover.js';

// ---------------------------------------------------------------------------------------------
// The data layer: tables, scans, batched reads and writes that never drop an item, copy, export
// and import, capacity budgets.
export {
  assertSameKeySchema,
  createTableFromDescription,
  describeTable,
  keySchemaFromDescription,
  listTables,
  waitUntilActive,
  type TableInfo,
} from './dynamodb/tables.js';
export { prepareTargetTable, type TargetTableOptions } from './dynamodb/target-table.js';
export {
  parallelScanPages,
  queryItems,
  queryPages,
  scanItems,
  scanPages,
  type ParallelScanOptions,
  type QueryOptions,
  type ScanOptions,
} from './dynamodb/scan.js';
export { writeAll, type WriteAllOptions } from './dynamodb/writer.js';
export {
  batchWriteAll,
  type BatchWriteOptions,
  type BatchWriteResult,
  type WriteRequest,
} from './dynamodb/batch-write.js';
export {
  batchGetAll,
  type BatchGetOptions,
  type BatchGetRequest,
  type BatchGetResult,
} from './dynamodb/batch-get.js';
export { CapacityBudget, type CapacityBudgetOptions } from './dynamodb/capacity.js';
export {
  copyIntoTable,
  copyTable,
  type CopyIntoTableOptions,
  type CopyIntoTableResult,
  type CopyTableOptions,
  type CopyTableResult,
} from './dynamodb/copy-table.js';
export { exportTable, type ExportTableOptions } from './dynamodb/export-table.js';
export {
  createExportFile,
  exportFileSource,
  type ExportSink,
  type ExportSource,
} from './dynamodb/export-file.js';
export {
  importIntoTable,
  importItems,
  validateExport,
  type ExportSummary,
  type ImportIntoTableOptions,
  type ImportIntoTableResult,
  type ImportOptions,
} from './dynamodb/import-table.js';

// ---------------------------------------------------------------------------------------------
// Object stores: where backups and change logs live (a directory or S3).
export type { ObjectInfo, ObjectStore, StoreLocation } from './storage/object-store.js';
export { formatStoreLocation } from './storage/object-store.js';
export { FileObjectStore } from './storage/fs-store.js';
export { S3ObjectStore, type S3StoreOptions } from './storage/s3-store.js';
export { openObjectStore, type OpenStoreOptions } from './storage/open-store.js';
export { parseStoreLocation } from './storage/location.js';

// ---------------------------------------------------------------------------------------------
// Diff and repair.
export {
  diffTables,
  type Discrepancy,
  type DiscrepancyCounts,
  type DiscrepancyKind,
  type DiffProgress,
  type DiffTablesOptions,
  type DiffTablesResult,
  type Share,
} from './diff/diff-tables.js';
export {
  tableSide,
  tableTarget,
  type DiffSide,
  type RepairTarget,
  type TableSideOptions,
  type TableTargetOptions,
} from './diff/side.js';
export { snapshotSide, type SnapshotSource } from './diff/backup-side.js';
export { diffRecord, replicateRecord, type RecordDiff, type RecordReplication } from './diff/record.js';

// ---------------------------------------------------------------------------------------------
// Backup and restore: full backups (AWS export layout), restore, change logs, point in time.
export { backupTable, type FullBackupOptions, type FullBackupResult } from './backup/full-backup.js';
export { restoreTable, type RestoreOptions, type RestoreResult } from './backup/restore.js';
export {
  resolveRestoreSource,
  type ResolveRestoreOptions,
  type RestoreSource,
} from './backup/restore-source.js';
export {
  restoreIntoTable,
  type RestoreIntoTableOptions,
  type RestoreIntoTableResult,
} from './backup/restore-workflow.js';
export {
  changeLogSink,
  readChanges,
  writeChangeBatch,
  type LoggedBatch,
  type LoggedChange,
} from './backup/change-log.js';
export type { TimeRange } from './backup/log-manifest.js';
export { readLogIdentity, type LogIdentity, type LogOwner } from './backup/log-identity.js';
export { listSnapshots, stateAt, type PointInTimeState, type SnapshotInfo } from './backup/point-in-time.js';
export {
  backupRecord,
  latestBackedUpState,
  recordHistory,
  type ItemVersion,
  type LatestState,
} from './backup/history.js';
export {
  compactSnapshot,
  incrementalBackfill,
  type BackfillOptions as IncrementalBackfillOptions,
  type CompactResult,
} from './backup/snapshots.js';

// ---------------------------------------------------------------------------------------------
// Replication: the stream runner (checkpoints, leases, hand-off from a copy), applying changes.
export {
  applyChanges,
  prepareReplicas,
  type ApplyOptions,
  type ApplyResult,
  type KeyFailure,
  type PreparedReplicas,
  type ReplicaTarget,
} from './replicate/engine.js';
export type { TransformFn, TransformResult } from './replicate/transform.js';
export {
  StreamRunner,
  type BatchEvent,
  type RunnerOptions,
  type RunnerStats,
  type RunnerSummary,
  type ShardStats,
  type StartFrom,
} from './replicate/runner.js';
export {
  DynamoCheckpointStore,
  FileCheckpointStore,
  type CheckpointState,
  type CheckpointStore,
  type ShardCheckpoint,
} from './replicate/checkpoint.js';
export type {
  CheckpointLease,
  DynamoLeaseOptions,
  FileLeaseOptions,
  LeaseRequest,
} from './replicate/lease.js';
export {
  backfill,
  copyToReplicas,
  type BackfillOptions,
  type BackfillResult,
  type CopyOptions,
  type CopyResult,
  type StreamPosition,
} from './replicate/backfill.js';
export { prometheusText } from './replicate/metrics.js';
export { describeStream, type ShardInfo, type StreamInfo } from './streams/reader.js';
export {
  checkReplicateOptions,
  replicateTable,
  type ReplicateTableEvent,
  type ReplicateTableOptions,
  type ReplicateTableSummary,
  type RunnerLogEvent,
} from './replicate/replicate-table.js';

// ---------------------------------------------------------------------------------------------
// Lambda handler factories (also at `dynamodb-replicator/lambda`, with the ready-made handlers).
export {
  createReplicateHandler,
  type LambdaContext,
  type ReplicateDeps,
  type ReplicateHandler,
} from './lambda/replicate.js';
export {
  createBackupHandler,
  type BackupConfig,
  type BackupDeps,
  type BackupHandler,
} from './lambda/backup.js';
export type { ReadThroughConfig, ReplicaConfig, ReplicateConfig } from './lambda/config.js';
/**
 * The `replicate` handler in group mode: one member's function of a multi-active group
 * (docs/multi-active.md, "Lambda"; the ready-made handler switches to it when GroupMemberId is set).
 *
 * @example
 * export const handler = createGroupReplicateHandler(readGroupReplicateConfig(process.env));
 */
export { createGroupReplicateHandler, type GroupReplicateDeps } from './lambda/group.js';
export {
  readGroupReplicateConfig,
  type GroupMemberConfig,
  type GroupReplicateConfig,
} from './lambda/group-config.js';
export type { BatchItemFailure, StreamBatchResponse } from './lambda/batch-response.js';
export { createLogger, type Logger, type LoggerOptions, type LogLevel } from './lambda/log.js';
export type { MetricsWriter } from './lambda/metrics.js';
