// Public entry point `dynamodb-replicator/lambda`: the Lambda handlers.
export { replicate, createReplicateHandler } from './replicate.js';
export type { LambdaContext, ReplicateDeps, ReplicateHandler } from './replicate.js';
export { readReplicateConfig } from './config.js';
export { backup, createBackupHandler, readBackupConfig } from './backup.js';
export type { BackupConfig, BackupDeps, BackupHandler } from './backup.js';
export type { ReplicaConfig, ReplicateConfig, ReadThroughConfig } from './config.js';
export type { StreamBatchResponse, BatchItemFailure } from './batch-response.js';
export { verify, createVerifyHandler, readVerifyConfig } from './verify.js';
export type { VerifyConfig, VerifyDeps, VerifyHandler, VerifyResponse } from './verify.js';
export { scanJob, createScanJobHandler, SLICE_COMMIT_MARGIN_MS } from './scan-job.js';
export type { ScanJobEvent, ScanJobContext, ScanJobHandler } from './scan-job.js';
export { createGroupReplicateHandler } from './group.js';
export type { GroupReplicateDeps } from './group.js';
export { readGroupReplicateConfig } from './group-config.js';
export type { GroupReplicateConfig, GroupMemberConfig } from './group-config.js';
export { nativeExport, createNativeExportHandler, readNativeExportConfig } from './native-export.js';
export type {
  NativeExportConfig,
  NativeExportDeps,
  NativeExportHandler,
  NativeExportResponse,
} from './native-export.js';
