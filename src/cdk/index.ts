// Public entry point `dynamodb-replicator/cdk`: the CDK construct. aws-cdk-lib and constructs are
// optional peer dependencies, so they are checked before the construct's module (which imports
// them statically) is loaded: a missing one is a message saying what to install, not a resolver error.
import { createRequire } from 'node:module';
import { UsageError } from '../core/errors.js';

const PEERS = ['aws-cdk-lib', 'constructs'] as const;

function missingPeers(): string[] {
  const require = createRequire(import.meta.url);
  return PEERS.filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
}

const missing = missingPeers();
if (missing.length > 0) {
  throw new UsageError(
    `dynamodb-replicator/cdk needs ${missing.join(' and ')}, not installed here: ` +
      `npm install aws-cdk-lib constructs`,
  );
}

const construct = await import('./replicator.js');
const group = await import('./group.js');

export const DynamoDbReplicator = construct.DynamoDbReplicator;
export type DynamoDbReplicator = InstanceType<typeof construct.DynamoDbReplicator>;
export const REPLICATOR_RUNTIME = construct.REPLICATOR_RUNTIME;
export const DynamoDbReplicatorGroup = group.DynamoDbReplicatorGroup;
export type DynamoDbReplicatorGroup = InstanceType<typeof group.DynamoDbReplicatorGroup>;
export type { DynamoDbReplicatorGroupProps, GroupMemberProps } from './group.js';
export type {
  DynamoDbReplicatorProps,
  IncrementalBackupProps,
  NativeExportsProps,
  ReplicaTableProps,
  TurnoverProps,
} from './replicator.js';

const scanJob = await import('./scan-job.js');

export const ScanJob = scanJob.ScanJob;
export type ScanJob = InstanceType<typeof scanJob.ScanJob>;
export type { ScanJobProps, ScanJobBucketAccess } from './scan-job.js';
export type { VerifyScheduleProps } from './verify-schedule.js';

const nativeExportSchedule = await import('./native-export-schedule.js');

export const NativeExportSchedule = nativeExportSchedule.NativeExportSchedule;
export type NativeExportSchedule = InstanceType<typeof nativeExportSchedule.NativeExportSchedule>;
export type { NativeExportScheduleProps } from './native-export-schedule.js';
