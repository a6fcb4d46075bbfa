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
  MemberUnavailableError,
  NetworkTimeoutError,
  NotFoundError,
  ReplicatorError,
  ServiceError,
  UnprocessedError,
  UsageError,
  type MemberFailure,
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
  LOCAL_CREDENTIALS,
  type ClientCredentials,
  type ClientOptions,
} from './dynamodb/client.js';
export { createStreamsClient } from './streams/client.js';
export { keepProtoAttributes } from './dynamodb/attribute-names.js';
export { DEFAULT_NETWORK, networkClientConfig, resolveNetwork, type NetworkOptions } from './core/network.js';
export { parseTimeArgument } from './core/time.js';

// ---------------------------------------------------------------------------------------------
// The failover client: one DynamoDB client over a group of members (regions, accounts, endpoints).
// Reads go to the first healthy member in preference order and fail over on errors and timeouts,
// behind a circuit breaker per member and a background health probe that brings them back to a
// recovered member; writes go to the home member (one-way group) or the local member (multi-active
// group). Every answer carries `servedBy`. See "Failover client" in docs/library.md.
//
// @example
// const regional = createRegionalClient({
//   members: ['eu-west-1/users', 'us-east-1/users', 'ap-southeast-2/users-ap'],
//   home: 'us-east-1/users',
//   onEvent: (e) => { if (e.type === 'state') console.log(e.member, e.from, '->', e.to); },
// });
// const { Item, servedBy } = await regional.send(new GetItemCommand({ TableName: 'users', Key }));
// regional.close();
export {
  createRegionalClient,
  DEFAULT_DEADLINE_MS,
  DEFAULT_PROBE,
  RegionalClient,
  type MemberHealth,
  type ProbeOptions,
  type RegionalClientOptions,
  type RegionalEvent,
  type RegionalMember,
  type Served,
} from './dynamodb/regional-client.js';
export { DEFAULT_BREAKER, type BreakerOptions, type BreakerState } from './core/circuit-breaker.js';

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
/**
 * Proof on a schedule: the checks of a verify job (the source against each replica and a backup),
 * a run of them, and a loop running them every interval — what the `verify` Lambda and
 * `replicate --verify-every` run.
 *
 * @example
 * const checks = verifyChecks({ source: { client, table: 'users', label: 'users' }, replicas: [{ client: eu, table: 'users', label: 'eu-west-1/users' }] });
 * for (const outcome of await runVerifyChecks(checks, { settleMs: 5_000 })) console.log(formatVerifyOutcome(outcome));
 */
export {
  formatVerifyOutcome,
  runVerifyChecks,
  verifyChecks,
  verifyEvery,
  type TargetCheck,
  type VerifyCheck,
  type VerifyOutcome,
  type VerifyRunOptions,
  type VerifyTable,
  type VerifyTargets,
} from './diff/verify.js';
export { diffRecord, replicateRecord, type RecordDiff, type RecordReplication } from './diff/record.js';

// ---------------------------------------------------------------------------------------------
// Backup and restore: full backups (AWS export layout), restore, change logs, point in time.
export { backupTable, type FullBackupOptions, type FullBackupResult } from './backup/full-backup.js';
/**
 * Native backups: DynamoDB's own Export to S3 (ExportTableToPointInTime; no read capacity spent),
 * full or incremental (new and old images), waited for, verified (MD5s, counts, keys, times) and
 * indexed into the change log at an S3 store, which `resolveRestoreSource`, `stateAt` and the diff
 * read like the tool's own backups. The table needs point-in-time recovery.
 *
 * @example
 * const log = openObjectStore('s3://my-backups/users');
 * await backupTableNative(client, log, { table: 'users' }); // full: a base snapshot
 * await backupTableNative(client, log, { table: 'users', incremental: true }); // the changes since
 */
export {
  backupTableNative,
  type NativeBackupOptions,
  type NativeBackupResult,
} from './backup/native-backup.js';
/**
 * The same native backup in resumable steps with plain-JSON state, for waits longer than one
 * process (a Step Functions state machine between Lambda invocations): start (incremental: under
 * the log's lease; a second run meanwhile is LeaseHeldError), check until COMPLETED (FAILED
 * throws), finish (verify and index) — in one call, or in slices with a time budget that return
 * their progress until `done` — and, on a failure path, release (gives the lease up).
 *
 * @example
 * const started = await startNativeBackup(client, log, { table: 'users', incremental: true }); // JSON: keep it
 * while ((await checkNativeBackup(client, started)).state === 'IN_PROGRESS') await later();
 * let step = await finishNativeBackupSlice(client, log, started, { budgetMs: 600_000 });
 * while (!step.done) step = await finishNativeBackupSlice(client, log, started, { budgetMs: 600_000, progress: step });
 */
export {
  checkNativeBackup,
  finishNativeBackup,
  finishNativeBackupSlice,
  releaseNativeBackup,
  startNativeBackup,
  NATIVE_LEASE_FOLDER,
  type NativeExportCheck,
  type NativeExportStarted,
  type NativeFinishOptions,
  type NativeFinishProgress,
  type NativeFinishStep,
} from './backup/native-backup.js';
/**
 * A lease kept in an object store (create-only generations; an expired one is taken over): what
 * keeps two incremental native runs over one log apart.
 */
export {
  currentLease,
  LeaseHeldError,
  LeaseLostError,
  type HeldLease,
  type LeaseRecord,
} from './storage/object-lease.js';
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
/**
 * What a change log covers: base snapshots, first and last change, gaps, object count (the
 * `backup-status` command). NotFoundError when `store` is not a change log, LogIdentityError when it
 * is another table's (`{ table }`) or mixes tables.
 *
 * @example
 * const c = await backupCoverage(new FileObjectStore('backups/orders'), { table: 'orders' });
 * console.log(c.coveredFrom, c.lastChange, c.gaps.length);
 */
export { backupCoverage, type BackupCoverage, type CoverageOptions } from './backup/coverage.js';
export {
  compactSnapshot,
  incrementalBackfill,
  type BackfillOptions as IncrementalBackfillOptions,
  type CompactResult,
} from './backup/snapshots.js';

// ---------------------------------------------------------------------------------------------
// Scan jobs: a backup, copy, diff, restore or verify-backup split into resumable segment tasks, run
// anywhere (this process, child processes, Lambda behind Step Functions) and merged into the
// one-process result. Plan once, run slices until each task is done, merge:
//
//   const env = cachedJobEnvironment();
//   const plan = await planJob({ work: 's3://jobs/prefix', kind: 'copy', segments: 64,
//     params: { source: 'us-east-1/users', target: 'eu-west-1/users' } }, { env });
//   for (const task of plan.tasks) await runSegment({ ...task, budget: { timeMs: 600_000 } }, { env });
//   const { result } = await mergeJob({ work: plan.work, jobId: plan.jobId }, { env });
//
// A verify-backup job (`diff-tables --against-backup --work`: params `table`, `backup`, optional
// `jobid`, `at`) proves a table equal to its backup by per-bucket digests; when buckets differ its
// merge result names a drill-down job in `next`. `runJobChain` runs a job and every `next` in this
// process; the last merge's result has the counts and the report parts (`reports`, keys in `work`).
export {
  cachedJobEnvironment,
  JobFolder,
  mergeJob,
  nextJobOf,
  planJob,
  runJobChain,
  runSegment,
  runTaskSlice,
  SegmentBusyError,
  type JobEnvironment,
  type JobKind,
  type JobManifest,
  type JobTable,
  type MergeJobInput,
  type MergeJobOutput,
  type NextJob,
  type PlanJobInput,
  type PlanJobOutput,
  type SegmentState,
  type SliceBudget,
  type TaskOptions,
  type TaskRef,
  type TaskSliceInput,
  type TaskSliceOutput,
  type Totals,
} from './jobs/index.js';

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
/**
 * Where a runner keeps its checkpoint: a local file or an item of a DynamoDB table, each held under
 * a lease. `openCheckpointStore` opens it as the `replicate` command does: the default file or item
 * named after the source and replicas, a file checked (UsageError) before the first batch.
 *
 * @example
 * const checkpoint = await openCheckpointStore({ source, replicas: [replica] }); // .dynamodb-replicator/users.checkpoint.json
 * await replicateTable({ source, replicas: [replica], streams, checkpoint });
 */
export {
  DynamoCheckpointStore,
  FileCheckpointStore,
  openCheckpointStore,
  type CheckpointState,
  type CheckpointStore,
  type OpenCheckpointOptions,
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
// Multi-active groups (docs/multi-active.md): every member's changes to every other member, the
// higher version wins everywhere, every conflict logged. `replicateGroup` is what
// `replicate --multi-active` runs; the decisions are pure functions a Lambda per member stream reuses.
export {
  checkGroupMembers,
  DEFAULT_TOMBSTONE_TTL_MS,
  readBeforeCheckpoint,
  replicateGroup,
  type GroupDirectionStats,
  type GroupEvent,
  type GroupMember,
  type GroupSummary,
  type ReplicateGroupOptions,
} from './replicate/replicate-group.js';
export {
  concurrent,
  decideRecord,
  handledBy,
  refusalOf,
  type AmbiguousReason,
  type ArrivedPlan,
  type Conflict,
  type GroupContext,
  type LocalMemo,
  type RecordPlan,
  type Refusal,
} from './replicate/group-decide.js';
export {
  DEFAULT_GROUP_METADATA,
  isTombstone,
  validStamp,
  withoutGroupMetadata,
  type GroupMetadataNames,
  type Stamp,
} from './replicate/group-stamp.js';
export { GroupDirection, type DirectionCounters, type GroupTable } from './replicate/group-direction.js';
export { ConflictLog, readConflicts, type ConflictEntry } from './replicate/group-conflicts.js';
export { groupPrometheusText } from './replicate/metrics.js';
export { groupMemberSide } from './diff/group-side.js';

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
