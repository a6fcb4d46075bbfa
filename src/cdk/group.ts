/**
 * `DynamoDbReplicatorGroup`: a multi-active group (docs/multi-active.md) from one prop, `members`.
 * Every member whose table is given as a table of this stack gets its function here — the
 * `replicate` handler in group mode on that table's stream, with its event source mapping (in
 * order per shard: ParallelizationFactor 1), on-failure queue and least-privilege role: read its own
 * stream, PutItem on the other members' tables (every group write is a conditional PutItem) and on
 * its own (repairs), PutObject under the conflict log's prefix. Members named by table name and
 * region are written to only: a Lambda function must run in its stream's region, so a group across
 * regions gives the same `members` to the construct in each region's stack (each deploys its own).
 */
import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ConfigError } from '../core/errors.js';
import { EXTERNAL_ID, isRegionName, ROLE_ARN, tableNameProblem } from '../core/location.js';
import { LAMBDA_RETRY_ATTEMPTS } from '../core/retry-policies.js';
import { lambdaBundle } from '../deploy/bundle.js';
import { checkMemberId } from '../replicate/group-stamp.js';
import {
  checkInteger as checkReplicatorInteger,
  REPLICATOR_RUNTIME,
  streamViewTypeOf,
} from './replicator.js';

/** A member of the group. */
export type GroupMemberProps =
  | {
      /** The member id: part of every version, the same in every region's stack. */
      readonly id: string;
      /** A table of this stack, with a NEW_AND_OLD_IMAGES stream: its function is deployed here. */
      readonly table: dynamodb.ITable;
    }
  | {
      readonly id: string;
      /** A table elsewhere (another region or account), written to by this stack's functions. */
      readonly tableName: string;
      readonly region: string;
      /** Default: the stack's account. */
      readonly account?: string;
      /** A role the functions assume to write to this member (it must allow PutItem, DescribeTable). */
      readonly roleArn?: string;
      readonly externalId?: string;
    };

export interface DynamoDbReplicatorGroupProps {
  /** Every member of the group (2 or more), in the same order in every stack. */
  readonly members: readonly GroupMemberProps[];
  /** Where conflicts are logged. Default: a new bucket (S3-managed encryption, retained). */
  readonly conflictLog?: { readonly bucket?: s3.IBucket; readonly prefix?: string };
  /** Metadata attribute names. Default: `rep:v` and `rep:ttl`. */
  readonly metadataAttributes?: { readonly stamp: string; readonly expires: string };
  /** How long tombstones live (1 minute to 366 days). Default: 2 days. */
  readonly tombstoneTtl?: Duration;
  /** Records per invocation (1 to 10,000). Default: 100. */
  readonly batchSize?: number;
  /** Retries of a failed batch before it goes to the on-failure queue. Default: 10. */
  readonly retryAttempts?: number;
  /** Memory of each function in MB. Default: 512 (the memory of local writes lives there). */
  readonly memorySize?: number;
  /** Timeout of each function. Default: 5 minutes (a cold start may read a shard's day of records). */
  readonly timeout?: Duration;
  readonly logRetention?: logs.RetentionDays;
  readonly metricsNamespace?: string;
  /** The functions' code. Default: this package's `replicate` bundle. */
  readonly code?: lambda.Code;
}

const DEFAULT_CONFLICT_PREFIX = 'dynamodb-replicator-conflicts';

type LocalMember = { readonly id: string; readonly table: dynamodb.ITable };
type RemoteMember = Exclude<GroupMemberProps, LocalMember>;

const isLocal = (m: GroupMemberProps): m is LocalMember => 'table' in m;

export class DynamoDbReplicatorGroup extends Construct {
  /** One function per member deployed in this stack, by member id. */
  readonly functions: Record<string, lambda.Function> = {};
  readonly failureQueues: Record<string, sqs.Queue> = {};
  readonly conflictBucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: DynamoDbReplicatorGroupProps) {
    super(scope, id);
    checkMembers(props.members);
    const locals = props.members.filter(isLocal);
    if (locals.length === 0)
      throw new ConfigError(
        'DynamoDbReplicatorGroup: no member is a table of this stack; give the members of this region as { id, table }',
      );
    const prefix = conflictPrefix(props.conflictLog?.prefix);
    this.conflictBucket =
      props.conflictLog?.bucket ??
      new s3.Bucket(this, 'ConflictLogBucket', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    for (const member of locals) this.addMember(member, props, prefix);
  }

  private addMember(member: LocalMember, props: DynamoDbReplicatorGroupProps, prefix: string): void {
    const streamArn = member.table.tableStreamArn as string;
    const others = props.members.filter((m) => m !== member);
    const name = `Member${member.id.replace(/[^A-Za-z0-9]/g, '')}`;
    const role = new iam.Role(this, `${name}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `dynamodb-replicator group member ${member.id}`,
    });
    const logGroup = new logs.LogGroup(this, `${name}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    logGroup.grantWrite(role);
    const fn = new lambda.Function(this, `${name}Function`, {
      runtime: REPLICATOR_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      code: props.code ?? lambda.Code.fromAsset(lambdaBundle('replicate').zip),
      handler: 'index.replicate',
      role,
      logGroup,
      memorySize: checkInteger('memorySize', props.memorySize ?? 512, 128, 10_240),
      timeout: props.timeout ?? Duration.minutes(5),
      environment: groupEnvironment(member, others, props, this.conflictBucket, prefix),
      description: `dynamodb-replicator: group member ${member.id}, from its table's stream to the other members`,
    });
    const queue = new sqs.Queue(this, `${name}FailureQueue`, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    });
    fn.addEventSourceMapping('StreamMapping', {
      eventSourceArn: streamArn,
      batchSize: checkInteger('batchSize', props.batchSize ?? 100, 1, 10_000),
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      retryAttempts: checkInteger('retryAttempts', props.retryAttempts ?? LAMBDA_RETRY_ATTEMPTS, 0, 10_000),
      maxRecordAge: Duration.days(1),
      // The memory of the member's local writes needs each shard's batches one after another.
      parallelizationFactor: 1,
      onFailure: new SqsDlq(queue),
    });
    grantMember(role, member, others, streamArn, this.conflictBucket, prefix);
    this.functions[member.id] = fn;
    this.failureQueues[member.id] = queue;
  }
}

/** What the group-mode handler reads (lambda/group-config.ts). */
function groupEnvironment(
  member: LocalMember,
  others: readonly GroupMemberProps[],
  props: DynamoDbReplicatorGroupProps,
  bucket: s3.IBucket,
  prefix: string,
): Record<string, string> {
  const region = Stack.of(member.table).region;
  const ttl = props.tombstoneTtl?.toSeconds();
  if (ttl !== undefined) checkInteger('tombstoneTtl (seconds)', ttl, 60, 366 * 86_400);
  const names = props.metadataAttributes;
  return {
    GroupMemberId: member.id,
    GroupMembers: Stack.of(member.table).toJsonString(
      others.map((o) =>
        isLocal(o)
          ? { id: o.id, table: o.table.tableName, region }
          : {
              id: o.id,
              table: o.tableName,
              region: o.region,
              ...(o.roleArn ? { roleArn: o.roleArn } : {}),
              ...(o.externalId ? { externalId: o.externalId } : {}),
            },
      ),
    ),
    GroupConflictLog: `s3://${bucket.bucketName}/${prefix}?region=${bucket.env.region}`,
    ...(names ? { GroupMetadataAttributes: `${names.stamp},${names.expires}` } : {}),
    ...(ttl !== undefined ? { GroupTombstoneTtlSeconds: String(ttl) } : {}),
    ...(props.metricsNamespace ? { MetricsNamespace: props.metricsNamespace } : {}),
  };
}

/** Own stream read, PutItem on every member table (own: repairs), conflict log writes, roles. */
function grantMember(
  role: iam.Role,
  member: LocalMember,
  others: readonly GroupMemberProps[],
  streamArn: string,
  bucket: s3.IBucket,
  prefix: string,
): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadOwnStream',
      actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
      resources: [streamArn],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ListOwnStreams',
      actions: ['dynamodb:ListStreams'],
      resources: [`${member.table.tableArn}/stream/*`],
    }),
  );
  const direct = others.filter((o) => isLocal(o) || o.roleArn === undefined);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ConditionalPutMemberTables',
      actions: ['dynamodb:PutItem', 'dynamodb:DescribeTable'],
      resources: [member.table.tableArn, ...direct.map((o) => tableArn(role, o))],
    }),
  );
  const roles = [...new Set(others.flatMap((o) => (!isLocal(o) && o.roleArn) || []))];
  if (roles.length > 0)
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'AssumeMemberRoles', actions: ['sts:AssumeRole'], resources: roles }),
    );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'WriteConflictLog',
      actions: ['s3:PutObject'],
      resources: [bucket.arnForObjects(`${prefix}/*`)],
    }),
  );
  bucket.encryptionKey?.grantEncrypt(role);
}

function tableArn(scope: Construct, m: GroupMemberProps): string {
  if (isLocal(m)) return m.table.tableArn;
  return Stack.of(scope).formatArn({
    service: 'dynamodb',
    region: m.region,
    ...(m.account ? { account: m.account } : {}),
    resource: 'table',
    resourceName: m.tableName,
  });
}

function checkMembers(members: readonly GroupMemberProps[]): void {
  if (members.length < 2)
    throw new ConfigError('DynamoDbReplicatorGroup: members must list at least two members');
  const ids = new Set<string>();
  const tables = new Set<string>();
  members.forEach((m, i) => {
    const where = `DynamoDbReplicatorGroup: members[${i}]`;
    try {
      checkMemberId(m.id);
    } catch (error) {
      throw new ConfigError(`${where}.id: ${(error as Error).message}`, { cause: error });
    }
    if (ids.has(m.id)) throw new ConfigError(`${where}.id "${m.id}" is given to two members`);
    ids.add(m.id);
    const key = isLocal(m) ? `local/${m.table.node.path}` : checkRemote(m, where);
    if (tables.has(key)) throw new ConfigError(`${where} is listed twice`);
    tables.add(key);
    if (isLocal(m)) checkLocal(m, where);
  });
}

function checkLocal(m: LocalMember, where: string): void {
  if (m.table.tableStreamArn === undefined)
    throw new ConfigError(
      `${where}.table has no stream; a group member needs one with view type NEW_AND_OLD_IMAGES`,
    );
  const view = streamViewTypeOf(m.table);
  if (view !== undefined && view !== 'NEW_AND_OLD_IMAGES')
    throw new ConfigError(
      `${where}.table's stream has view type ${view}; a group member needs NEW_AND_OLD_IMAGES (the old image tells what a replicated write replaced)`,
    );
}

function checkRemote(m: RemoteMember, where: string): string {
  const problem = tableNameProblem(m.tableName);
  if (problem) throw new ConfigError(`${where}.tableName: ${problem}`);
  if (!isRegionName(m.region))
    throw new ConfigError(`${where}.region must be an AWS region such as eu-west-1, got "${m.region}"`);
  if (m.roleArn !== undefined && !ROLE_ARN.test(m.roleArn))
    throw new ConfigError(`${where}.roleArn must be an IAM role ARN, got "${m.roleArn}"`);
  if (m.externalId !== undefined && m.roleArn === undefined)
    throw new ConfigError(`${where}.externalId is set without roleArn: an ExternalId needs a role`);
  if (m.externalId !== undefined && !Token.isUnresolved(m.externalId) && !EXTERNAL_ID.test(m.externalId))
    throw new ConfigError(`${where}.externalId must be 2 to 1224 letters, digits or +=,.@:/- characters`);
  return `${m.account ?? ''}/${m.region}/${m.tableName}`;
}

function conflictPrefix(prefix: string | undefined): string {
  const p = (prefix ?? DEFAULT_CONFLICT_PREFIX).replace(/^\/+|\/+$/g, '');
  if (p.split('/').some((s) => s === '' || s === '.' || s === '..'))
    throw new ConfigError(
      `DynamoDbReplicatorGroup: conflictLog.prefix must be a folder path, got "${prefix}"`,
    );
  return p;
}

const checkInteger = (name: string, value: number, min: number, max: number): number =>
  checkReplicatorInteger(name, value, min, max, 'DynamoDbReplicatorGroup');
