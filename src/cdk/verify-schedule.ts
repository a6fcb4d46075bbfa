/**
 * Proof on a schedule: an EventBridge rule runs the `verify` function (lambda/verify.ts) every
 * `every`; it compares the source table with each replica and with its change log and publishes
 * `Discrepancies` and `VerifiedAt` per check. Two alarms per check: discrepancies in two consecutive
 * runs (a difference the settle re-check and one more run did not clear), and no completed run in
 * two intervals (the job fails or does not run). Least privilege: read-only actions on exactly the
 * tables and the log it compares.
 *
 * With `backupJob`, the change log is verified by a ScanJob execution instead (a verify-backup job
 * and its drill-down, cdk/scan-job.ts), started by the same rule: for tables one 15-minute run
 * cannot read. Its last merge publishes the same metrics under the same dimensions, so the same
 * alarms watch it. With `replicaJob`, each replica is verified the same way: a ScanJob execution of
 * a `diff` job (no repair, the same settle re-check) per replica and run, whose merge publishes the
 * metrics under SourceTable and ReplicaTable. Each check may move to a job on its own (the two
 * options are separate so a deployment chooses per check); when every check runs as a job there is
 * no verify function. EventBridge allows five targets per rule: further targets go on more rules
 * with the same schedule.
 */
import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ConfigError } from '../core/errors.js';
import { formatTableLocation } from '../core/location.js';
import { MAX_SETTLE_MS } from '../jobs/diff-kind.js';
import { ScanJob } from './scan-job.js';
import { DIMENSION, METRIC } from '../lambda/metrics.js';
import type { MetricsDestination } from './dashboard.js';
import { grantReplicaAccess } from './replica-grants.js';

/** The construct's `verify` prop. */
export interface VerifyScheduleProps {
  /** How often the job runs: whole minutes from 1 minute to 1 day (also the alarms' period). */
  readonly every: Duration;
  /** Compare the source with every replica. Default: true. */
  readonly replicas?: boolean;
  /**
   * Compare the source with its change log's latest state (the log needs a base snapshot, see
   * `replicate --backfill --backup`). Default: true when the construct has a `backup`.
   */
  readonly backup?: boolean;
  /** Read capacity units per second the job may use on each table. Default: no limit. */
  readonly readCapacity?: number;
  /** How long a difference is re-checked later before it counts (changes in flight). Default: 10 seconds. */
  readonly settle?: Duration;
  /** The function's timeout, at most 15 minutes. Default: 15 minutes. */
  readonly timeout?: Duration;
  /** The function's memory in MB. Default: 1024. */
  readonly memorySize?: number;
  /**
   * Verify the change log by a scan job (a Step Functions execution per run, see ScanJob) instead of
   * inside the verify function: for a table too large to read in one 15-minute run. Default: none.
   */
  readonly backupJob?: VerifyBackupJobProps;
  /**
   * Verify each replica by a scan job (a Step Functions execution of a `diff` job per replica and
   * run) instead of inside the verify function: for a table too large to read in one 15-minute run.
   * Default: none.
   */
  readonly replicaJob?: VerifyReplicaJobProps;
  /**
   * How long the folders of `backupJob` and `replicaJob` (states, digests, reports) are kept in a
   * bucket this deployment created; they expire by a lifecycle rule on their folder. In a bucket
   * passed in, add a rule of your own. Default: 30 days.
   */
  readonly jobRetention?: Duration;
}

/** Job folders under `prefix` expire after `retention` (default 30 days) in a bucket the deployment made. */
function expireJobFolders(bucket: s3.IBucket, prefix: string, retention = Duration.days(30)): void {
  if (bucket instanceof s3.Bucket) bucket.addLifecycleRule({ prefix: `${prefix}/`, expiration: retention });
}

/** The scan job that verifies the change log on the schedule (`verify.backupJob`). */
export interface VerifyBackupJobProps {
  /** Segment tasks the table and the log's files are split into (1 to 10,000). Default: 16. */
  readonly segments?: number;
  /** Segments running at once. Default: 10. */
  readonly maxConcurrency?: number;
  /**
   * Read capacity units per second the whole job may use on the source table, split over the
   * segments running at once. Default: verify.readCapacity, else no limit.
   */
  readonly readCapacity?: number;
  /** Where its job folders live in the backup bucket. Default: `verify-jobs`. */
  readonly workPrefix?: string;
}

/** The scan job that verifies each replica on the schedule (`verify.replicaJob`). */
export interface VerifyReplicaJobProps {
  /** Segment tasks both tables are split into (1 to 10,000). Default: 16. */
  readonly segments?: number;
  /** Segments running at once. Default: 10. */
  readonly maxConcurrency?: number;
  /**
   * Read capacity units per second the whole job may use on each of the two tables, split over the
   * segments running at once. Default: verify.readCapacity, else no limit.
   */
  readonly readCapacity?: number;
  /** The bucket its job folders live in. Default: the backup bucket, else a bucket made for it. */
  readonly workBucket?: s3.IBucket;
  /** Where its job folders live in that bucket. Default: `verify-replica-jobs`. */
  readonly workPrefix?: string;
}

/** What the replicator hands over: the deployment's tables, log and settings. */
export interface VerifyJobInput {
  readonly props: VerifyScheduleProps;
  readonly sourceTable: dynamodb.ITable;
  readonly replicas: readonly {
    readonly tableName: string;
    readonly region: string;
    readonly account?: string;
    readonly roleArn?: string;
    readonly externalId?: string;
  }[];
  /** Environment naming the replicas, as the replicate function gets it. */
  readonly replicaEnvironment: Record<string, string>;
  readonly backup?: {
    readonly bucket: s3.IBucket;
    readonly prefix: string;
    /** The deployment created the bucket (so the job folders in it may get a lifecycle rule). */
    readonly owned?: boolean;
  };
  readonly namespace: string;
  /** The `verify` package. */
  readonly code: lambda.Code;
  /** The `scanJob` package (for `backupJob` and `replicaJob`). */
  readonly scanJobCode?: lambda.Code;
  readonly runtime: lambda.Runtime;
  readonly logRetention: logs.RetentionDays;
}

const MAX_TIMEOUT = Duration.minutes(15);

function checkEvery(every: Duration): void {
  const minutes = every.toSeconds() / 60;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440)
    throw new ConfigError(
      `DynamoDbReplicator: verify.every must be whole minutes from 1 minute to 1 day, got ${every.toHumanString()}`,
    );
}

function checkProps(props: VerifyScheduleProps): void {
  checkEvery(props.every);
  if ((props.timeout ?? MAX_TIMEOUT).toSeconds() > MAX_TIMEOUT.toSeconds())
    throw new ConfigError('DynamoDbReplicator: verify.timeout must be at most 15 minutes (the Lambda limit)');
  const whole = (name: string, v: number | undefined, max: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1 && v <= max))
      throw new ConfigError(
        `DynamoDbReplicator: verify.${name} must be a whole number from 1 to ${max}, got ${v}`,
      );
  };
  whole('readCapacity', props.readCapacity, 1_000_000);
  whole('backupJob.segments', props.backupJob?.segments, 10_000);
  whole('backupJob.readCapacity', props.backupJob?.readCapacity, 1_000_000);
  whole('replicaJob.segments', props.replicaJob?.segments, 10_000);
  whole('replicaJob.readCapacity', props.replicaJob?.readCapacity, 1_000_000);
  if (props.replicaJob && (props.settle?.toMilliseconds() ?? 0) > MAX_SETTLE_MS)
    throw new ConfigError(
      `DynamoDbReplicator: verify.settle must be at most ${MAX_SETTLE_MS / 1000} seconds with verify.replicaJob (a job's slice re-checks within its commit margin)`,
    );
}

/**
 * A replica's location as a diff job opens it: `region/table`, with its role and ExternalId as the
 * location's identity (the way the verify function assumes it). The location is data in the rule's
 * input, so an ExternalId must be known at synthesis.
 */
export function replicaJobLocation(r: VerifyJobInput['replicas'][number]): string {
  if (r.externalId !== undefined && Token.isUnresolved(r.externalId))
    throw new ConfigError(
      `DynamoDbReplicator: verify.replicaJob needs the ExternalId of ${r.region}/${r.tableName} as text, not a token (it is part of the job's table location)`,
    );
  const role = r.roleArn
    ? { arn: r.roleArn, ...(r.externalId !== undefined ? { externalId: r.externalId } : {}) }
    : undefined;
  return formatTableLocation({
    kind: 'aws',
    region: r.region,
    table: r.tableName,
    ...(role ? { identity: { role } } : {}),
  });
}

/** The destinations a run checks, by its props: replicas and/or the change log. */
export function verifyDestinations(input: VerifyJobInput): MetricsDestination[] {
  const { props } = input;
  const out: MetricsDestination[] = [];
  if (props.replicas ?? true)
    for (const r of input.replicas)
      out.push({
        dimension: DIMENSION.replicaTable,
        value: `${r.region}/${r.tableName}`,
        label: `${r.region}/${r.tableName}`,
      });
  if (input.backup && (props.backup ?? true))
    out.push({
      dimension: DIMENSION.backupLocation,
      value: `s3://${input.backup.bucket.bucketName}/${input.backup.prefix}`,
      label: 'change log',
    });
  return out;
}

/** Targets EventBridge allows on one rule. */
const TARGETS_PER_RULE = 5;

export class VerifySchedule extends Construct {
  /** The verify function; undefined when every check runs as a scan job. */
  readonly fn?: lambda.Function;
  /** The scan job verifying the change log (`backupJob`). */
  readonly backupJob?: ScanJob;
  /** The scan job verifying each replica (`replicaJob`). */
  readonly replicaJob?: ScanJob;
  /** The schedule (the first rule when there are more than five targets). */
  readonly rule: events.Rule;
  /** Every rule of the schedule, five targets each at most. */
  readonly rules: events.Rule[] = [];
  private targetCount = 0;
  /** Per check: persistent discrepancies, then not verified. */
  readonly alarms: cloudwatch.Alarm[] = [];
  /** Per check, the Discrepancies metric (maximum per interval). */
  readonly discrepancyMetrics: cloudwatch.Metric[] = [];

  constructor(
    scope: Construct,
    id: string,
    private readonly input: VerifyJobInput,
  ) {
    super(scope, id);
    const { props } = input;
    checkProps(props);
    const destinations = verifyDestinations(input);
    if (destinations.length === 0)
      throw new ConfigError(
        'DynamoDbReplicator: verify has nothing to compare (no replica and no backup chosen)',
      );
    const checksReplicas = destinations.some((d) => d.dimension === DIMENSION.replicaTable);
    const checksLog = destinations.some((d) => d.dimension === DIMENSION.backupLocation);
    const logByJob = checksLog && props.backupJob !== undefined;
    const replicasByJob = checksReplicas && props.replicaJob !== undefined;
    this.rule = this.addRule();
    const inFunction = { replicas: checksReplicas && !replicasByJob, log: checksLog && !logByJob };
    if (inFunction.replicas || inFunction.log) {
      this.fn = this.verifyFunction(input, inFunction);
      this.schedule(new targets.LambdaFunction(this.fn, { retryAttempts: 0 }));
    }
    if (logByJob && input.backup) this.backupJob = this.addBackupJob(input, input.backup);
    if (replicasByJob) this.replicaJob = this.addReplicaJob(input);
    for (const d of destinations) this.addCheckAlarms(input, d, props.every);
  }

  private addRule(): events.Rule {
    const n = this.rules.length;
    const rule = new events.Rule(this, n === 0 ? 'Schedule' : `Schedule${n + 1}`, {
      schedule: events.Schedule.rate(this.input.props.every),
      description: 'dynamodb-replicator: run the verify job',
    });
    this.rules.push(rule);
    return rule;
  }

  /** Adds a target to the schedule: on the last rule, or on a new one when that one is full. */
  private schedule(target: events.IRuleTarget): void {
    if (this.targetCount === this.rules.length * TARGETS_PER_RULE) this.addRule();
    (this.rules.at(-1) as events.Rule).addTarget(target);
    this.targetCount += 1;
  }

  /** The verify function, with read access to exactly what it compares. */
  private verifyFunction(input: VerifyJobInput, what: { replicas: boolean; log: boolean }): lambda.Function {
    const { props } = input;
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'dynamodb-replicator verify function',
    });
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: input.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    logGroup.grantWrite(role);
    const fn = new lambda.Function(this, 'Function', {
      runtime: input.runtime,
      architecture: lambda.Architecture.ARM_64,
      code: input.code,
      handler: 'index.verify',
      role,
      logGroup,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? MAX_TIMEOUT,
      // A failed run is not repeated at once: the next scheduled run is the retry.
      retryAttempts: 0,
      environment: {
        VerifySourceTable: input.sourceTable.tableName,
        ...(what.replicas ? input.replicaEnvironment : {}),
        ...(what.log && input.backup
          ? {
              BackupBucket: input.backup.bucket.bucketName,
              BackupPrefix: input.backup.prefix,
              BackupRegion: input.backup.bucket.env.region,
            }
          : {}),
        ...(props.readCapacity !== undefined ? { VerifyReadCapacity: String(props.readCapacity) } : {}),
        VerifySettleSeconds: String((props.settle ?? Duration.seconds(10)).toSeconds()),
        MetricsNamespace: input.namespace,
      },
      description: 'dynamodb-replicator: verify replicas and backup against the source table',
    });
    grantVerifyReads(role, input, what);
    return fn;
  }

  /**
   * The scan job verifying the source table against its change log, started by the rule with the
   * job's input; its last merge reports under the dimensions the alarms watch.
   */
  private addBackupJob(input: VerifyJobInput, backup: NonNullable<VerifyJobInput['backup']>): ScanJob {
    const o = input.props.backupJob ?? {};
    const table = input.sourceTable.tableName;
    const log = `${backup.prefix}/${table}`;
    const readCapacity = o.readCapacity ?? input.props.readCapacity;
    const workPrefix = o.workPrefix ?? 'verify-jobs';
    if (backup.owned) expireJobFolders(backup.bucket, workPrefix, input.props.jobRetention);
    const job = new ScanJob(this, 'BackupJob', {
      code: input.scanJobCode ?? input.code,
      workBucket: backup.bucket,
      workPrefix,
      readTables: [input.sourceTable],
      backups: [{ bucket: backup.bucket, prefix: log }],
      ...(o.maxConcurrency !== undefined ? { maxConcurrency: o.maxConcurrency } : {}),
      ...(readCapacity !== undefined ? { capacity: { readUnitsPerSecond: readCapacity } } : {}),
      metricsNamespace: input.namespace,
      logRetention: input.logRetention,
    });
    this.schedule(
      new targets.SfnStateMachine(job.stateMachine, {
        input: events.RuleTargetInput.fromObject({
          kind: 'verify-backup',
          params: {
            table,
            backup: `s3://${backup.bucket.bucketName}/${log}`,
            labels: {
              sourceTable: table,
              backupLocation: `s3://${backup.bucket.bucketName}/${backup.prefix}`,
            },
          },
          segments: o.segments ?? 16,
        }),
        retryAttempts: 0,
      }),
    );
    return job;
  }

  /**
   * The scan job verifying each replica against the source table: one `diff` execution per replica
   * and run (no repair, the verify settle), its merge reporting under the dimensions the alarms watch.
   */
  private addReplicaJob(input: VerifyJobInput): ScanJob {
    const o = input.props.replicaJob ?? {};
    const table = input.sourceTable.tableName;
    const readCapacity = o.readCapacity ?? input.props.readCapacity;
    const workPrefix = o.workPrefix ?? 'verify-replica-jobs';
    const workBucket = o.workBucket ?? input.backup?.bucket ?? this.jobBucket();
    if (!o.workBucket && (!input.backup || input.backup.owned))
      expireJobFolders(workBucket, workPrefix, input.props.jobRetention);
    const job = new ScanJob(this, 'ReplicaJob', {
      code: input.scanJobCode ?? input.code,
      workBucket,
      workPrefix,
      readTables: [input.sourceTable],
      ...(o.maxConcurrency !== undefined ? { maxConcurrency: o.maxConcurrency } : {}),
      ...(readCapacity !== undefined ? { capacity: { readUnitsPerSecond: readCapacity } } : {}),
      metricsNamespace: input.namespace,
      logRetention: input.logRetention,
    });
    grantReplicaAccess(job.role, input.replicas, { sid: 'ReadReplicaTables', actions: READ_ACTIONS });
    const settleMs = (input.props.settle ?? Duration.seconds(10)).toMilliseconds();
    for (const r of input.replicas)
      this.schedule(
        new targets.SfnStateMachine(job.stateMachine, {
          input: events.RuleTargetInput.fromObject({
            kind: 'diff',
            params: {
              primary: table,
              replica: replicaJobLocation(r),
              repair: false,
              settleMs,
              labels: { sourceTable: table, replicaTable: `${r.region}/${r.tableName}` },
            },
            segments: o.segments ?? 16,
          }),
          retryAttempts: 0,
        }),
      );
    return job;
  }

  /** A bucket for the replica job's folders when the deployment has no backup bucket. */
  private jobBucket(): s3.Bucket {
    return new s3.Bucket(this, 'JobBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  private addCheckAlarms(input: VerifyJobInput, d: MetricsDestination, every: Duration): void {
    const metric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: input.namespace,
        metricName,
        dimensionsMap: { [DIMENSION.sourceTable]: input.sourceTable.tableName, [d.dimension]: d.value },
        statistic,
        period: every,
        label: d.label,
      });
    const discrepancies = metric(METRIC.discrepancies, cloudwatch.Stats.MAXIMUM);
    this.discrepancyMetrics.push(discrepancies);
    const id =
      d.dimension === DIMENSION.replicaTable ? `Replica${d.label.replace(/[^A-Za-z0-9]/g, '')}` : 'ChangeLog';
    this.alarms.push(
      new cloudwatch.Alarm(this, `${id}DiscrepanciesAlarm`, {
        alarmDescription: `verify ${d.label}: discrepancies in two consecutive runs (not changes in flight); see docs/operations.md`,
        metric: discrepancies,
        threshold: 0,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        // A run that failed publishes nothing; the not-verified alarm reports that.
        treatMissingData: cloudwatch.TreatMissingData.IGNORE,
      }),
      new cloudwatch.Alarm(this, `${id}NotVerifiedAlarm`, {
        alarmDescription: `verify ${d.label}: no completed run in two intervals (the job fails or does not run); see docs/operations.md`,
        metric: metric(METRIC.verifiedAt, cloudwatch.Stats.SAMPLE_COUNT),
        threshold: 1,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );
  }
}

const READ_ACTIONS = ['dynamodb:BatchGetItem', 'dynamodb:DescribeTable', 'dynamodb:Scan'];

/** Read-only: the source table, the replicas it compares (or their roles), and this table's log. */
function grantVerifyReads(
  role: iam.Role,
  input: VerifyJobInput,
  what: { replicas: boolean; log: boolean },
): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadSourceTable',
      actions: READ_ACTIONS,
      resources: [input.sourceTable.tableArn],
    }),
  );
  grantReplicaAccess(role, what.replicas ? input.replicas : [], {
    sid: 'ReadReplicaTables',
    actions: READ_ACTIONS,
  });
  if (what.log && input.backup) {
    const { bucket, prefix } = input.backup;
    const log = `${prefix}/${input.sourceTable.tableName}/`;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadChangeLog',
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${log}*`)],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListChangeLog',
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${log}*`] } },
      }),
    );
    bucket.encryptionKey?.grantDecrypt(role);
  }
}
