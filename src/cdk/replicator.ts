/**
 * `DynamoDbReplicator`: a CDK construct that deploys replication (and optionally an incremental
 * backup) of one DynamoDB table from its stream: the `replicate` (and `backup`) Lambda functions
 * from this package's bundles, their event source mappings with partial batch failures, on-failure
 * SQS queues, least-privilege IAM roles and CloudWatch alarms. Props are checked at synth time with
 * errors (ConfigError) that name the prop.
 */
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { Arn, ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
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
import { turnoverAtProblem } from '../core/turnover.js';
import { BUNDLE_FILE, bundleScratchDir, bundleTransformModule, lambdaBundle } from '../deploy/bundle.js';
import { DEFAULT_METRICS_NAMESPACE, DIMENSION } from '../lambda/metrics.js';
import { ReplicationDashboard, type MetricsDestination } from './dashboard.js';
import { NativeExportSchedule } from './native-export-schedule.js';
import { grantReplicaAccess } from './replica-grants.js';
import { VerifySchedule, type VerifyScheduleProps } from './verify-schedule.js';

/** One table the source is replicated to. */
export interface ReplicaTableProps {
  /** The replica table's name; the table must exist with the source's key schema. */
  readonly tableName: string;
  /** The replica table's region, e.g. `eu-west-1`. */
  readonly region: string;
  /**
   * The account owning the replica table. Default: the stack's account. For another account without
   * `roleArn`, the replica table needs a resource-based policy letting this function's role write.
   */
  readonly account?: string;
  /**
   * A role the function assumes to write to this replica (typically in the replica's account; it
   * must trust this function's role and allow BatchWriteItem, PutItem, DeleteItem, DescribeTable on
   * the table). Default: none, the function writes with its own role. A replica with a role gets no
   * DynamoDB permission on the function's own role: it writes only through the assumed role.
   */
  readonly roleArn?: string;
  /**
   * The ExternalId sent when assuming `roleArn`, for a trust policy with an `sts:ExternalId`
   * condition (2 to 1224 characters). Only with `roleArn`.
   */
  readonly externalId?: string;
}

/** The incremental backup: every change appended to a change log in S3. */
export interface IncrementalBackupProps {
  /**
   * The bucket the change log is written to. Default: a new bucket with S3-managed encryption,
   * public access blocked, TLS enforced and retained when the stack is deleted.
   */
  readonly bucket?: s3.IBucket;
  /** Folder inside the bucket; the table's log is `<prefix>/<table>/`. Default: `dynamodb-replicator`. */
  readonly prefix?: string;
  /** Records per invocation of the backup function (one S3 PUT per batch). Default: 500. */
  readonly batchSize?: number;
  /** How long to wait to fill a batch. Default: 30 seconds. */
  readonly maxBatchingWindow?: Duration;
  /**
   * Also back the source table up by DynamoDB's own Export to S3 into the same change log, on a
   * schedule: a `NativeExportSchedule` per cadence (full and/or incremental), with the
   * deployment's log retention, dashboard and an alarm on failed executions. `true`: the defaults
   * (a full export every 7 days, an incremental one every day). The table needs point-in-time
   * recovery. Default: none.
   */
  readonly nativeExports?: boolean | NativeExportsProps;
}

/** Native exports of the source table into the change log (see `NativeExportSchedule`). */
export interface NativeExportsProps {
  /** When a full export (a new base snapshot) runs; `false` for none. Default: every 7 days. */
  readonly full?: events.Schedule | false;
  /**
   * When an incremental export (the changes since the log's last export) runs; `false` for none.
   * Its first run, with no base in the log yet, makes a full export. Default: every day.
   */
  readonly incremental?: events.Schedule | false;
  /** Time between two looks at a running export. Default: 60 seconds. */
  readonly pollInterval?: Duration;
  /** The longest an execution may take (also a crashed run's lease). Default: 24 hours. */
  readonly timeout?: Duration;
  /** Memory of the export function in MB. Default: 1769. */
  readonly memorySize?: number;
  /** The KMS key DynamoDB encrypts the export's objects with. Default: the bucket's encryption. */
  readonly kmsKeyId?: string;
}

/** The cut-over filter, to hand over between two deployments (see the README). */
export interface TurnoverProps {
  /** BEFORE: apply records created before `at` only; AFTER: from `at` on. */
  readonly role: 'BEFORE' | 'AFTER';
  /** The cut-over time in epoch milliseconds. */
  readonly at: number;
}

export interface DynamoDbReplicatorProps {
  /**
   * The table to replicate, with a stream of view type NEW_IMAGE or NEW_AND_OLD_IMAGES. A table
   * defined elsewhere can be imported with `Table.fromTableAttributes({ tableName, tableStreamArn })`.
   */
  readonly sourceTable: dynamodb.ITable;
  /** Tables to replicate to. Default: none (then `backup` is required). */
  readonly replicas?: readonly ReplicaTableProps[];
  /** Also keep an incremental backup of every change in S3. Default: no backup function. */
  readonly backup?: IncrementalBackupProps;
  /**
   * Path (relative to the working directory of the synth) of a JavaScript or TypeScript module
   * exporting `transform(change)` (return the change to replicate, a rewritten one, or null to drop
   * it), bundled into the replicate function with esbuild at synth time (esbuild must be installed).
   * Default: none, every change is replicated as is.
   */
  readonly transformModule?: string;
  /** Records per invocation of the replicate function (1 to 10,000). Default: 100. */
  readonly batchSize?: number;
  /**
   * Records older than this are not retried but sent to the on-failure queue (60 seconds to 7
   * days). Default: 1 day, the stream's retention.
   */
  readonly maxRecordAge?: Duration;
  /** Retries of a failed batch before it goes to the on-failure queue (0 to 10,000). Default: 10. */
  readonly retryAttempts?: number;
  /**
   * Batches processed concurrently per shard (1 to 10); Lambda keeps the order of each partition
   * key. Default: 1.
   */
  readonly parallelizationFactor?: number;
  /** Where a new mapping starts reading. Default: TRIM_HORIZON (every record still in the stream). */
  readonly startingPosition?: lambda.StartingPosition;
  /** The cut-over filter (TurnoverRole/TurnoverAt) of both functions. Default: none. */
  readonly turnover?: TurnoverProps;
  /** Memory of each function in MB. Default: 512. */
  readonly memorySize?: number;
  /** Timeout of each function. Default: 5 minutes. */
  readonly timeout?: Duration;
  /** Retention of the functions' log groups. Default: one month. */
  readonly logRetention?: logs.RetentionDays;
  /** CloudWatch namespace of the EMF metrics. Default: `DynamoDBReplicator`. */
  readonly metricsNamespace?: string;
  /** The iterator age that raises the iterator-age alarm. Default: 5 minutes. */
  readonly iteratorAgeAlarmThreshold?: Duration;
  /**
   * The functions' code. Default: this package's pre-built bundles (`dynamodb-replicator bundle`).
   * The `template` command passes `Code.fromCfnParameters()` here.
   */
  readonly code?: {
    readonly replicate?: lambda.Code;
    readonly backup?: lambda.Code;
    readonly verify?: lambda.Code;
    readonly nativeExport?: lambda.Code;
    /** The scan-job function of `verify.backupJob` and `verify.replicaJob`. */
    readonly scanJob?: lambda.Code;
  };
  /**
   * The deployment's CloudWatch dashboard (lag, iterator age, records, failures, conflicts,
   * discrepancies, errors and throttles, alarms); `false` for none. Default: a dashboard named
   * `<stack name>-<construct id>`.
   */
  readonly dashboard?: false | { readonly dashboardName?: string };
  /**
   * Proof on a schedule: a `verify` function run by EventBridge compares the source with the
   * replicas and the change log, publishes Discrepancies and VerifiedAt, and alarms when
   * discrepancies persist across two runs. Default: none.
   */
  readonly verify?: VerifyScheduleProps;
}

const DEFAULTS = {
  batchSize: 100,
  maxRecordAge: Duration.days(1),
  retryAttempts: LAMBDA_RETRY_ATTEMPTS,
  parallelizationFactor: 1,
  memorySize: 512,
  timeout: Duration.minutes(5),
  backupPrefix: 'dynamodb-replicator',
  backupBatchSize: 500,
  backupBatchingWindow: Duration.seconds(30),
  iteratorAge: Duration.minutes(5),
} as const;

/** Lambda runs the bundles on this runtime (they target Node.js 20 and later). */
export const REPLICATOR_RUNTIME = lambda.Runtime.NODEJS_24_X;

const ACCOUNT = /^\d{12}$/;
const NEW_IMAGE_VIEWS = ['NEW_IMAGE', 'NEW_AND_OLD_IMAGES'];

export function checkInteger(
  name: string,
  value: number,
  min: number,
  max: number,
  construct = 'DynamoDbReplicator',
): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new ConfigError(`${construct}: ${name} must be a whole number from ${min} to ${max}, got ${value}`);
  return value;
}

/** The stream view type of a table defined in this app; undefined for imported tables. */
export function streamViewTypeOf(table: dynamodb.ITable): string | undefined {
  const child = table.node.defaultChild;
  let spec: unknown;
  if (child instanceof dynamodb.CfnTable) spec = child.streamSpecification;
  else if (child instanceof dynamodb.CfnGlobalTable) spec = child.streamSpecification;
  if (spec === undefined || Token.isUnresolved(spec)) return undefined;
  const view = (spec as { streamViewType?: unknown }).streamViewType;
  return typeof view === 'string' && !Token.isUnresolved(view) ? view : undefined;
}

/** The source table's physical name when it is known at synth time. */
function sourceTableName(table: dynamodb.ITable): string | undefined {
  if (!Token.isUnresolved(table.tableName)) return table.tableName;
  const child = table.node.defaultChild;
  const name =
    child instanceof dynamodb.CfnTable || child instanceof dynamodb.CfnGlobalTable
      ? child.tableName
      : undefined;
  return name !== undefined && !Token.isUnresolved(name) ? name : undefined;
}

/** The source table's region and account when they are known at synth time. */
function sourceEnvironment(table: dynamodb.ITable, streamArn: string): { region?: string; account?: string } {
  if (!Token.isUnresolved(streamArn)) {
    const parts = Arn.split(streamArn, ArnFormat.SLASH_RESOURCE_NAME);
    return { region: parts.region, account: parts.account };
  }
  const { region, account } = Stack.of(table);
  return {
    ...(Token.isUnresolved(region) ? {} : { region }),
    ...(Token.isUnresolved(account) ? {} : { account }),
  };
}

function validateReplicas(
  replicas: readonly ReplicaTableProps[],
  source: { table: string; region?: string; account?: string },
): void {
  const seen = new Set<string>();
  replicas.forEach((r, i) => {
    const where = `DynamoDbReplicator: replicas[${i}]`;
    const problem = tableNameProblem(r.tableName);
    if (problem) throw new ConfigError(`${where}.tableName: ${problem}`);
    if (!isRegionName(r.region))
      throw new ConfigError(`${where}.region must be an AWS region such as eu-west-1, got "${r.region}"`);
    if (r.account !== undefined && !ACCOUNT.test(r.account))
      throw new ConfigError(`${where}.account must be a 12-digit account id, got "${r.account}"`);
    if (r.roleArn !== undefined && !ROLE_ARN.test(r.roleArn))
      throw new ConfigError(
        `${where}.roleArn must be an IAM role ARN (arn:aws:iam::123456789012:role/name), got "${r.roleArn}"`,
      );
    if (r.externalId !== undefined && r.roleArn === undefined)
      throw new ConfigError(`${where}.externalId is set without roleArn: an ExternalId needs a role`);
    if (r.externalId !== undefined && !Token.isUnresolved(r.externalId) && !EXTERNAL_ID.test(r.externalId))
      throw new ConfigError(`${where}.externalId must be 2 to 1224 letters, digits or +=,.@:/- characters`);
    const id = `${r.account ?? ''}/${r.region}/${r.tableName}`;
    if (seen.has(id)) throw new ConfigError(`${where} lists ${r.region}/${r.tableName} a second time`);
    seen.add(id);
    const sameAccount = r.account === undefined || r.account === source.account;
    if (r.tableName === source.table && r.region === source.region && sameAccount)
      throw new ConfigError(
        `${where} is the source table itself (${r.region}/${r.tableName}): a replica must differ in region, table name or account`,
      );
  });
}

/** Lambda environment variables naming the replicas (lambda/config.ts reads them). */
function replicaEnvironment(replicas: readonly ReplicaTableProps[]): Record<string, string> {
  const [only] = replicas;
  if (replicas.length === 1 && only) {
    return {
      ReplicaTable: only.tableName,
      ReplicaRegion: only.region,
      ...(only.roleArn ? { ReplicaRoleArn: only.roleArn } : {}),
      ...(only.externalId ? { ReplicaExternalId: only.externalId } : {}),
    };
  }
  return {
    Replicas: JSON.stringify(
      replicas.map((r) => ({
        table: r.tableName,
        region: r.region,
        ...(r.roleArn ? { roleArn: r.roleArn } : {}),
        ...(r.externalId ? { externalId: r.externalId } : {}),
      })),
    ),
  };
}

/** A stream-triggered function with its role and on-failure queue. */
interface StreamFunction {
  readonly fn: lambda.Function;
  readonly role: iam.Role;
  readonly queue: sqs.Queue;
}

/** What both functions share: their mapping settings, memory and common environment. */
interface StreamSettings {
  readonly streamArn: string;
  readonly batchSize: number;
  readonly memorySize: number;
  /** Environment variables of both functions (turnover, metrics namespace). */
  readonly common: Record<string, string>;
  readonly mapping: {
    startingPosition: lambda.StartingPosition;
    bisectBatchOnError: boolean;
    reportBatchItemFailures: boolean;
    retryAttempts: number;
    maxRecordAge: Duration;
    parallelizationFactor: number;
  };
}

/** The source table's stream ARN; a missing stream, or one without new images, is refused. */
function checkedStreamArn(props: DynamoDbReplicatorProps): string {
  const source = props.sourceTable;
  const streamArn = source.tableStreamArn;
  if (streamArn === undefined)
    throw new ConfigError(
      'DynamoDbReplicator: sourceTable has no stream; enable one with view type NEW_AND_OLD_IMAGES (Table prop `stream`), or import the table with Table.fromTableAttributes({ tableName, tableStreamArn })',
    );
  const view = streamViewTypeOf(source);
  if (view !== undefined && !NEW_IMAGE_VIEWS.includes(view))
    throw new ConfigError(
      `DynamoDbReplicator: sourceTable's stream has view type ${view}, which carries no new item images; use NEW_IMAGE or NEW_AND_OLD_IMAGES`,
    );
  return streamArn;
}

/** At least one replica or a backup; replicas valid and not the source; a transform needs a replica. */
function checkTargets(props: DynamoDbReplicatorProps, streamArn: string): void {
  const source = props.sourceTable;
  const replicas = props.replicas ?? [];
  if (replicas.length === 0 && props.backup === undefined)
    throw new ConfigError('DynamoDbReplicator: nothing to deploy; give at least one replica or a backup');
  const env = sourceEnvironment(source, streamArn);
  validateReplicas(replicas, { table: sourceTableName(source) ?? '', ...env });
  if (props.transformModule !== undefined && replicas.length === 0)
    throw new ConfigError('DynamoDbReplicator: transformModule needs at least one replica');
}

/** The checked mapping settings, memory and common environment of both functions. */
function streamSettings(props: DynamoDbReplicatorProps, streamArn: string): StreamSettings {
  const batchSize = checkInteger('batchSize', props.batchSize ?? DEFAULTS.batchSize, 1, 10_000);
  const retryAttempts = checkInteger(
    'retryAttempts',
    props.retryAttempts ?? DEFAULTS.retryAttempts,
    0,
    10_000,
  );
  const parallelizationFactor = checkInteger(
    'parallelizationFactor',
    props.parallelizationFactor ?? DEFAULTS.parallelizationFactor,
    1,
    10,
  );
  const maxRecordAge = props.maxRecordAge ?? DEFAULTS.maxRecordAge;
  checkInteger('maxRecordAge (seconds)', maxRecordAge.toSeconds(), 60, 604_800);
  const memorySize = checkInteger('memorySize', props.memorySize ?? DEFAULTS.memorySize, 128, 10_240);
  const turnoverProblem = props.turnover && turnoverAtProblem(String(props.turnover.at));
  if (turnoverProblem) throw new ConfigError(`DynamoDbReplicator: turnover.at ${turnoverProblem}`);
  return {
    streamArn,
    batchSize,
    memorySize,
    common: {
      ...(props.turnover ? { TurnoverRole: props.turnover.role, TurnoverAt: String(props.turnover.at) } : {}),
      ...(props.metricsNamespace ? { MetricsNamespace: props.metricsNamespace } : {}),
    },
    mapping: {
      startingPosition: props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      retryAttempts,
      maxRecordAge,
      parallelizationFactor,
    },
  };
}

/** The change log's folder in the bucket, without leading or trailing slashes; refused unless a plain path. */
function backupPrefix(backup: IncrementalBackupProps): string {
  const prefix = (backup.prefix ?? DEFAULTS.backupPrefix).replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((p) => p === '' || p === '.' || p === '..'))
    throw new ConfigError(
      `DynamoDbReplicator: backup.prefix must be a folder path like "backups/prod", got "${backup.prefix}"`,
    );
  return prefix;
}

/** The backup handler only PUTs new segments (backup/change-log.ts): no read, list or delete. */
function grantChangeLogWrites(role: iam.Role, bucket: s3.IBucket, prefix: string): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'WriteChangeLog',
      actions: ['s3:PutObject'],
      resources: [bucket.arnForObjects(`${prefix}/*`)],
    }),
  );
  bucket.encryptionKey?.grantEncrypt(role);
}

export class DynamoDbReplicator extends Construct {
  /** The `replicate` function; undefined when no replica is configured. */
  readonly replicateFunction?: lambda.Function;
  /** The `backup` function; undefined without `backup`. */
  readonly backupFunction?: lambda.Function;
  /** Batches that failed every retry (or got too old), per function. */
  readonly replicateFailureQueue?: sqs.Queue;
  readonly backupFailureQueue?: sqs.Queue;
  /** The bucket holding the change log (given or created). */
  readonly backupBucket?: s3.IBucket;
  /** Iterator age, function errors and on-failure queue depth, per function; the verify job's alarms. */
  readonly alarms: cloudwatch.Alarm[] = [];
  /** The scheduled verify function; undefined without `verify`. */
  readonly verifyFunction?: lambda.Function;
  /** The native export schedules (`backup.nativeExports`): full first, then incremental. */
  readonly nativeExportSchedules: NativeExportSchedule[] = [];
  /** The deployment's dashboard; undefined with `dashboard: false`. */
  readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: DynamoDbReplicatorProps) {
    super(scope, id);
    const streamArn = checkedStreamArn(props);
    const replicas = props.replicas ?? [];
    checkTargets(props, streamArn);
    const settings = streamSettings(props, streamArn);
    if (replicas.length > 0) {
      const made = this.addReplicateFunction(props, replicas, settings);
      this.replicateFunction = made.fn;
      this.replicateFailureQueue = made.queue;
    }
    if (props.backup) {
      const { made, bucket } = this.addBackupFunction(props, props.backup, settings);
      this.backupBucket = bucket;
      this.backupFunction = made.fn;
      this.backupFailureQueue = made.queue;
    }
    const verify = props.verify && this.addVerifySchedule(props, props.verify, replicas);
    this.verifyFunction = verify?.fn;
    if (props.dashboard !== false) this.dashboard = this.addDashboard(props, replicas, verify);
  }

  /** A NativeExportSchedule per cadence into the change log; their alarms join the construct's. */
  private addNativeExports(
    props: DynamoDbReplicatorProps,
    native: true | NativeExportsProps,
    bucket: s3.IBucket,
    prefix: string,
  ): void {
    const o: NativeExportsProps = native === true ? {} : native;
    const cadences = [
      ['full', o.full ?? events.Schedule.rate(Duration.days(7))],
      ['incremental', o.incremental ?? events.Schedule.rate(Duration.days(1))],
    ] as const;
    for (const [kind, schedule] of cadences) {
      if (schedule === false) continue;
      const made = new NativeExportSchedule(this, kind === 'full' ? 'NativeFull' : 'NativeIncremental', {
        table: props.sourceTable,
        bucket,
        prefix,
        kind,
        schedule,
        ...(o.pollInterval ? { pollInterval: o.pollInterval } : {}),
        ...(o.timeout ? { timeout: o.timeout } : {}),
        ...(o.memorySize !== undefined ? { memorySize: o.memorySize } : {}),
        ...(o.kmsKeyId ? { kmsKeyId: o.kmsKeyId } : {}),
        ...(props.code?.nativeExport ? { code: props.code.nativeExport } : {}),
        logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      });
      this.nativeExportSchedules.push(made);
      this.alarms.push(made.failedAlarm);
    }
    if (this.nativeExportSchedules.length === 0)
      throw new ConfigError('DynamoDbReplicator: backup.nativeExports turns both full and incremental off');
  }

  /** The scheduled verify job (cdk/verify-schedule.ts); its alarms join the construct's. */
  private addVerifySchedule(
    props: DynamoDbReplicatorProps,
    verify: VerifyScheduleProps,
    replicas: readonly ReplicaTableProps[],
  ): VerifySchedule {
    const job = new VerifySchedule(this, 'Verify', {
      props: verify,
      sourceTable: props.sourceTable,
      replicas,
      replicaEnvironment: replicas.length > 0 ? replicaEnvironment(replicas) : {},
      ...(props.backup && this.backupBucket
        ? {
            backup: {
              bucket: this.backupBucket,
              prefix: backupPrefix(props.backup),
              owned: props.backup.bucket === undefined,
            },
          }
        : {}),
      namespace: props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE,
      code: props.code?.verify ?? bundleCode('verify'),
      ...(verify.backupJob || verify.replicaJob
        ? { scanJobCode: props.code?.scanJob ?? bundleCode('scanJob') }
        : {}),
      runtime: REPLICATOR_RUNTIME,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.alarms.push(...job.alarms);
    return job;
  }

  /** The dashboard (cdk/dashboard.ts) over the functions, their destinations and every alarm. */
  private addDashboard(
    props: DynamoDbReplicatorProps,
    replicas: readonly ReplicaTableProps[],
    verify: VerifySchedule | undefined,
  ): cloudwatch.Dashboard {
    const destinations: MetricsDestination[] = replicas.map((r) => ({
      dimension: DIMENSION.replicaTable,
      value: `${r.region}/${r.tableName}`,
      label: `${r.region}/${r.tableName}`,
    }));
    if (props.backup && this.backupBucket)
      destinations.push({
        dimension: DIMENSION.backupLocation,
        value: `s3://${this.backupBucket.bucketName}/${backupPrefix(props.backup)}`,
        label: 'change log',
      });
    const streamFunctions = [
      ...(this.replicateFunction ? [{ label: 'replicate', fn: this.replicateFunction }] : []),
      ...(this.backupFunction ? [{ label: 'backup', fn: this.backupFunction }] : []),
    ];
    const dashboard = props.dashboard === false ? undefined : props.dashboard?.dashboardName;
    return new ReplicationDashboard(this, 'Dashboard', {
      ...(dashboard !== undefined ? { dashboardName: dashboard } : {}),
      namespace: props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE,
      sourceTable: props.sourceTable.tableName,
      destinations,
      streamFunctions,
      otherFunctions: [
        ...(verify?.fn ? [{ label: 'verify', fn: verify.fn }] : []),
        ...(verify?.backupJob ? [{ label: 'verify backup job', fn: verify.backupJob.fn }] : []),
        ...this.nativeExportSchedules.map((n) => ({
          label: `${n.node.id === 'NativeFull' ? 'full' : 'incremental'} native export`,
          fn: n.fn,
        })),
      ],
      ...(verify ? { discrepancies: verify.discrepancyMetrics } : {}),
      alarms: this.alarms,
    }).dashboard;
  }

  /** The replicate function, its stream mapping and its write grants on the replica tables. */
  private addReplicateFunction(
    props: DynamoDbReplicatorProps,
    replicas: readonly ReplicaTableProps[],
    settings: StreamSettings,
  ): StreamFunction {
    const code = props.code?.replicate ?? replicateCode(props.transformModule);
    const made = this.streamFunction('Replicate', {
      code,
      handler: 'index.replicate',
      environment: {
        ...replicaEnvironment(replicas),
        ...(props.transformModule ? { TransformModule: TRANSFORM_FILE } : {}),
        ...settings.common,
      },
      memorySize: settings.memorySize,
      props,
      streamArn: settings.streamArn,
      source: props.sourceTable,
    });
    this.mapStream(made, settings, { batchSize: settings.batchSize });
    grantReplicaWrites(made.role, replicas);
    return made;
  }

  /** The backup bucket (given or created), the backup function, its stream mapping and its grants. */
  private addBackupFunction(
    props: DynamoDbReplicatorProps,
    backup: IncrementalBackupProps,
    settings: StreamSettings,
  ): { made: StreamFunction; bucket: s3.IBucket } {
    const prefix = backupPrefix(backup);
    const bucket = backup.bucket ?? this.createBackupBucket();
    const made = this.streamFunction('Backup', {
      code: props.code?.backup ?? bundleCode('backup'),
      handler: 'index.backup',
      environment: {
        BackupBucket: bucket.bucketName,
        BackupPrefix: prefix,
        BackupRegion: bucket.env.region,
        ...settings.common,
      },
      memorySize: settings.memorySize,
      props,
      streamArn: settings.streamArn,
      source: props.sourceTable,
    });
    this.mapStream(made, settings, {
      batchSize: checkInteger('backup.batchSize', backup.batchSize ?? DEFAULTS.backupBatchSize, 1, 10_000),
      maxBatchingWindow: backup.maxBatchingWindow ?? DEFAULTS.backupBatchingWindow,
    });
    grantChangeLogWrites(made.role, bucket, prefix);
    if (backup.nativeExports) this.addNativeExports(props, backup.nativeExports, bucket, prefix);
    return { made, bucket };
  }

  private createBackupBucket(): s3.Bucket {
    return new s3.Bucket(this, 'BackupBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** The event source mapping from the source stream to `made.fn`, failures to its queue. */
  private mapStream(
    made: StreamFunction,
    settings: StreamSettings,
    batching: { batchSize: number; maxBatchingWindow?: Duration },
  ): void {
    made.fn.addEventSourceMapping('StreamMapping', {
      eventSourceArn: settings.streamArn,
      ...batching,
      onFailure: new SqsDlq(made.queue),
      ...settings.mapping,
    });
  }

  private streamFunction(
    name: 'Replicate' | 'Backup',
    o: {
      code: lambda.Code;
      handler: string;
      environment: Record<string, string>;
      memorySize: number;
      props: DynamoDbReplicatorProps;
      streamArn: string;
      source: dynamodb.ITable;
    },
  ): StreamFunction {
    // An explicit role and log group: no managed policy, logs writable only to this log group.
    const role = new iam.Role(this, `${name}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `dynamodb-replicator ${name.toLowerCase()} function`,
    });
    const logGroup = new logs.LogGroup(this, `${name}Logs`, {
      retention: o.props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    logGroup.grantWrite(role);
    const fn = new lambda.Function(this, `${name}Function`, {
      runtime: REPLICATOR_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      code: o.code,
      handler: o.handler,
      role,
      logGroup,
      memorySize: o.memorySize,
      timeout: o.props.timeout ?? DEFAULTS.timeout,
      environment: o.environment,
      description: `dynamodb-replicator: ${name.toLowerCase()} from the source table's stream`,
    });
    const queue = new sqs.Queue(this, `${name}FailureQueue`, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    });
    // Stream read on the source stream only (what Lambda's event source mapping polls with).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadSourceStream',
        actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
        resources: [o.streamArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListSourceStreams',
        actions: ['dynamodb:ListStreams'],
        resources: [`${o.source.tableArn}/stream/*`],
      }),
    );
    this.alarmsFor(name, fn, queue, o.props);
    return { fn, role, queue };
  }

  private alarmsFor(
    name: string,
    fn: lambda.Function,
    queue: sqs.Queue,
    props: DynamoDbReplicatorProps,
  ): void {
    const threshold = props.iteratorAgeAlarmThreshold ?? DEFAULTS.iteratorAge;
    this.alarms.push(
      new cloudwatch.Alarm(this, `${name}IteratorAgeAlarm`, {
        alarmDescription: `${name}: the oldest stream record waits longer than ${threshold.toHumanString()} (the function falls behind or keeps failing)`,
        metric: fn.metric('IteratorAge', {
          statistic: cloudwatch.Stats.MAXIMUM,
          period: Duration.minutes(1),
        }),
        threshold: threshold.toMilliseconds(),
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, `${name}ErrorsAlarm`, {
        alarmDescription: `${name}: invocations failed (whole batches are retried)`,
        metric: fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) }),
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, `${name}FailureQueueAlarm`, {
        alarmDescription: `${name}: batches gave up and were sent to the on-failure queue (records were not applied)`,
        metric: queue.metricApproximateNumberOfMessagesVisible({
          statistic: cloudwatch.Stats.MAXIMUM,
          period: Duration.minutes(1),
        }),
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}

/** Exact write actions on exactly the replica tables; replicas with a role: sts:AssumeRole only. */
function grantReplicaWrites(role: iam.Role, replicas: readonly ReplicaTableProps[]): void {
  grantReplicaAccess(role, replicas, {
    sid: 'WriteReplicaTables',
    actions: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:DescribeTable'],
  });
}

/** The file name of the bundled transform inside the replicate function's package. */
const TRANSFORM_FILE = 'transform.mjs';

function bundleCode(handler: 'replicate' | 'backup' | 'verify' | 'scanJob'): lambda.Code {
  return lambda.Code.fromAsset(lambdaBundle(handler).zip);
}

/** The replicate bundle, plus the user's transform module bundled next to it when given. */
function replicateCode(transformModule: string | undefined): lambda.Code {
  if (transformModule === undefined) return bundleCode('replicate');
  const dir = bundleScratchDir('transform');
  copyFileSync(path.join(lambdaBundle('replicate').dir, BUNDLE_FILE), path.join(dir, BUNDLE_FILE));
  bundleTransformModule(path.resolve(transformModule), path.join(dir, TRANSFORM_FILE));
  return lambda.Code.fromAsset(dir);
}
