// Public library entry point of dynamodb-replicator.
export * from './core/types.js';
export * from './core/errors.js';
export * from './core/change.js';
export * from './core/decimal.js';
export * from './core/canonical-key.js';
export * from './core/equality.js';
export * from './core/item-size.js';
export * from './core/ddb-json.js';
export * from './core/exact-json.js';
export * from './core/key-input.js';
export * from './core/backoff.js';
export * from './core/retry-policies.js';
export * from './core/location.js';
export * from './core/network.js';
export * from './core/turnover.js';
export * from './core/time.js';
export * from './core/change-sources.js';
export {
  applyChanges,
  prepareReplicas,
  replicaLabel,
  DEFAULT_APPLY_CONCURRENCY,
  type ApplyOptions,
  type ApplyResult,
  type KeyFailure,
  type PreparedReplicas,
  type ReplicaTarget,
} from './replicate/engine.js';
export { planChanges, type Plan, type PlannedWrite, type PlanFailure } from './replicate/plan.js';
export {
  loadTransform,
  runTransform,
  type TransformFn,
  type TransformResult,
} from './replicate/transform.js';
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
  CheckpointWriter,
  DynamoCheckpointStore,
  FileCheckpointStore,
  type CheckpointState,
  type CheckpointStore,
  type ShardCheckpoint,
} from './replicate/checkpoint.js';
export {
  backfill,
  copyToReplicas,
  estimateCopy,
  PositionRecorder,
  STREAM_RETENTION_MS,
  type BackfillOptions,
  type BackfillResult,
  type StreamPosition,
} from './replicate/backfill.js';
export { prometheusText } from './replicate/metrics.js';
export { LagRecorder, originFromAttribute } from './replicate/lag.js';
export {
  describeStream,
  parentFirstOrder,
  ShardReader,
  StreamGapError,
  type ShardInfo,
  type ShardStart,
  type StreamInfo,
} from './streams/reader.js';
export {
  changeLogSink,
  decodeSegment,
  encodeSegment,
  planSegments,
  readChanges,
  writeChangeBatch,
  type LoggedBatch,
  type LoggedChange,
  type SegmentHeader,
} from './backup/change-log.js';
export { listSegments, type TimeRange } from './backup/log-manifest.js';
export {
  checkedLogOwner,
  claimLog,
  readLogIdentity,
  type LogClaim,
  type LogIdentity,
  type LogOwner,
} from './backup/log-identity.js';
export { listSnapshots, stateAt, type PointInTimeState, type SnapshotInfo } from './backup/point-in-time.js';
export { backupRecord, latestBackedUpState, recordHistory, type ItemVersion } from './backup/history.js';
export { compactSnapshot, incrementalBackfill } from './backup/snapshots.js';
export * from './core/attribute-map.js';
export { keepProtoAttributes } from './dynamodb/attribute-names.js';
