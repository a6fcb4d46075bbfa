/**
 * `verify.backupJob`: the scheduled check of the change log runs as a ScanJob execution instead of
 * inside the verify function. Template assertions (the rule's second target and its input, the job
 * function's exact IAM statements and metrics namespace, the capacity split, no S3 access left on
 * the verify function, the same alarms on the same metric), then the synthesized state machine
 * driven locally (test/harness/asl.ts) with the rule's own input through the real scan-job handler
 * against DynamoDB Local and s3rver, ending with the exact discrepancy count in the EMF line the
 * discrepancy alarm watches.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbReplicator, type DynamoDbReplicatorProps } from '../../src/cdk/index.js';
import { ConfigError } from '../../src/core/errors.js';
import { cachedJobEnvironment } from '../../src/jobs/environment.js';
import type { JobEnvironment } from '../../src/jobs/kind.js';
import { createScanJobHandler } from '../../src/lambda/scan-job.js';
import { AslInterpreter, type Machine } from '../harness/asl.js';
import { cfnText, roleStatements, stateMachineDefinition } from '../harness/cfn.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { startLocalS3 } from '../harness/s3.js';
import { putItems } from '../harness/table-load.js';

const ACCOUNT = '111111111111';
// Started at the file's level: the harness stops them after the file.
const s3server = await startLocalS3();
const endpoint = await dynamoEndpoint();

const inline = lambda.Code.fromInline('export const handler = async () => ({});');

function build(table: string, bucketName: string, props: Partial<DynamoDbReplicatorProps> = {}) {
  const stack = new Stack(new App(), 'Source', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const sourceTable = dynamodb.Table.fromTableAttributes(stack, 'Users', {
    tableName: table,
    tableStreamArn: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${table}/stream/2026-01-01T00:00:00.000`,
  });
  const bucket = s3.Bucket.fromBucketName(stack, 'Backups', bucketName);
  const replicator = new DynamoDbReplicator(stack, 'Replicator', {
    sourceTable,
    backup: { bucket, prefix: 'logs' },
    code: { replicate: inline, backup: inline, verify: inline, scanJob: inline },
    verify: {
      every: Duration.hours(6),
      readCapacity: 100,
      backupJob: { segments: 6, maxConcurrency: 4, readCapacity: 400 },
    },
    ...props,
  });
  return { stack, replicator, template: Template.fromStack(stack) };
}

interface Rule {
  Properties: { ScheduleExpression: string; Targets: { Arn: unknown; Input?: unknown; RoleArn?: unknown }[] };
}

describe('the template', () => {
  const { replicator, template } = build('users', 'my-backups', {
    replicas: [{ tableName: 'users', region: 'eu-west-1' }],
  });
  const [rule] = Object.values(template.findResources('AWS::Events::Rule')) as Rule[];

  test('one rule starts the verify function (replicas) and the scan job with its input', () => {
    assert.equal(rule?.Properties.ScheduleExpression, 'rate(6 hours)');
    assert.equal(rule?.Properties.Targets.length, 2);
    const job = rule?.Properties.Targets[1];
    assert.match(cfnText(job?.Arn), /^\{ReplicatorVerifyBackupJobStateMachine[0-9A-F]+\}$/);
    assert.deepEqual(JSON.parse(cfnText(job?.Input)), {
      kind: 'verify-backup',
      params: {
        table: 'users',
        backup: 's3://my-backups/logs/users',
        labels: { sourceTable: 'users', backupLocation: 's3://my-backups/logs' },
      },
      segments: 6,
    });
    assert.ok(replicator.verifyFunction);
    const verifyFn = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (f) => (f as { Properties: { Handler: string } }).Properties.Handler === 'index.verify',
    ) as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    assert.equal(verifyFn.Properties.Environment.Variables.BackupBucket, undefined);
    assert.ok(!JSON.stringify(roleStatements(template, 'ReplicatorVerifyRole')).includes('s3:'));
  });

  test('the job function: its namespace, each child a quarter of 400 RCU, exactly the log, its job folders and the table', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.scanJob',
      Environment: { Variables: { MetricsNamespace: 'DynamoDBReplicator' } },
    });
    const machine = stateMachineDefinition<Machine>(template);
    const segments = machine.States.Segments as unknown as { MaxConcurrency: number; ItemProcessor: Machine };
    assert.equal(segments.MaxConcurrency, 4);
    assert.deepEqual((segments.ItemProcessor.States.Slice?.Parameters as { capacity: unknown }).capacity, {
      readUnitsPerSecond: 100,
    });
    const statements = roleStatements(template, 'VerifyBackupJobFunctionRole').filter(
      (s) => !s.actions.includes('logs:PutLogEvents'),
    );
    assert.deepEqual(statements, [
      {
        sid: 'JobFoldersObjects',
        actions: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
        resources: ['arn:{AWS::Partition}:s3:::my-backups/verify-jobs/*'],
      },
      {
        sid: 'JobFoldersList',
        actions: ['s3:ListBucket'],
        resources: ['arn:{AWS::Partition}:s3:::my-backups'],
        condition: { StringLike: { 's3:prefix': ['verify-jobs/*'] } },
      },
      {
        sid: 'Backups0Objects',
        actions: ['s3:GetObject'],
        resources: ['arn:{AWS::Partition}:s3:::my-backups/logs/users/*'],
      },
      {
        sid: 'Backups0List',
        actions: ['s3:ListBucket'],
        resources: ['arn:{AWS::Partition}:s3:::my-backups'],
        condition: { StringLike: { 's3:prefix': ['logs/users/*'] } },
      },
      {
        sid: 'ReadTables',
        actions: ['dynamodb:BatchGetItem', 'dynamodb:DescribeTable', 'dynamodb:Scan'],
        resources: [`arn:{AWS::Partition}:dynamodb:us-east-1:${ACCOUNT}:table/users`],
      },
    ]);
  });

  test('the change log keeps its two alarms on the same metric and dimensions', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
      .map((a) => (a as { Properties: { Metrics?: { MetricStat: { Metric: unknown } }[] } }).Properties)
      .filter((p) => JSON.stringify(p.Metrics ?? []).includes('BackupLocation'))
      .map((p) => JSON.parse(cfnText(JSON.stringify(p.Metrics?.[0]?.MetricStat.Metric))) as unknown);
    assert.deepEqual(alarms, [
      {
        Dimensions: [
          { Name: 'BackupLocation', Value: 's3://my-backups/logs' },
          { Name: 'SourceTable', Value: 'users' },
        ],
        MetricName: 'Discrepancies',
        Namespace: 'DynamoDBReplicator',
      },
      {
        Dimensions: [
          { Name: 'BackupLocation', Value: 's3://my-backups/logs' },
          { Name: 'SourceTable', Value: 'users' },
        ],
        MetricName: 'VerifiedAt',
        Namespace: 'DynamoDBReplicator',
      },
    ]);
  });

  test('without replicas to check there is no verify function; bad job props are ConfigErrors', () => {
    const alone = build('users', 'my-backups');
    assert.equal(alone.replicator.verifyFunction, undefined);
    alone.template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    const [only] = Object.values(alone.template.findResources('AWS::Events::Rule')) as Rule[];
    assert.equal(only?.Properties.Targets.length, 1);
    assert.throws(
      () =>
        build('users', 'my-backups', { verify: { every: Duration.hours(1), backupJob: { segments: 0 } } }),
      (e: Error) => e instanceof ConfigError && /verify\.backupJob\.segments/.test(e.message),
    );
  });
});

test('job folders expire in a backup bucket the deployment made (jobRetention), never in one passed in', () => {
  const stack = new Stack(new App(), 'Owned', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const sourceTable = dynamodb.Table.fromTableAttributes(stack, 'Users', {
    tableName: 'users',
    tableStreamArn: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/users/stream/2026-01-01T00:00:00.000`,
  });
  new DynamoDbReplicator(stack, 'Replicator', {
    sourceTable,
    backup: { prefix: 'logs' },
    code: { replicate: inline, backup: inline, verify: inline, scanJob: inline },
    verify: { every: Duration.hours(6), backupJob: {}, replicaJob: {}, jobRetention: Duration.days(7) },
    replicas: [{ tableName: 'users', region: 'eu-west-1' }],
  });
  const buckets = Object.values(Template.fromStack(stack).findResources('AWS::S3::Bucket')) as {
    Properties: { LifecycleConfiguration?: { Rules: unknown[] } };
  }[];
  assert.equal(buckets.length, 1);
  assert.deepEqual(buckets[0]?.Properties.LifecycleConfiguration?.Rules, [
    { ExpirationInDays: 7, Prefix: 'verify-jobs/', Status: 'Enabled' },
    { ExpirationInDays: 7, Prefix: 'verify-replica-jobs/', Status: 'Enabled' },
  ]);
  // A bucket passed in is the user's, even one made in the same stack: no rule is added to it.
  const theirs = new Stack(new App(), 'Theirs', { env: { account: ACCOUNT, region: 'us-east-1' } });
  new DynamoDbReplicator(theirs, 'Replicator', {
    sourceTable: dynamodb.Table.fromTableAttributes(theirs, 'Users', {
      tableName: 'users',
      tableStreamArn: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/users/stream/2026-01-01T00:00:00.000`,
    }),
    backup: { bucket: new s3.Bucket(theirs, 'MyBackups'), prefix: 'logs' },
    code: { replicate: inline, backup: inline, verify: inline, scanJob: inline },
    verify: { every: Duration.hours(6), backupJob: {}, replicaJob: {} },
    replicas: [{ tableName: 'users', region: 'eu-west-1' }],
  });
  const mine = Object.values(Template.fromStack(theirs).findResources('AWS::S3::Bucket')) as {
    Properties?: { LifecycleConfiguration?: unknown };
  }[];
  assert.equal(mine.length, 1);
  assert.equal(mine[0]?.Properties?.LifecycleConfiguration, undefined);
});

test('the rule’s input through the synthesized state machine and the real handler: both phases, then the exact count in the alarm’s metric', async () => {
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client);
  await putItems(
    client,
    table,
    Array.from({ length: 90 }, (_, i) => ({ id: { S: `k${i}` }, v: { N: String(i) } })),
  );
  const bucket = await s3server.createBucket();
  const s3Options = {
    s3: { endpoint: s3server.endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
  };
  // The source table's change log: a base snapshot only (seeded by incremental-backfill).
  const { runCliCapture } = await import('../harness/cli.js');
  const seeded = await runCliCapture(
    ['incremental-backfill', `${endpoint}/${table}`, `s3://${bucket}/logs/${table}`],
    {
      env: {
        ...process.env,
        S3_ENDPOINT: s3server.endpoint,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
      },
    },
  );
  assert.equal(seeded.code, 0, seeded.stderr);
  await client.send(new PutItemCommand({ TableName: table, Item: { id: { S: 'k5' }, v: { N: '5.5' } } }));
  await client.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: 'k6' } } }));

  const { template } = build(table, bucket);
  const [rule] = Object.values(template.findResources('AWS::Events::Rule')) as Rule[];
  const input = JSON.parse(cfnText(rule?.Properties.Targets[0]?.Input)) as unknown;
  const fnId = Object.keys(template.findResources('AWS::Lambda::Function')).find((id) =>
    id.includes('VerifyBackupJobFunction'),
  );
  const cached = cachedJobEnvironment({
    client: { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
    store: s3Options,
  });
  // The function's region is DynamoDB Local here: a bare table name is opened there.
  const env: JobEnvironment = {
    openTable: (location) => cached.openTable(`${endpoint}/${location}?region=us-east-1`),
    openStore: (location) => cached.openStore(location),
  };
  const lines: string[] = [];
  const handler = createScanJobHandler(env, {
    metrics: (line) => lines.push(line),
    metricsNamespace: 'DynamoDBReplicator',
  });
  const interpreter = new AslInterpreter({
    [`{${fnId}.Arn}`]: (payload) => handler(payload, { getRemainingTimeInMillis: () => 15 * 60_000 }),
  });
  try {
    const output = (await interpreter.run(stateMachineDefinition<Machine>(template), input, 'run-1')) as {
      merge: { jobId: string; result: { discrepancies: unknown; scanned: unknown } };
    };
    assert.equal(output.merge.jobId, 'run-1.drill-1');
    assert.deepEqual(output.merge.result.scanned, { primary: 89, replica: 90 });
    assert.deepEqual(output.merge.result.discrepancies, {
      missing: 0,
      different: 1,
      extraneous: 1,
      total: 2,
    });
    assert.equal(lines.length, 1);
    const emf = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.equal(emf.SourceTable, table);
    assert.equal(emf.BackupLocation, `s3://${bucket}/logs`);
    assert.equal(emf.Discrepancies, 2);
  } finally {
    cached.close();
  }
});
