/**
 * `NativeExportSchedule`: native backups (DynamoDB's Export to S3) of one table into its change log
 * `s3://<bucket>/<prefix>/<table>/` (the log the replicator's backup function writes), on a
 * schedule. An export can take longer than a Lambda may run, so a Step Functions state machine does
 * the waiting; the `nativeExport` function (lambda/native-export.ts) runs each short step:
 *
 *   Start -> Skipped? (another run holds the lease: Skipped) -> WaitForExport -> Check
 *     -> ExportDone? (IN_PROGRESS: WaitForExport; COMPLETED: BeginVerify)
 *     -> Finish -> Verified? (done: Indexed; else Finish again with its progress)
 *
 * Finish verifies data files until its invocation's time is nearly spent and returns its progress;
 * the machine calls it again until every file is verified and the export indexed, so an export of
 * any size finishes. An incremental run holds the log's lease from Start until Finish indexes the
 * export; a run started meanwhile ends in the `Skipped` (Succeed) state. An export that FAILED (or
 * a step failing after its retries) goes through `ReleaseLease` (the lease is given up) and ends the
 * execution in the `NativeExportFailed` state with the step's error and message; nothing is indexed.
 * One kind per construct: a full export (a new base snapshot) or an incremental one (the changes
 * since the log's last export); use two constructs for both, e.g. a weekly full and a daily incremental.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ConfigError } from '../core/errors.js';
import { lambdaBundle } from '../deploy/bundle.js';
import { lambdaStep, PERMANENT_ERRORS, stepFunctionLambda } from './scan-job.js';

export interface NativeExportScheduleProps {
  /** The table exported; it needs point-in-time recovery. */
  readonly table: dynamodb.ITable;
  /** The bucket of the change log... */
  readonly bucket: s3.IBucket;
  /** ...and its folder: the table's log is `<prefix>/<table>/`. Default: `dynamodb-replicator`. */
  readonly prefix?: string;
  /** `full` (a new base snapshot) or `incremental` (the changes since the log's last export). */
  readonly kind: 'full' | 'incremental';
  /** When an export runs, e.g. `Schedule.rate(Duration.days(1))`. */
  readonly schedule: events.Schedule;
  /** Time between two looks at a running export. Default: 60 seconds. */
  readonly pollInterval?: Duration;
  /** The longest an execution (the export and its verification) may take. Default: 24 hours. */
  readonly timeout?: Duration;
  /**
   * The function's timeout, at most 15 minutes: each finish step verifies data files until a minute
   * before it, and the state machine calls it again until all are verified. Default: 15 minutes.
   */
  readonly functionTimeout?: Duration;
  /** Memory of the function in MB. Default: 1769 (one full vCPU). */
  readonly memorySize?: number;
  /**
   * Incremental: the first run, on a log with no base snapshot yet, makes a full export (the base)
   * instead of failing. Default: true.
   */
  readonly fullIfNoBase?: boolean;
  /** The KMS key DynamoDB encrypts the export's objects with. Default: the bucket's encryption. */
  readonly kmsKeyId?: string;
  /** The function's code (a package with `index.mjs` exporting `nativeExport`). Default: this package's bundle. */
  readonly code?: lambda.Code;
  readonly logRetention?: logs.RetentionDays;
}

const DEFAULTS = {
  prefix: 'dynamodb-replicator',
  pollInterval: Duration.seconds(60),
  timeout: Duration.hours(24),
  functionTimeout: Duration.minutes(15),
  memorySize: 1769,
} as const;

function checkProps(props: NativeExportScheduleProps): string {
  const fail = (message: string) => {
    throw new ConfigError(`NativeExportSchedule: ${message}`);
  };
  if (props.kind !== 'full' && props.kind !== 'incremental')
    fail(`kind must be "full" or "incremental", got "${String(props.kind)}"`);
  const prefix = (props.prefix ?? DEFAULTS.prefix).replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((p) => p === '' || p === '.' || p === '..'))
    fail(`prefix must be a folder path like "backups/prod", got "${props.prefix}"`);
  const poll = (props.pollInterval ?? DEFAULTS.pollInterval).toSeconds();
  if (!Number.isInteger(poll) || poll < 10 || poll > 3600)
    fail(`pollInterval must be whole seconds from 10 seconds to 1 hour, got ${poll} s`);
  const fnTimeout = (props.functionTimeout ?? DEFAULTS.functionTimeout).toSeconds();
  if (fnTimeout < 60 || fnTimeout > 900) fail('functionTimeout must be from 1 to 15 minutes');
  const timeout = (props.timeout ?? DEFAULTS.timeout).toSeconds();
  if (timeout < 15 * 60 || timeout > 7 * 24 * 3600) fail('timeout must be from 15 minutes to 7 days');
  const memory = props.memorySize ?? DEFAULTS.memorySize;
  if (!Number.isInteger(memory) || memory < 128 || memory > 10_240)
    fail(`memorySize must be a whole number from 128 to 10240, got ${memory}`);
  return prefix;
}

export class NativeExportSchedule extends Construct {
  readonly fn: lambda.Function;
  readonly stateMachine: sfn.StateMachine;
  readonly rule: events.Rule;
  /** `s3://<bucket>/<prefix>/<table>`: the change log the exports go into. */
  readonly location: string;
  /** Raised by an execution that failed or timed out (runbook: docs/operations.md). */
  readonly failedAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: NativeExportScheduleProps) {
    super(scope, id);
    const prefix = checkProps(props);
    const { table, bucket } = props;
    this.location = `s3://${bucket.bucketName}/${prefix}/${table.tableName}`;
    const { fn, role } = stepFunctionLambda(
      this,
      'dynamodb-replicator native export function',
      props.logRetention,
      {
        code: props.code ?? lambda.Code.fromAsset(lambdaBundle('nativeExport').zip),
        handler: 'index.nativeExport',
        memorySize: props.memorySize ?? DEFAULTS.memorySize,
        timeout: props.functionTimeout ?? DEFAULTS.functionTimeout,
        environment: {
          NativeExportTable: table.tableName,
          NativeExportKind: props.kind,
          ...(props.kind === 'incremental' && props.fullIfNoBase !== false
            ? { NativeExportFullIfNoBase: 'true' }
            : {}),
          ...(props.kmsKeyId ? { NativeExportKmsKeyId: props.kmsKeyId } : {}),
          // A run's lease outlives nothing but a crashed execution: the machine's own timeout.
          NativeExportLeaseSeconds: String((props.timeout ?? DEFAULTS.timeout).toSeconds()),
          BackupBucket: bucket.bucketName,
          BackupPrefix: prefix,
          BackupRegion: bucket.env.region,
        },
        description: `dynamodb-replicator: ${props.kind} native export steps (start, check, finish)`,
      },
    );
    this.fn = fn;
    grantExportAccess(role, table, bucket, `${prefix}/${table.tableName}`);
    if (props.kmsKeyId)
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ExportEncryption',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [props.kmsKeyId],
        }),
      );
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(
        this.definition(props.pollInterval ?? DEFAULTS.pollInterval),
      ),
      timeout: props.timeout ?? DEFAULTS.timeout,
      comment: `dynamodb-replicator ${props.kind} native export of ${table.tableName}: start, wait, check, finish`,
    });
    this.failedAlarm = failedExecutionsAlarm(this, this.stateMachine, props.kind, table.tableName);
    this.rule = new events.Rule(this, 'Schedule', {
      schedule: props.schedule,
      description: `dynamodb-replicator: a ${props.kind} native export`,
      targets: [
        new targets.SfnStateMachine(this.stateMachine, {
          input: events.RuleTargetInput.fromObject({}),
          retryAttempts: 0,
        }),
      ],
    });
  }

  /** A step of the function; its own errors are retried twice, except those no retry cures. */
  private step(id: string, payload: Record<string, unknown>, resultPath: string): tasks.LambdaInvoke {
    const task = lambdaStep(this, id, this.fn, payload, resultPath);
    task
      .addRetry({ errors: PERMANENT_ERRORS, maxAttempts: 0 })
      .addRetry({ errors: ['States.ALL'], interval: Duration.seconds(10), maxAttempts: 2, backoffRate: 2 });
    return task;
  }

  private definition(pollInterval: Duration): sfn.IChainable {
    const failed = new sfn.Fail(this, 'NativeExportFailed', {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    // After Start, a failure gives up the run's lease first (a failed release still ends in failed).
    const release = this.step('ReleaseLease', { action: 'release', 'started.$': '$.started' }, '$.released');
    release.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.releaseError' });
    release.next(failed);
    const catchInto = (task: tasks.LambdaInvoke, into: sfn.IChainable) =>
      task.addCatch(into, { errors: ['States.ALL'], resultPath: '$.error' });
    const start = catchInto(
      this.step('Start', { action: 'start', 'run.$': '$$.Execution.Name' }, '$.started'),
      failed,
    );
    const wait = new sfn.Wait(this, 'WaitForExport', { time: sfn.WaitTime.duration(pollInterval) });
    const check = catchInto(
      this.step('Check', { action: 'check', 'started.$': '$.started' }, '$.check'),
      release,
    );
    const finish = catchInto(
      this.step(
        'Finish',
        { action: 'finish', 'started.$': '$.started', 'progress.$': '$.result' },
        '$.result',
      ),
      release,
    );
    const verified = new sfn.Choice(this, 'Verified')
      .when(sfn.Condition.booleanEquals('$.result.done', true), new sfn.Succeed(this, 'Indexed'))
      .otherwise(finish);
    const beginVerify = new sfn.Pass(this, 'BeginVerify', {
      result: sfn.Result.fromObject({ done: false }),
      resultPath: '$.result',
    });
    return start.next(
      new sfn.Choice(this, 'StartedOrSkipped')
        .when(sfn.Condition.isPresent('$.started.skipped'), new sfn.Succeed(this, 'Skipped'))
        .otherwise(
          wait
            .next(check)
            .next(
              new sfn.Choice(this, 'ExportDone')
                .when(
                  sfn.Condition.stringEquals('$.check.state', 'COMPLETED'),
                  beginVerify.next(finish).next(verified),
                )
                .otherwise(wait),
            ),
        ),
    );
  }
}

/**
 * One alarm per schedule: any execution that failed or timed out within 5 minutes (a skipped run
 * succeeds and raises nothing). Missing data (no execution) is not breaching.
 */
function failedExecutionsAlarm(
  scope: Construct,
  stateMachine: sfn.StateMachine,
  kind: string,
  table: string,
): cloudwatch.Alarm {
  const period = Duration.minutes(5);
  return new cloudwatch.Alarm(scope, 'FailedAlarm', {
    alarmDescription:
      `dynamodb-replicator: a ${kind} native export of ${table} failed or timed out; nothing was indexed. ` +
      'Runbook: docs/operations.md, "A native export failed".',
    metric: new cloudwatch.MathExpression({
      expression: 'FILL(failed, 0) + FILL(timedOut, 0)',
      usingMetrics: {
        failed: stateMachine.metricFailed({ period, statistic: 'Sum' }),
        timedOut: stateMachine.metricTimedOut({ period, statistic: 'Sum' }),
      },
      period,
      label: 'failed or timed-out executions',
    }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/**
 * Exactly what the steps need: the export of this table and its status, the table's description
 * (log identity), and the table's log folder (DynamoDB writes the export with the caller's
 * permissions; the finish step reads it back and writes the index).
 */
function grantExportAccess(role: iam.Role, table: dynamodb.ITable, bucket: s3.IBucket, log: string): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ExportTable',
      actions: ['dynamodb:DescribeTable', 'dynamodb:ExportTableToPointInTime'],
      resources: [table.tableArn],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ExportStatus',
      actions: ['dynamodb:DescribeExport'],
      resources: [`${table.tableArn}/export/*`],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ChangeLogObjects',
      actions: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'],
      resources: [bucket.arnForObjects(`${log}/*`)],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'RunLease',
      actions: ['s3:DeleteObject'],
      resources: [bucket.arnForObjects(`${log}/runs/*`)],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ChangeLogList',
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${log}/*`] } },
    }),
  );
  bucket.encryptionKey?.grantEncryptDecrypt(role);
}
