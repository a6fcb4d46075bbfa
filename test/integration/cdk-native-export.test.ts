/**
 * The NativeExportSchedule construct: template assertions (the exact states, the retries and catch,
 * the function's environment, exact IAM statements, the schedule and its target, synth-time
 * errors), and the synthesized state machine driven locally (test/harness/asl.ts) through the real
 * `nativeExport` handler against DynamoDB Local and s3rver. DynamoDB Local has no export API: the
 * export stand-in (test/harness/export-stand-in.ts) answers it, IN_PROGRESS on an export's first
 * DescribeExport and COMPLETED (or FAILED) on later ones.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { NativeExportSchedule, type NativeExportScheduleProps } from '../../src/cdk/index.js';
import {
  checkNativeBackup,
  finishNativeBackup,
  NATIVE_LEASE_FOLDER,
  startNativeBackup,
} from '../../src/backup/native-backup.js';
import { resolveRestoreSource } from '../../src/backup/restore-source.js';
import { currentLease } from '../../src/storage/object-lease.js';
import { canonicalKey } from '../../src/core/canonical-key.js';
import { ConfigError } from '../../src/core/errors.js';
import type { Item } from '../../src/core/types.js';
import { createNativeExportHandler, readNativeExportConfig } from '../../src/lambda/native-export.js';
import { createLogger } from '../../src/lambda/log.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { AslInterpreter, StatesError, type Machine } from '../harness/asl.js';
import { listKeys } from '../harness/backup-stores.js';
import { cfnText, roleStatements, stateMachineDefinition } from '../harness/cfn.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { startExportStandIn } from '../harness/export-stand-in.js';
import { startLocalS3 } from '../harness/s3.js';
import { scanAll } from '../harness/table-items.js';

const ACCOUNT = '111111111111';
// Started at the file's level: the harness stops its servers after the file.
const endpoint = await dynamoEndpoint();
const client = dynamoClient(endpoint);
const s3server = await startLocalS3();
const standIn = await startExportStandIn(endpoint, s3server.client);
const s3Options = {
  s3: { endpoint: s3server.endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
};

function synth(props: Partial<NativeExportScheduleProps> & { tableName?: string; bucketName?: string } = {}) {
  const stack = new Stack(new App(), 'Exports', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const table = dynamodb.Table.fromTableName(stack, 'Table', props.tableName ?? 'users');
  const bucket = s3.Bucket.fromBucketName(stack, 'Bucket', props.bucketName ?? 'my-backups');
  const schedule = new NativeExportSchedule(stack, 'Native', {
    code: lambda.Code.fromInline('export const nativeExport = async () => ({});'),
    table,
    bucket,
    prefix: 'logs/prod',
    kind: 'full',
    schedule: events.Schedule.rate(Duration.days(1)),
    ...props,
  });
  const template = Template.fromStack(stack);
  const fnId = stack.getLogicalId(schedule.fn.node.defaultChild as lambda.CfnFunction);
  return { stack, schedule, template, fnId };
}

const definition = (template: Template): Machine => stateMachineDefinition<Machine>(template);
const statementsOf = roleStatements;

function environmentOf(template: Template): Record<string, string> {
  const [fn] = Object.values(template.findResources('AWS::Lambda::Function')) as {
    Properties: { Environment: { Variables: Record<string, unknown> } };
  }[];
  return Object.fromEntries(
    Object.entries(fn?.Properties.Environment.Variables ?? {}).map(([k, v]) => [k, cfnText(v)]),
  );
}

describe('the synthesized construct', () => {
  const { template, fnId } = synth();
  const machine = definition(template);

  test('start (or skipped), wait 60 s, check, choice, finish in slices until done; failures release the lease into one Fail state', () => {
    assert.equal(machine.StartAt, 'Start');
    assert.deepEqual(Object.keys(machine.States).sort(), [
      'BeginVerify',
      'Check',
      'ExportDone',
      'Finish',
      'Indexed',
      'NativeExportFailed',
      'ReleaseLease',
      'Skipped',
      'Start',
      'StartedOrSkipped',
      'Verified',
      'WaitForExport',
    ]);
    const s = machine.States as unknown as Record<string, Record<string, unknown>>;
    assert.deepEqual(s.Start?.Parameters, { action: 'start', 'run.$': '$$.Execution.Name' });
    assert.equal(s.Start?.ResultPath, '$.started');
    assert.equal(s.Start?.Next, 'StartedOrSkipped');
    assert.equal(s.Start?.Resource, `{${fnId}.Arn}`);
    assert.deepEqual(s.StartedOrSkipped, {
      Type: 'Choice',
      Choices: [{ Variable: '$.started.skipped', IsPresent: true, Next: 'Skipped' }],
      Default: 'WaitForExport',
    });
    assert.deepEqual(s.Skipped, { Type: 'Succeed' });
    assert.deepEqual(s.WaitForExport, { Type: 'Wait', Seconds: 60, Next: 'Check' });
    assert.deepEqual(s.Check?.Parameters, { action: 'check', 'started.$': '$.started' });
    assert.equal(s.Check?.ResultPath, '$.check');
    assert.deepEqual(s.ExportDone, {
      Type: 'Choice',
      Choices: [{ Variable: '$.check.state', StringEquals: 'COMPLETED', Next: 'BeginVerify' }],
      Default: 'WaitForExport',
    });
    assert.deepEqual(s.BeginVerify, {
      Type: 'Pass',
      Result: { done: false },
      ResultPath: '$.result',
      Next: 'Finish',
    });
    assert.deepEqual(s.Finish?.Parameters, {
      action: 'finish',
      'started.$': '$.started',
      'progress.$': '$.result',
    });
    assert.equal(s.Finish?.ResultPath, '$.result');
    assert.equal(s.Finish?.Next, 'Verified');
    assert.deepEqual(s.Verified, {
      Type: 'Choice',
      Choices: [{ Variable: '$.result.done', BooleanEquals: true, Next: 'Indexed' }],
      Default: 'Finish',
    });
    assert.deepEqual(s.ReleaseLease?.Parameters, { action: 'release', 'started.$': '$.started' });
    assert.equal(s.ReleaseLease?.ResultPath, '$.released');
    assert.equal(s.ReleaseLease?.Next, 'NativeExportFailed');
    assert.deepEqual(s.ReleaseLease?.Catch, [
      { ErrorEquals: ['States.ALL'], ResultPath: '$.releaseError', Next: 'NativeExportFailed' },
    ]);
    assert.deepEqual(s.NativeExportFailed, {
      Type: 'Fail',
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    });
    for (const [step, into] of [
      ['Start', 'NativeExportFailed'],
      ['Check', 'ReleaseLease'],
      ['Finish', 'ReleaseLease'],
    ] as const)
      assert.deepEqual(
        s[step]?.Catch,
        [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: into }],
        step,
      );
    for (const step of ['Start', 'Check', 'Finish', 'ReleaseLease']) {
      assert.deepEqual(
        (s[step]?.Retry as { ErrorEquals: string[]; MaxAttempts: number }[]).map((r) => [
          r.ErrorEquals[0],
          r.MaxAttempts,
        ]),
        [
          ['Lambda.ServiceException', 6],
          ['UsageError', 0],
          ['States.ALL', 2],
        ],
        step,
      );
    }
    const [sm] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as {
      Properties: Record<string, unknown>;
    }[];
    assert.equal(JSON.parse(cfnText(sm?.Properties.DefinitionString)).TimeoutSeconds, 86_400);
  });

  test("the function's environment names the table, the kind and the change log", () => {
    assert.deepEqual(environmentOf(template), {
      NativeExportTable: 'users',
      NativeExportKind: 'full',
      NativeExportLeaseSeconds: '86400',
      BackupBucket: 'my-backups',
      BackupPrefix: 'logs/prod',
      BackupRegion: 'us-east-1',
    });
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.nativeExport', Timeout: 900 });
  });

  test('the function role: exactly its log group, the export of this table, and this table log folder', () => {
    const logsId = Object.keys(template.findResources('AWS::Logs::LogGroup'))[0];
    const tableArn = `arn:{AWS::Partition}:dynamodb:us-east-1:${ACCOUNT}:table/users`;
    assert.deepEqual(statementsOf(template, 'NativeFunctionRole'), [
      { sid: '-', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`{${logsId}.Arn}`] },
      {
        sid: 'ExportTable',
        actions: ['dynamodb:DescribeTable', 'dynamodb:ExportTableToPointInTime'],
        resources: [tableArn],
      },
      { sid: 'ExportStatus', actions: ['dynamodb:DescribeExport'], resources: [`${tableArn}/export/*`] },
      {
        sid: 'ChangeLogObjects',
        actions: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'],
        resources: ['arn:{AWS::Partition}:s3:::my-backups/logs/prod/users/*'],
      },
      {
        sid: 'RunLease',
        actions: ['s3:DeleteObject'],
        resources: ['arn:{AWS::Partition}:s3:::my-backups/logs/prod/users/runs/*'],
      },
      {
        sid: 'ChangeLogList',
        actions: ['s3:ListBucket'],
        resources: ['arn:{AWS::Partition}:s3:::my-backups'],
        condition: { StringLike: { 's3:prefix': ['logs/prod/users/*'] } },
      },
    ]);
    assert.deepEqual(statementsOf(template, 'NativeStateMachineRole'), [
      { sid: '-', actions: ['lambda:InvokeFunction'], resources: [`{${fnId}.Arn}`, `{${fnId}.Arn}:*`] },
    ]);
  });

  test('the schedule starts the state machine with an empty input', () => {
    const sm = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'))[0];
    const [rule] = Object.values(template.findResources('AWS::Events::Rule')) as {
      Properties: { ScheduleExpression: string; Targets: Record<string, unknown>[] };
    }[];
    assert.equal(rule?.Properties.ScheduleExpression, 'rate(1 day)');
    assert.equal(rule?.Properties.Targets.length, 1);
    const target = rule?.Properties.Targets[0] as Record<string, unknown>;
    assert.equal(cfnText(target.Arn), `{${sm}}`);
    assert.equal(target.Input, '{}');
    assert.deepEqual(target.RetryPolicy, { MaximumRetryAttempts: 0 });
  });

  test('bad props are ConfigErrors naming the prop', () => {
    const cases: [Partial<NativeExportScheduleProps>, RegExp][] = [
      [{ kind: 'daily' as never }, /kind must be "full" or "incremental", got "daily"/],
      [{ prefix: 'a//b' }, /prefix must be a folder path/],
      [{ pollInterval: Duration.seconds(5) }, /pollInterval must be whole seconds from 10 seconds to 1 hour/],
      [{ functionTimeout: Duration.minutes(16) }, /functionTimeout must be from 1 to 15 minutes/],
      [{ timeout: Duration.days(8) }, /timeout must be from 15 minutes to 7 days/],
      [{ memorySize: 64 }, /memorySize must be a whole number from 128 to 10240/],
    ];
    for (const [props, pattern] of cases)
      assert.throws(
        () => synth(props),
        (e: Error) =>
          e instanceof ConfigError && /^NativeExportSchedule: /.test(e.message) && pattern.test(e.message),
        String(pattern),
      );
  });
});

/**
 * The synthesized machine run through the real handler, configured from the function's environment.
 * `finishBudgetMs` forces each finish step's time budget (as a short remaining time would).
 */
async function runMachine(
  table: string,
  bucket: string,
  name: string,
  kind: NativeExportScheduleProps['kind'] = 'full',
  options: { finishBudgetMs?: number; log?: string[] } = {},
) {
  const { template, fnId } = synth({ tableName: table, bucketName: bucket, kind });
  const viaStandIn = dynamoClient(standIn.endpoint);
  const handler = createNativeExportHandler(readNativeExportConfig(environmentOf(template)), {
    client: viaStandIn,
    store: openObjectStore(`s3://${bucket}/logs/prod`, s3Options),
    logger: createLogger({ write: (line) => options.log?.push(line) }),
  });
  const budget = options.finishBudgetMs;
  const interpreter = new AslInterpreter({
    [`{${fnId}.Arn}`]: (payload) =>
      handler(
        budget !== undefined && (payload as { action?: string }).action === 'finish'
          ? { ...(payload as object), budget: { timeMs: budget } }
          : payload,
      ),
  });
  try {
    return { interpreter, output: await interpreter.run(definition(template), {}, name) };
  } catch (error) {
    if (!(error instanceof StatesError)) throw error;
    return { interpreter, error };
  } finally {
    viaStandIn.destroy();
  }
}

/** Waits (polling the clock) until a new whole second has begun: the stand-in ends windows on whole seconds. */
async function nextSecond(): Promise<void> {
  const second = Math.ceil((Date.now() + 100) / 1000) * 1000;
  while (Date.now() < second + 20) await new Promise((r) => setTimeout(r, 10));
}

/** Every item the table's log restores (its latest state). */
async function restoredItems(bucket: string, table: string): Promise<Item[]> {
  const restored = await resolveRestoreSource(
    openObjectStore(`s3://${bucket}/logs/prod/${table}`, s3Options),
  );
  const items: Item[] = [];
  for await (const item of restored.items()) items.push(item);
  return items;
}

/** A table with `count` items `<prefix><i>` (observed by the stand-in), its writer, and a fresh bucket. */
async function seeded(prefix: string, count: number) {
  const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
  const put = (id: string, v: string) =>
    client.send(new PutItemCommand({ TableName: table, Item: { id: { S: id }, v: { S: v } } }));
  for (let i = 0; i < count; i++) await put(`${prefix}${i}`, 'a');
  await standIn.observe(table, count);
  return { table, put, bucket: await s3server.createBucket() };
}

const sorted = (items: Item[]) =>
  items.sort((a, b) => (canonicalKey({ id: a.id as never }) < canonicalKey({ id: b.id as never }) ? -1 : 1));

describe('the state machine driven through the real handler, against DynamoDB Local, s3rver and the export stand-in', () => {
  test('start, wait, check (IN_PROGRESS), wait, check (COMPLETED), finish: a restorable base snapshot of all 31 items', async () => {
    const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    for (let i = 0; i < 31; i++)
      await client.send(
        new PutItemCommand({ TableName: table, Item: { id: { S: `n${i}` }, v: { N: `${i}.25` } } }),
      );
    const bucket = await s3server.createBucket();
    const { interpreter, output, error } = await runMachine(table, bucket, 'native-ok');
    assert.equal(error, undefined);
    assert.deepEqual(interpreter.trace, [
      'Start',
      'StartedOrSkipped',
      'WaitForExport',
      'Check',
      'ExportDone',
      'WaitForExport',
      'Check',
      'ExportDone',
      'BeginVerify',
      'Finish',
      'Verified',
      'Indexed',
    ]);
    assert.deepEqual(
      interpreter.waits.map((w) => w.seconds),
      [60, 60],
    );
    const result = (output as { result: { kind: string; itemCount: number } }).result;
    assert.equal(result.kind, 'full');
    assert.equal(result.itemCount, 31);
    const items = await restoredItems(bucket, table);
    assert.equal(items.length, 31);
    assert.deepEqual(sorted(items), sorted(await scanAll(client, table)));
  });

  test('a full execution, changes, then an incremental one: 3 changed items indexed, restore equals the table', async () => {
    const { table, put, bucket } = await seeded('c', 8);
    const full = await runMachine(table, bucket, 'native-full');
    assert.equal(full.error, undefined);
    assert.equal((full.output as { result: { itemCount: number } }).result.itemCount, 8);
    await nextSecond();
    await put('c1', 'b');
    await put('new', 'b');
    await client.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: 'c2' } } }));
    await standIn.observe(table, 3);
    await nextSecond();
    const incremental = await runMachine(table, bucket, 'native-incremental', 'incremental');
    assert.equal(incremental.error, undefined);
    const result = (incremental.output as { result: { kind: string; itemCount: number } }).result;
    assert.equal(result.kind, 'incremental');
    assert.equal(result.itemCount, 3);
    assert.equal(incremental.interpreter.trace.at(-1), 'Indexed');
    const items = await restoredItems(bucket, table);
    assert.equal(items.length, 8);
    assert.deepEqual(sorted(items), sorted(await scanAll(client, table)));
  });

  test('an export that FAILED ends in NativeExportFailed with its failure code and message; nothing indexed', async () => {
    const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
    await client.send(new PutItemCommand({ TableName: table, Item: { id: { S: 'x' } } }));
    const bucket = await s3server.createBucket();
    standIn.failNext('S3AccessDenied', 'Access denied to bucket');
    const { interpreter, error } = await runMachine(table, bucket, 'native-failed');
    assert.ok(error);
    assert.equal(error.error, 'ServiceError');
    assert.match(
      (JSON.parse(error.cause) as { errorMessage: string }).errorMessage,
      /FAILED: S3AccessDenied: Access denied to bucket \(nothing was indexed\)/,
    );
    assert.deepEqual(interpreter.trace.slice(-2), ['ReleaseLease', 'NativeExportFailed']);
    assert.equal(interpreter.trace.includes('Finish'), false);
    // The check was retried twice (the same answer), then caught.
    assert.deepEqual(
      interpreter.retryWaits.map((w) => `${w.state} ${w.error} ${w.seconds}s`),
      ['Check ServiceError 10s', 'Check ServiceError 20s'],
    );
    assert.deepEqual(await listKeys(openObjectStore(`s3://${bucket}/logs/prod/${table}`, s3Options)), []);
  });

  test('finish in slices (one file each): Finish runs once per data file, the same result', async () => {
    const { table, bucket } = await seeded('p', 7);
    const { interpreter, output, error } = await runMachine(table, bucket, 'native-slices', 'full', {
      finishBudgetMs: 0,
    });
    assert.equal(error, undefined);
    // The stand-in writes a full export as 3 data files (one empty).
    assert.deepEqual(interpreter.trace.slice(interpreter.trace.indexOf('BeginVerify')), [
      'BeginVerify',
      'Finish',
      'Verified',
      'Finish',
      'Verified',
      'Finish',
      'Verified',
      'Indexed',
    ]);
    const result = (output as { result: { done: boolean; kind: string; itemCount: number } }).result;
    assert.equal(result.done, true);
    assert.equal(result.itemCount, 7);
    assert.deepEqual(sorted(await restoredItems(bucket, table)), sorted(await scanAll(client, table)));
  });

  test('a corrupt file in the last slice: NativeExportFailed naming the file after the lease is released; nothing indexed', async () => {
    const { table, bucket } = await seeded('q', 4);
    standIn.corruptNext(2);
    const { interpreter, error } = await runMachine(table, bucket, 'native-corrupt', 'full', {
      finishBudgetMs: 0,
    });
    assert.ok(error);
    assert.equal(error.error, 'InvalidDataError');
    const log = openObjectStore(`s3://${bucket}/logs/prod/${table}`, s3Options);
    const keys = await listKeys(log);
    const manifest = keys.find((k) => k.endsWith('/manifest-files.json')) as string;
    const last = (await log.get(manifest)).toString('utf8').trim().split('\n')[2] as string;
    const dataKey = (JSON.parse(last) as { dataFileS3Key: string }).dataFileS3Key;
    assert.match(
      (JSON.parse(error.cause) as { errorMessage: string }).errorMessage,
      new RegExp(
        `/${dataKey.slice(dataKey.indexOf('/data/') + 1).replace(/\./g, '\\.')}: MD5 \\S+ does not match the manifest's`,
      ),
    );
    assert.deepEqual(interpreter.trace.slice(-8), [
      'BeginVerify',
      'Finish',
      'Verified',
      'Finish',
      'Verified',
      'Finish',
      'ReleaseLease',
      'NativeExportFailed',
    ]);
    assert.equal(keys.filter((k) => k.endsWith('snapshot.json')).length, 0);
  });

  test('an incremental run while another holds the lease ends Skipped (logged, not failed); a failed run gives the lease up', async () => {
    const { table, put, bucket } = await seeded('l', 3);
    assert.equal((await runMachine(table, bucket, 'lease-full')).error, undefined);
    await nextSecond();
    await put('l1', 'b');
    await standIn.observe(table, 1);
    await nextSecond();
    const log = openObjectStore(`s3://${bucket}/logs/prod/${table}`, s3Options);
    const viaStandIn = dynamoClient(standIn.endpoint);
    const byHand = await startNativeBackup(viaStandIn, log, { table, incremental: true, run: 'by-hand' });
    viaStandIn.destroy();
    const since = new Date(byHand.lease?.since ?? 0).toISOString();
    const lines: string[] = [];
    const skipped = await runMachine(table, bucket, 'lease-skipped', 'incremental', { log: lines });
    assert.equal(skipped.error, undefined);
    assert.deepEqual(skipped.interpreter.trace, ['Start', 'StartedOrSkipped', 'Skipped']);
    assert.deepEqual((skipped.output as { started: unknown }).started, {
      skipped: true,
      message: `skipped: run by-hand in progress since ${since}`,
      run: 'by-hand',
      since,
    });
    const logged = lines.map((l) => JSON.parse(l) as { level: string; message: string; run?: string });
    assert.deepEqual(
      logged.map((l) => [l.level, l.message, l.run]),
      [['info', 'native export skipped', 'by-hand']],
    );

    // The by-hand run's export completes and is indexed: the lease is free again.
    const again = dynamoClient(standIn.endpoint);
    await checkNativeBackup(again, byHand);
    await finishNativeBackup(again, log, byHand);
    again.destroy();
    await nextSecond();
    await put('l2', 'b');
    await standIn.observe(table, 1);
    await nextSecond();
    standIn.failNext('S3AccessDenied', 'Access denied to bucket');
    const failed = await runMachine(table, bucket, 'lease-failed', 'incremental');
    assert.equal(failed.error?.error, 'ServiceError');
    assert.deepEqual(failed.interpreter.trace.slice(-2), ['ReleaseLease', 'NativeExportFailed']);
    const lease = await currentLease(log, NATIVE_LEASE_FOLDER);
    assert.equal(lease?.run, 'lease-failed');
    assert.equal(typeof lease?.released, 'number');
    const next = await runMachine(table, bucket, 'lease-next', 'incremental');
    assert.equal(next.error, undefined);
    assert.equal(next.interpreter.trace.at(-1), 'Indexed');
    assert.equal((next.output as { result: { itemCount: number } }).result.itemCount, 1);
    assert.deepEqual(sorted(await restoredItems(bucket, table)), sorted(await scanAll(client, table)));
  });

  test('an incremental schedule on a log with no base yet makes a full export first (NativeExportFullIfNoBase), then exports changes', async () => {
    const { table, put, bucket } = await seeded('b', 5);
    const first = await runMachine(table, bucket, 'first-incremental', 'incremental');
    assert.equal(first.error, undefined);
    const base = (first.output as { result: { kind: string; itemCount: number } }).result;
    assert.deepEqual([base.kind, base.itemCount], ['full', 5]);
    await nextSecond();
    await put('b0', 'b');
    await standIn.observe(table, 1);
    await nextSecond();
    const second = await runMachine(table, bucket, 'second-incremental', 'incremental');
    const changes = (second.output as { result: { kind: string; itemCount: number } }).result;
    assert.deepEqual([changes.kind, changes.itemCount], ['incremental', 1]);
    assert.deepEqual(sorted(await restoredItems(bucket, table)), sorted(await scanAll(client, table)));
  });
});
