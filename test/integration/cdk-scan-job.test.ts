/**
 * The ScanJob construct: template assertions (a DISTRIBUTED Map with its MaxConcurrency, the retry
 * and catch configuration, the capacity split across children, exact IAM statements of both roles,
 * synth-time errors), and the synthesized state machine driven locally, state by state in order
 * (test/harness/asl.ts), through an in-process handler against DynamoDB Local and s3rver. The
 * handler is a stand-in answering the segment task code's contract (test/harness/scan-job-stand-in.ts).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ScanJob, type ScanJobProps } from '../../src/cdk/index.js';
import { resolveRestoreSource } from '../../src/backup/restore-source.js';
import { ConfigError } from '../../src/core/errors.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { AslInterpreter, StatesError, type Machine } from '../harness/asl.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { startLocalS3 } from '../harness/s3.js';
import { scanJobStandIn } from '../harness/scan-job-stand-in.js';
import { putItems } from '../harness/table-load.js';
import { roleStatements, stateMachineDefinition } from '../harness/cfn.js';

const ACCOUNT = '111111111111';
// Started at the file's level: it stops after the file (one started in a hook stops after the hook).
const s3server = await startLocalS3();

function synth(props: Partial<ScanJobProps> & { bucketName?: string } = {}) {
  const stack = new Stack(new App(), 'Jobs', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const source = dynamodb.Table.fromTableName(stack, 'Source', 'users');
  const target = dynamodb.Table.fromTableName(stack, 'Target', 'users-copy');
  const work = s3.Bucket.fromBucketName(stack, 'Work', props.bucketName ?? 'job-work');
  const backups = s3.Bucket.fromBucketName(stack, 'Backups', 'my-backups');
  const job = new ScanJob(stack, 'Job', {
    code: lambda.Code.fromInline('export const scanJob = async () => ({});'),
    workBucket: work,
    readTables: [source],
    writeTables: [target],
    backups: [{ bucket: backups, prefix: 'users/', write: true }],
    maxConcurrency: 4,
    capacity: { readUnitsPerSecond: 400, writeUnitsPerSecond: 100 },
    ...props,
  });
  const template = Template.fromStack(stack);
  const fnId = stack.getLogicalId(job.fn.node.defaultChild as lambda.CfnFunction);
  return { stack, job, template, fnId };
}

const definition = (template: Template): Machine => stateMachineDefinition<Machine>(template);
const statementsOf = roleStatements;

describe('the synthesized state machine and roles', () => {
  const { template, fnId } = synth();
  const machine = definition(template);
  const segments = machine.States.Segments as unknown as Record<string, unknown> & { ItemProcessor: Machine };
  const slice = segments.ItemProcessor.States.Slice as unknown as Record<string, unknown>;

  test('plan, a DISTRIBUTED map of STANDARD children with MaxConcurrency 4, then the failure check and the merge', () => {
    assert.equal(machine.StartAt, 'Start');
    assert.deepEqual(
      Object.keys(machine.States).sort(),
      [
        'AnySegmentFailed',
        'Chained',
        'Done',
        'NextJob',
        'Start',
        'FailedSegments',
        'Merge',
        'MergeIncomplete',
        'Merged',
        'Plan',
        'SegmentsFailed',
        'Segments',
      ].sort(),
    );
    assert.equal(segments.Type, 'Map');
    assert.deepEqual(segments.ItemProcessor, {
      ...segments.ItemProcessor,
      ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
    });
    assert.equal(segments.MaxConcurrency, 4);
    assert.equal(segments.ItemsPath, '$.plan.tasks');
    assert.deepEqual(Object.keys(segments.ItemProcessor.States).sort(), [
      'SegmentDone',
      'SegmentFailed',
      'SegmentFinished',
      'Slice',
    ]);
    assert.deepEqual(machine.States.Start?.Parameters, {
      'kind.$': '$.kind',
      'params.$': '$.params',
      'segments.$': '$.segments',
      'jobId.$': '$$.Execution.Name',
    });
    assert.deepEqual(machine.States.Plan?.Parameters, {
      action: 'plan',
      work: 's3://job-work/scan-jobs',
      'jobId.$': '$.jobId',
      'kind.$': '$.kind',
      'params.$': '$.params',
      'segments.$': '$.segments',
    });
    assert.equal(machine.States.Plan?.Resource, `{${fnId}.Arn}`);
  });

  test("a merge result's next job is planned again in the same execution, under the job id it names", () => {
    assert.deepEqual(machine.States.Merged?.Choices, [
      { Variable: '$.merge.done', BooleanEquals: true, Next: 'Chained' },
    ]);
    assert.deepEqual(machine.States.Chained, {
      Type: 'Choice',
      Choices: [{ Variable: '$.merge.result.next', IsPresent: true, Next: 'NextJob' }],
      Default: 'Done',
    });
    assert.deepEqual(machine.States.NextJob, {
      Type: 'Pass',
      Parameters: {
        'kind.$': '$.merge.result.next.kind',
        'params.$': '$.merge.result.next.params',
        'segments.$': '$.merge.result.next.segments',
        'jobId.$': '$.merge.result.next.jobId',
      },
      Next: 'Plan',
    });
    assert.deepEqual(machine.States.FailedSegments?.Parameters, {
      'jobId.$': '$.plan.jobId',
      'failed.$': '$.segments[?(@.error)]',
    });
  });

  test('each child gets its share of the capacity budget; a slice is retried, then caught with its error', () => {
    assert.deepEqual(slice.Parameters, {
      action: 'slice',
      'work.$': '$.work',
      'jobId.$': '$.jobId',
      'segment.$': '$.segment',
      capacity: { readUnitsPerSecond: 100, writeUnitsPerSecond: 25 },
    });
    assert.deepEqual(slice.Retry, [
      {
        ErrorEquals: [
          'Lambda.ServiceException',
          'Lambda.AWSLambdaException',
          'Lambda.SdkClientException',
          'Lambda.TooManyRequestsException',
        ],
        IntervalSeconds: 2,
        MaxAttempts: 6,
        BackoffRate: 2,
      },
      {
        ErrorEquals: ['SegmentBusyError'],
        IntervalSeconds: 30,
        MaxAttempts: 20,
        BackoffRate: 1.5,
        MaxDelaySeconds: 300,
      },
      {
        ErrorEquals: [
          'UsageError',
          'ConfigError',
          'NotFoundError',
          'KeySchemaMismatchError',
          'InvalidDataError',
        ],
        MaxAttempts: 0,
      },
      { ErrorEquals: ['States.ALL'], IntervalSeconds: 10, MaxAttempts: 2, BackoffRate: 2 },
    ]);
    assert.deepEqual(slice.Catch, [
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'SegmentFailed' },
    ]);
    assert.deepEqual(segments.ItemProcessor.States.SegmentFinished, {
      Type: 'Choice',
      Choices: [{ Variable: '$.slice.done', BooleanEquals: true, Next: 'SegmentDone' }],
      Default: 'Slice',
    });
  });

  test('the function role: exactly its log group, the job folders, the backup folder and the two tables', () => {
    const logsId = Object.keys(template.findResources('AWS::Logs::LogGroup'))[0];
    assert.deepEqual(statementsOf(template, 'JobFunctionRole'), [
      { sid: '-', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`{${logsId}.Arn}`] },
      {
        sid: 'JobFoldersObjects',
        actions: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
        resources: ['arn:{AWS::Partition}:s3:::job-work/scan-jobs/*'],
      },
      {
        sid: 'JobFoldersList',
        actions: ['s3:ListBucket'],
        resources: ['arn:{AWS::Partition}:s3:::job-work'],
        condition: { StringLike: { 's3:prefix': ['scan-jobs/*'] } },
      },
      {
        sid: 'Backups0Objects',
        actions: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
        resources: ['arn:{AWS::Partition}:s3:::my-backups/users/*'],
      },
      {
        sid: 'Backups0List',
        actions: ['s3:ListBucket'],
        resources: ['arn:{AWS::Partition}:s3:::my-backups'],
        condition: { StringLike: { 's3:prefix': ['users/*'] } },
      },
      {
        sid: 'ReadTables',
        actions: ['dynamodb:BatchGetItem', 'dynamodb:DescribeTable', 'dynamodb:Scan'],
        resources: [`arn:{AWS::Partition}:dynamodb:us-east-1:${ACCOUNT}:table/users`],
      },
      {
        sid: 'WriteTables',
        actions: [
          'dynamodb:BatchWriteItem',
          'dynamodb:DeleteItem',
          'dynamodb:DescribeTable',
          'dynamodb:PutItem',
        ],
        resources: [`arn:{AWS::Partition}:dynamodb:us-east-1:${ACCOUNT}:table/users-copy`],
      },
    ]);
  });

  test('the state machine role: invoke this function, and run and redrive its own map children', () => {
    const sm = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'))[0];
    assert.deepEqual(statementsOf(template, 'JobStateMachineRole'), [
      { sid: '-', actions: ['lambda:InvokeFunction'], resources: [`{${fnId}.Arn}`, `{${fnId}.Arn}:*`] },
      { sid: '-', actions: ['states:StartExecution'], resources: [`{${sm}}`] },
      {
        sid: '-',
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [`arn:{AWS::Partition}:states:us-east-1:${ACCOUNT}:execution:{select}:*`],
      },
      {
        sid: '-',
        actions: ['states:RedriveExecution'],
        resources: [`arn:{AWS::Partition}:states:us-east-1:${ACCOUNT}:execution:{select}/*:*`],
      },
    ]);
    template.resourceCountIs('AWS::IAM::Role', 2);
  });

  test("without a capacity budget a slice gets no capacity field (and never a budget: its time is the invocation's)", () => {
    const noLimit = definition(synth({ capacity: undefined }).template).States.Segments as unknown as {
      ItemProcessor: Machine;
    };
    assert.deepEqual(noLimit.ItemProcessor.States.Slice?.Parameters, {
      action: 'slice',
      'work.$': '$.work',
      'jobId.$': '$.jobId',
      'segment.$': '$.segment',
    });
  });

  test('bad props are ConfigErrors naming the prop', () => {
    const cases: [Partial<ScanJobProps>, RegExp][] = [
      [{ maxConcurrency: 0 }, /maxConcurrency must be a whole number from 1 to 10000/],
      [{ retryAttempts: 11 }, /retryAttempts/],
      [{ capacity: { readUnitsPerSecond: -5 } }, /capacity\.readUnitsPerSecond must be a positive number/],
      [{ timeout: Duration.minutes(16) }, /timeout must be from 2 to 15 minutes/],
      [{ workPrefix: 'a//b' }, /workPrefix must be a folder path/],
    ];
    for (const [props, pattern] of cases)
      assert.throws(
        () => synth(props),
        (e: Error) => e instanceof ConfigError && pattern.test(e.message),
        String(pattern),
      );
  });
});

describe('driving the state machine locally through the handler, against DynamoDB Local and s3rver', () => {
  const ITEMS = 53;
  let run: (
    input: unknown,
    name: string,
  ) => Promise<{
    output?: unknown;
    error?: StatesError;
    interpreter: AslInterpreter;
    slices: { segment: number; capacity: unknown }[];
  }>;
  let table: string;
  let work: ReturnType<typeof openObjectStore>;

  before(async () => {
    const client = dynamoClient(await dynamoEndpoint());
    table = await createTestTable(client);
    await putItems(
      client,
      table,
      Array.from({ length: ITEMS }, (_, i) => ({ id: { S: `item-${i}` } })),
    );
    const bucket = await s3server.createBucket();
    const { template, fnId } = synth({ bucketName: bucket });
    const machine = definition(template);
    const s3Options = {
      s3: { endpoint: s3server.endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    };
    work = openObjectStore(`s3://${bucket}/scan-jobs`, s3Options);
    run = async (input, name) => {
      const standIn = scanJobStandIn({
        client,
        openWork: (location) => openObjectStore(location, s3Options),
      });
      const interpreter = new AslInterpreter({ [`{${fnId}.Arn}`]: standIn.handler });
      try {
        return { output: await interpreter.run(machine, input, name), interpreter, slices: standIn.slices };
      } catch (error) {
        if (!(error instanceof StatesError)) throw error;
        return { error, interpreter, slices: standIn.slices };
      }
    };
  });

  test('plan, every segment in several slices until done, then the merge: every item counted once', async () => {
    const { output, error, interpreter, slices } = await run(
      { kind: 'count', params: { table, itemsPerSlice: 5 }, segments: 4 },
      'job-ok',
    );
    assert.equal(error, undefined);
    const merge = (output as { merge: { done: boolean; totals: { items: number }; result: unknown } }).merge;
    assert.deepEqual(merge, { ...merge, done: true, totals: { items: ITEMS }, result: { items: ITEMS } });
    const top = interpreter.trace.filter((t) => !t.includes('/'));
    assert.deepEqual(top, [
      'Start',
      'Plan',
      'Segments',
      'FailedSegments',
      'AnySegmentFailed',
      'Merge',
      'Merged',
      'Chained',
      'Done',
    ]);
    for (let s = 0; s < 4; s++) {
      const child = interpreter.trace
        .filter((t) => t.startsWith(`Segments[${s}]/`))
        .map((t) => t.split('/')[1]);
      const state = JSON.parse((await work.get(`job-ok/segments/${s}.json`)).toString('utf8')) as {
        slice: number;
        items: number;
      };
      // Slice, check, slice again... until done: as many slices as the segment committed, at least two.
      assert.ok(state.slice >= 2, `segment ${s}: ${state.slice} slice(s)`);
      assert.deepEqual(child, [
        ...Array(state.slice).fill(['Slice', 'SegmentFinished']).flat(),
        'SegmentDone',
      ]);
      assert.equal(slices.filter((x) => x.segment === s).length, state.slice);
    }
    for (const x of slices)
      assert.deepEqual(x.capacity, { readUnitsPerSecond: 100, writeUnitsPerSecond: 25 });
    assert.equal(interpreter.retryWaits.length, 0);
    assert.deepEqual(JSON.parse((await work.get('job-ok/result.json')).toString('utf8')), { items: ITEMS });
  });

  test('a busy segment is retried and completes; a failing one is retried twice and one with bad data not at all, both reported with their errors; no merge runs', async () => {
    const { error, interpreter } = await run(
      {
        kind: 'count',
        params: { table, itemsPerSlice: 20, failSegment: 2, busySegment: 1, badSegment: 3 },
        segments: 4,
      },
      'job-failing',
    );
    assert.ok(error);
    assert.equal(error.error, 'SegmentsFailed');
    assert.deepEqual(JSON.parse(error.cause), [
      {
        segment: 2,
        error: 'InjectedError',
        cause: JSON.stringify({ errorMessage: 'segment 2 cannot be read' }),
      },
      {
        segment: 3,
        error: 'InvalidDataError',
        cause: JSON.stringify({ errorMessage: 'segment 3 holds a bad item' }),
      },
    ]);
    const waits = (state: string) =>
      interpreter.retryWaits.filter((w) => w.state === state).map((w) => `${w.error} ${w.seconds}s`);
    assert.deepEqual(waits('Segments[1]/Slice'), ['SegmentBusyError 30s']);
    assert.deepEqual(waits('Segments[2]/Slice'), ['InjectedError 10s', 'InjectedError 20s']);
    assert.deepEqual(waits('Segments[0]/Slice'), []);
    // Bad data is reported at once, without a retry.
    assert.deepEqual(waits('Segments[3]/Slice'), []);
    assert.ok(interpreter.trace.includes('Segments[2]/SegmentFailed'));
    assert.ok(interpreter.trace.includes('Segments[3]/SegmentFailed'));
    for (const s of [0, 1])
      assert.ok(interpreter.trace.includes(`Segments[${s}]/SegmentDone`), `segment ${s}`);
    assert.equal(interpreter.trace.includes('Merge'), false);
    assert.equal(interpreter.trace[interpreter.trace.length - 1], 'SegmentsFailed');
    assert.equal(await work.exists('job-failing/result.json'), false);
  });
});

// The segment task code's real handler (src/lambda/scan-job.ts), driven through the same state machine.
test('the state machine drives the real scan-job handler: a backup over 8 segments restores every item', async () => {
  type Handler = (event: unknown, context?: { getRemainingTimeInMillis(): number }) => Promise<unknown>;
  const { createScanJobHandler } = (await import('../../src/lambda/scan-job.js')) as unknown as {
    createScanJobHandler: (env: unknown) => Handler;
  };
  const { cachedJobEnvironment } = (await import('../../src/jobs/environment.js')) as unknown as {
    cachedJobEnvironment: (o: unknown) => { close(): void };
  };
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client);
  await putItems(
    client,
    table,
    Array.from({ length: 237 }, (_, i) => ({ id: { S: `k${i}` }, n: { N: String(i) } })),
  );
  const bucket = await s3server.createBucket();
  const { template, fnId } = synth({ bucketName: bucket, capacity: { readUnitsPerSecond: 3_000 } });
  const s3Options = {
    s3: { endpoint: s3server.endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
  };
  const env = cachedJobEnvironment({
    client: { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
    store: s3Options,
  });
  const handler = createScanJobHandler(env);
  let slices = 0;
  const interpreter = new AslInterpreter({
    [`{${fnId}.Arn}`]: (payload) => {
      if ((payload as { action: string }).action === 'slice') slices++;
      return handler(payload, { getRemainingTimeInMillis: () => 15 * 60_000 });
    },
  });
  const backup = `s3://${bucket}/backups/${table}`;
  try {
    const output = (await interpreter.run(
      definition(template),
      {
        kind: 'backup',
        params: { table: `${endpoint}/${table}?region=us-east-1`, backup, pageSize: 10 },
        segments: 8,
      },
      'job-real',
    )) as { merge: { done: boolean; totals: unknown } };
    assert.equal(output.merge.done, true);
    assert.deepEqual(output.merge.totals, { items: 237 });
    assert.equal(slices, 8);
    const restored = await resolveRestoreSource(openObjectStore(backup, s3Options));
    let count = 0;
    for await (const item of restored.items()) if (item.id) count++;
    assert.equal(count, 237);
  } finally {
    env.close();
  }
});

// A verify-backup check through the same state machine and the real handler: the digests phase, then
// the drill-down job its merge names, in one execution; the last merge publishes the verify metrics.
test('the state machine runs a verify-backup check and its drill-down in one execution: exact discrepancies and one EMF line', async () => {
  const { createScanJobHandler } = await import('../../src/lambda/scan-job.js');
  const { cachedJobEnvironment } = await import('../../src/jobs/environment.js');
  const { backupTable } = await import('../../src/backup/full-backup.js');
  const { DeleteItemCommand, PutItemCommand } = await import('@aws-sdk/client-dynamodb');
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client);
  await putItems(
    client,
    table,
    Array.from({ length: 180 }, (_, i) => ({ id: { S: `k${i}` }, n: { N: String(i) } })),
  );
  const bucket = await s3server.createBucket();
  const s3Options = {
    s3: { endpoint: s3server.endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
  };
  const backup = `s3://${bucket}/backups/${table}`;
  await backupTable(client, openObjectStore(backup, s3Options), { table, maxItemsPerFile: 25 });
  // After the backup: 2 new items, 1 changed, 3 deleted.
  for (const id of ['new1', 'new2'])
    await client.send(new PutItemCommand({ TableName: table, Item: { id: { S: id } } }));
  await client.send(new PutItemCommand({ TableName: table, Item: { id: { S: 'k7' }, n: { N: '7.5' } } }));
  for (const id of ['k1', 'k2', 'k3'])
    await client.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: id } } }));
  const { template, fnId } = synth({ bucketName: bucket, metricsNamespace: 'VerifyJobs' });
  const env = cachedJobEnvironment({
    client: { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
    store: s3Options,
  });
  const lines: string[] = [];
  const handler = createScanJobHandler(env, {
    metrics: (line) => lines.push(line),
    metricsNamespace: 'VerifyJobs',
    now: () => Date.UTC(2026, 11, 2, 9, 0, 0),
  });
  const interpreter = new AslInterpreter({
    [`{${fnId}.Arn}`]: (payload) => handler(payload, { getRemainingTimeInMillis: () => 15 * 60_000 }),
  });
  try {
    const output = (await interpreter.run(
      definition(template),
      {
        kind: 'verify-backup',
        params: {
          table: `${endpoint}/${table}?region=us-east-1`,
          backup,
          pageSize: 20,
          labels: { sourceTable: table, backupLocation: `s3://${bucket}/backups` },
        },
        segments: 5,
      },
      'verify-1',
    )) as { merge: { jobId: string; done: boolean; result: Record<string, unknown> } };
    const top = interpreter.trace.filter((t) => !t.includes('/'));
    assert.deepEqual(top, [
      'Start',
      ...['Plan', 'Segments', 'FailedSegments', 'AnySegmentFailed', 'Merge', 'Merged', 'Chained'],
      'NextJob',
      ...['Plan', 'Segments', 'FailedSegments', 'AnySegmentFailed', 'Merge', 'Merged', 'Chained'],
      'Done',
    ]);
    assert.equal(output.merge.jobId, 'verify-1.drill-1');
    const result = output.merge.result;
    assert.deepEqual(result.scanned, { primary: 179, replica: 180 });
    assert.deepEqual(result.discrepancies, { missing: 2, different: 1, extraneous: 3, total: 6 });
    assert.equal(result.rechecked, 6);
    assert.equal(result.next, undefined);
    assert.equal(lines.length, 1);
    const emf = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.deepEqual(
      { ...emf, _aws: undefined },
      {
        _aws: undefined,
        SourceTable: table,
        BackupLocation: `s3://${bucket}/backups`,
        Discrepancies: 6,
        VerifiedAt: Date.UTC(2026, 11, 2, 9, 0, 0) / 1000,
      },
    );
    assert.deepEqual((emf._aws as { CloudWatchMetrics: unknown[] }).CloudWatchMetrics, [
      {
        Namespace: 'VerifyJobs',
        Dimensions: [['SourceTable', 'BackupLocation']],
        Metrics: [
          { Name: 'Discrepancies', Unit: 'Count' },
          { Name: 'VerifiedAt', Unit: 'None' },
        ],
      },
    ]);
  } finally {
    env.close();
  }
});
