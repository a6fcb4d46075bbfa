// Public entry point `dynamodb-replicator/cdk`: the CDK construct (needs aws-cdk-lib and constructs,
// optional peer dependencies of this package).
export { DynamoDbReplicator, REPLICATOR_RUNTIME } from './replicator.js';
export type {
  DynamoDbReplicatorProps,
  IncrementalBackupProps,
  ReplicaTableProps,
  TurnoverProps,
} from './replicator.js';
