/**
 * `ScanJob`: the AWS engine for scan jobs split into resumable segment tasks (backup, copy, diff,
 * restore). A Step Functions state machine plans the job, runs every segment in a Distributed Map
 * (each child invokes the task code's `slice` in a Lambda again and again, each slice well under the
 * 15-minute limit, until its segment is done), then merges. One Lambda function serves the three
 * steps; the state machine drives it through this contract (the segment task API, jobs/tasks.ts):
 *
 *   { action: 'plan', work, jobId, kind, params, segments } -> { tasks: [{ work, jobId, segment }], ... }
 *   { action: 'slice', work, jobId, segment, capacity? }     -> { done, ... }   (done false: call again)
 *   { action: 'merge', work, jobId }                         -> { done, pending, totals, result? }
 *
 * An execution's input is `{ kind, params, segments }`; its name (letters, digits, `.`, `_`, `-`) is the job id, so redriving a
 * failed execution resumes the same job folder. A merge whose result names a next job
 * (`result.next: { kind, jobId, params, segments }`, a verify-backup check's drill-down) is planned,
 * run and merged by the same execution, until a merge names none. `work` (the job folders' store) is fixed by the
 * construct. A slice that fails is retried (service errors, a segment busy in another run, then
 * any error `retryAttempts` times); a segment still failing ends its child with its error, the
 * other segments go on, and the execution fails before the merge with every failed segment and its
 * error in the cause.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ConfigError } from '../core/errors.js';
import { lambdaBundle } from '../deploy/bundle.js';
import { REPLICATOR_RUNTIME } from './replicator.js';

/** A folder of a bucket the jobs read backups from or write them to. */
export interface ScanJobBucketAccess {
  readonly bucket: s3.IBucket;
  /** The folder, without leading or trailing slashes. */
  readonly prefix: string;
  /** Also write (backup jobs); default: read only (restore, diff against a backup). */
  readonly write?: boolean;
}

export interface ScanJobProps {
  /**
   * The function's code: a package whose `index.mjs` exports the handler named by `handler` and
   * answering the contract above. Default: this package's `scanJob` bundle.
   */
  readonly code?: lambda.Code;
  /** Default: `index.scanJob`. */
  readonly handler?: string;
  /** Where job folders live (continuations, partial results, claims): this bucket... */
  readonly workBucket: s3.IBucket;
  /** ...under this folder. Default: `scan-jobs`. */
  readonly workPrefix?: string;
  /** Tables the jobs scan (backup, copy, diff sources, diff replicas): Scan, BatchGetItem, DescribeTable. */
  readonly readTables?: readonly dynamodb.ITable[];
  /** Tables the jobs write (copy, restore targets): BatchWriteItem, PutItem, DeleteItem, DescribeTable. */
  readonly writeTables?: readonly dynamodb.ITable[];
  /** Backup folders the jobs read or write. */
  readonly backups?: readonly ScanJobBucketAccess[];
  /** Segments running at once (children of the Distributed Map), 1 to 10,000. Default: 10. */
  readonly maxConcurrency?: number;
  /**
   * The job's capacity budget, in units per second over all segments: each running child gets
   * its share (divided by maxConcurrency). Default: no limit.
   */
  readonly capacity?: { readonly readUnitsPerSecond?: number; readonly writeUnitsPerSecond?: number };
  /** Retries of a slice that failed with any error, before its segment is reported failed (0 to 10). Default: 2. */
  readonly retryAttempts?: number;
  /** Memory of the function in MB. Default: 1769 (one full vCPU). */
  readonly memorySize?: number;
  /** The function's timeout; a slice stops a minute before it. Default: 15 minutes, the limit. */
  readonly timeout?: Duration;
  readonly logRetention?: logs.RetentionDays;
  /**
   * The CloudWatch namespace of the metrics a scheduled check publishes when it is merged (a
   * verify-backup check's last phase, a diff job labelled with a replicaTable): Discrepancies,
   * VerifiedAt. Default: DynamoDBReplicator.
   */
  readonly metricsNamespace?: string;
}

const DEFAULTS = {
  handler: 'index.scanJob',
  workPrefix: 'scan-jobs',
  maxConcurrency: 10,
  retryAttempts: 2,
  memorySize: 1769,
  timeout: Duration.minutes(15),
} as const;

/** Errors of the Lambda service itself (not the function): retried quickly and often. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/** The task code's error when another run holds a segment's claim (jobs/job-folder.ts). */
export const SEGMENT_BUSY_ERROR = 'SegmentBusyError';

/**
 * Errors no retry can cure (core/errors.ts: bad parameters, a missing table or backup, data that
 * breaks the format): the segment is reported at once.
 */
export const PERMANENT_ERRORS = [
  'UsageError',
  'ConfigError',
  'NotFoundError',
  'KeySchemaMismatchError',
  'InvalidDataError',
];

/**
 * The Lambda function of a step-function construct: a role of its own (the caller grants what the
 * function needs), a retained log group only it writes, the project's runtime on ARM.
 */
export function stepFunctionLambda(
  scope: Construct,
  roleDescription: string,
  logRetention: logs.RetentionDays | undefined,
  props: Omit<lambda.FunctionProps, 'runtime' | 'architecture' | 'role' | 'logGroup'>,
): { fn: lambda.Function; role: iam.Role } {
  const role = new iam.Role(scope, 'FunctionRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: roleDescription,
  });
  const logGroup = new logs.LogGroup(scope, 'FunctionLogs', {
    retention: logRetention ?? logs.RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  logGroup.grantWrite(role);
  const fn = new lambda.Function(scope, 'Function', {
    ...props,
    runtime: REPLICATOR_RUNTIME,
    architecture: lambda.Architecture.ARM_64,
    role,
    logGroup,
  });
  return { fn, role };
}

/**
 * A task invoking `fn` with `payload`, its response (only) put at `resultPath`; errors of the
 * Lambda service itself are retried quickly (the function's own errors are the caller's to retry).
 */
export function lambdaStep(
  scope: Construct,
  id: string,
  fn: lambda.IFunction,
  payload: Record<string, unknown>,
  resultPath?: string,
): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, id, {
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject(payload),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    ...(resultPath ? { resultPath } : {}),
  });
  task.addRetry({
    errors: LAMBDA_SERVICE_ERRORS,
    interval: Duration.seconds(2),
    maxAttempts: 6,
    backoffRate: 2,
  });
  return task;
}

function checkCount(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new ConfigError(`ScanJob: ${name} must be a whole number from ${min} to ${max}, got ${value}`);
  return value;
}

function folder(name: string, prefix: string): string {
  const clean = prefix.replace(/^\/+|\/+$/g, '');
  if (clean.split('/').some((p) => p === '' || p === '.' || p === '..'))
    throw new ConfigError(`ScanJob: ${name} must be a folder path like "jobs/prod", got "${prefix}"`);
  return clean;
}

/** Each child's share of the job's capacity budget (the task code's splitCapacity, at synth time). */
export function childCapacity(
  capacity: ScanJobProps['capacity'],
  maxConcurrency: number,
): { readUnitsPerSecond?: number; writeUnitsPerSecond?: number } {
  const share = (total: number | undefined, name: string) => {
    if (total === undefined) return undefined;
    if (!(Number.isFinite(total) && total > 0))
      throw new ConfigError(`ScanJob: capacity.${name} must be a positive number, got ${total}`);
    return total / maxConcurrency;
  };
  const read = share(capacity?.readUnitsPerSecond, 'readUnitsPerSecond');
  const write = share(capacity?.writeUnitsPerSecond, 'writeUnitsPerSecond');
  return {
    ...(read !== undefined ? { readUnitsPerSecond: read } : {}),
    ...(write !== undefined ? { writeUnitsPerSecond: write } : {}),
  };
}

export class ScanJob extends Construct {
  readonly fn: lambda.Function;
  /** The function's role: what the props name; grant more (tables reached otherwise) on it. */
  readonly role: iam.Role;
  readonly stateMachine: sfn.StateMachine;
  /** `s3://<bucket>/<prefix>`: the `work` every step gets. */
  readonly work: string;

  constructor(scope: Construct, id: string, props: ScanJobProps) {
    super(scope, id);
    const maxConcurrency = checkCount(
      'maxConcurrency',
      props.maxConcurrency ?? DEFAULTS.maxConcurrency,
      1,
      10_000,
    );
    const retryAttempts = checkCount('retryAttempts', props.retryAttempts ?? DEFAULTS.retryAttempts, 0, 10);
    const timeout = props.timeout ?? DEFAULTS.timeout;
    if (timeout.toSeconds() > DEFAULTS.timeout.toSeconds() || timeout.toSeconds() < 120)
      throw new ConfigError(
        'ScanJob: timeout must be from 2 to 15 minutes (a slice stops a minute before it)',
      );
    const capacity = childCapacity(props.capacity, maxConcurrency);
    const workPrefix = folder('workPrefix', props.workPrefix ?? DEFAULTS.workPrefix);
    this.work = `s3://${props.workBucket.bucketName}/${workPrefix}`;
    const { fn, role } = stepFunctionLambda(
      this,
      'dynamodb-replicator scan-job function',
      props.logRetention,
      {
        code: props.code ?? lambda.Code.fromAsset(lambdaBundle('scanJob').zip),
        handler: props.handler ?? DEFAULTS.handler,
        memorySize: checkCount('memorySize', props.memorySize ?? DEFAULTS.memorySize, 128, 10_240),
        timeout,
        ...(props.metricsNamespace ? { environment: { MetricsNamespace: props.metricsNamespace } } : {}),
        description: 'dynamodb-replicator: scan-job steps (plan, segment slices, merge)',
      },
    );
    this.fn = fn;
    this.role = role;
    grantJobAccess(role, props, workPrefix);
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(
        this.definition({ work: this.work, maxConcurrency, retryAttempts, capacity }),
      ),
      comment: 'dynamodb-replicator scan job: plan, every segment in slices, merge',
    });
  }

  /** A Lambda task of the contract: the function's response is the state's result. */
  private step(id: string, payload: Record<string, unknown>, resultPath?: string): sfn.TaskStateBase {
    return lambdaStep(this, id, this.fn, payload, resultPath);
  }

  private definition(o: {
    work: string;
    maxConcurrency: number;
    retryAttempts: number;
    capacity: ReturnType<typeof childCapacity>;
  }): sfn.IChainable {
    // The execution's job, named after the execution; a merge naming a next job starts it here again.
    const start = new sfn.Pass(this, 'Start', {
      parameters: {
        'kind.$': '$.kind',
        'params.$': '$.params',
        'segments.$': '$.segments',
        'jobId.$': '$$.Execution.Name',
      },
    });
    const plan = this.step(
      'Plan',
      {
        action: 'plan',
        work: o.work,
        'jobId.$': '$.jobId',
        'kind.$': '$.kind',
        'params.$': '$.params',
        'segments.$': '$.segments',
      },
      '$.plan',
    ).addRetry({ errors: ['States.ALL'], interval: Duration.seconds(10), maxAttempts: 2, backoffRate: 2 });
    const segments = new sfn.DistributedMap(this, 'Segments', {
      itemsPath: '$.plan.tasks',
      maxConcurrency: o.maxConcurrency,
      itemSelector: {
        'work.$': '$$.Map.Item.Value.work',
        'jobId.$': '$$.Map.Item.Value.jobId',
        'segment.$': '$$.Map.Item.Value.segment',
      },
      resultPath: '$.segments',
      mapExecutionType: sfn.StateMachineType.STANDARD,
    });
    segments.itemProcessor(this.segmentLoop(o));
    const failed = new sfn.Pass(this, 'FailedSegments', {
      parameters: { 'jobId.$': '$.plan.jobId', 'failed.$': '$.segments[?(@.error)]' },
    });
    return start
      .next(plan)
      .next(segments)
      .next(failed)
      .next(
        new sfn.Choice(this, 'AnySegmentFailed')
          .when(
            sfn.Condition.isPresent('$.failed[0]'),
            new sfn.Fail(this, 'SegmentsFailed', {
              error: 'SegmentsFailed',
              causePath: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.failed')),
            }),
          )
          .otherwise(this.mergeThenNext(o.work, plan)),
      );
  }

  /** The merge; a merge result naming a next job (a verify-backup drill-down) plans it in this execution. */
  private mergeThenNext(work: string, plan: sfn.IChainable): sfn.IChainable {
    const merge = this.step('Merge', { action: 'merge', work, 'jobId.$': '$.jobId' }, '$.merge');
    const nextJob = new sfn.Pass(this, 'NextJob', {
      parameters: {
        'kind.$': '$.merge.result.next.kind',
        'params.$': '$.merge.result.next.params',
        'segments.$': '$.merge.result.next.segments',
        'jobId.$': '$.merge.result.next.jobId',
      },
    });
    return merge.next(
      new sfn.Choice(this, 'Merged')
        .when(
          sfn.Condition.booleanEquals('$.merge.done', true),
          new sfn.Choice(this, 'Chained')
            .when(sfn.Condition.isPresent('$.merge.result.next'), nextJob.next(plan))
            .otherwise(new sfn.Succeed(this, 'Done')),
        )
        .otherwise(
          new sfn.Fail(this, 'MergeIncomplete', {
            error: 'MergeIncomplete',
            causePath: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.merge.pending')),
          }),
        ),
    );
  }

  /** One segment: slice until done; a slice failing after its retries ends the child with its error. */
  private segmentLoop(o: {
    retryAttempts: number;
    capacity: ReturnType<typeof childCapacity>;
  }): sfn.IChainable {
    const slice = this.step(
      'Slice',
      {
        action: 'slice',
        'work.$': '$.work',
        'jobId.$': '$.jobId',
        'segment.$': '$.segment',
        // The slice's time budget is the invocation's remaining time (the handler's own default).
        ...(Object.keys(o.capacity).length > 0 ? { capacity: o.capacity } : {}),
      },
      '$.slice',
    )
      .addRetry({
        errors: [SEGMENT_BUSY_ERROR],
        interval: Duration.seconds(30),
        maxAttempts: 20,
        backoffRate: 1.5,
        maxDelay: Duration.minutes(5),
      })
      .addRetry({ errors: PERMANENT_ERRORS, maxAttempts: 0 })
      .addRetry({
        errors: ['States.ALL'],
        interval: Duration.seconds(10),
        maxAttempts: o.retryAttempts,
        backoffRate: 2,
      });
    const segmentFailed = new sfn.Pass(this, 'SegmentFailed', {
      parameters: {
        'segment.$': '$.segment',
        'error.$': '$.error.Error',
        'cause.$': '$.error.Cause',
      },
    });
    slice.addCatch(segmentFailed, { errors: ['States.ALL'], resultPath: '$.error' });
    const segmentDone = new sfn.Pass(this, 'SegmentDone', { parameters: { 'segment.$': '$.segment' } });
    return slice.next(
      new sfn.Choice(this, 'SegmentFinished')
        .when(sfn.Condition.booleanEquals('$.slice.done', true), segmentDone)
        .otherwise(slice),
    );
  }
}

const TABLE_READS = ['dynamodb:BatchGetItem', 'dynamodb:DescribeTable', 'dynamodb:Scan'];
const TABLE_WRITES = [
  'dynamodb:BatchWriteItem',
  'dynamodb:DeleteItem',
  'dynamodb:DescribeTable',
  'dynamodb:PutItem',
];

/** Exactly the job folders, the tables and the backup folders named by the props. */
function grantJobAccess(role: iam.Role, props: ScanJobProps, workPrefix: string): void {
  const folderAccess = (sid: string, bucket: s3.IBucket, prefix: string, write: boolean) => {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: `${sid}Objects`,
        actions: write ? ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'] : ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${prefix}/*`)],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: `${sid}List`,
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${prefix}/*`] } },
      }),
    );
    if (write) bucket.encryptionKey?.grantEncryptDecrypt(role);
    else bucket.encryptionKey?.grantDecrypt(role);
  };
  folderAccess('JobFolders', props.workBucket, workPrefix, true);
  (props.backups ?? []).forEach((b, i) =>
    folderAccess(`Backups${i}`, b.bucket, folder(`backups[${i}].prefix`, b.prefix), b.write === true),
  );
  const tableStatement = (sid: string, actions: string[], tables: readonly dynamodb.ITable[] | undefined) => {
    if (tables && tables.length > 0)
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ sid, actions, resources: tables.map((t) => t.tableArn) }),
      );
  };
  tableStatement('ReadTables', TABLE_READS, props.readTables);
  tableStatement('WriteTables', TABLE_WRITES, props.writeTables);
}
