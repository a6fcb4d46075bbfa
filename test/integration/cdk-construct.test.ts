/**
 * The DynamoDbReplicator construct, synthesized offline and checked with aws-cdk-lib/assertions:
 * event source mappings, least-privilege IAM (every statement walked), alarms, cross-account roles,
 * backup permissions, and a synth-time error for each invalid prop. Each stack is synthesized once;
 * the Lambda bundles are built once for the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { DynamoDbReplicator, type DynamoDbReplicatorProps } from '../../src/cdk/index.js';
import { ConfigError } from '../../src/core/errors.js';
import { cfnText as arnText } from '../harness/cfn.js';

const ACCOUNT = '111111111111';
const OTHER_ACCOUNT = '222222222222';
const WRITER_ROLE = `arn:aws:iam::${OTHER_ACCOUNT}:role/replica-writer`;

function sourceStack(view: dynamodb.StreamViewType | undefined): {
  stack: Stack;
  table: dynamodb.Table;
} {
  const stack = new Stack(new App(), 'Source', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const table = new dynamodb.Table(stack, 'Users', {
    tableName: 'users',
    partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    ...(view ? { stream: view } : {}),
  });
  return { stack, table };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Sid?: string };

/** Every statement of every IAM policy in the template (inline role policies included). */
function iamStatements(template: Template): Statement[] {
  const out: Statement[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    out.push(...((policy.Properties.PolicyDocument.Statement as Statement[]) ?? []));
  }
  for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
    for (const p of (role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]) ?? [])
      out.push(...p.PolicyDocument.Statement);
  }
  return out;
}

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

describe('replicas in two accounts and a backup to a new bucket', () => {
  const { stack, table } = sourceStack(dynamodb.StreamViewType.NEW_AND_OLD_IMAGES);
  const replicator = new DynamoDbReplicator(stack, 'Replicator', {
    sourceTable: table,
    replicas: [
      { tableName: 'users', region: 'eu-west-1' },
      { tableName: 'users-copy', region: 'us-east-1' },
      {
        tableName: 'users',
        region: 'ap-south-1',
        account: OTHER_ACCOUNT,
        roleArn: WRITER_ROLE,
        externalId: 'replicator-ext-1',
      },
    ],
    backup: {},
    retryAttempts: 5,
    maxRecordAge: Duration.hours(6),
    parallelizationFactor: 2,
  });
  const template = Template.fromStack(stack);
  const statements = iamStatements(template);

  test('two functions on a current Node.js runtime, from the bundles', () => {
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.replicate',
      Runtime: 'nodejs24.x',
      Environment: {
        Variables: {
          Replicas: JSON.stringify([
            { table: 'users', region: 'eu-west-1' },
            { table: 'users-copy', region: 'us-east-1' },
            { table: 'users', region: 'ap-south-1', roleArn: WRITER_ROLE, externalId: 'replicator-ext-1' },
          ]),
        },
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.backup',
      Runtime: 'nodejs24.x',
      Environment: {
        Variables: { BackupPrefix: 'dynamodb-replicator', BackupBucket: Match.anyValue() },
      },
    });
    assert.ok(replicator.replicateFunction && replicator.backupFunction && replicator.backupBucket);
  });

  test('each mapping reports partial failures, bisects, retries a bounded number of times, then goes to SQS', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'));
    for (const m of mappings) {
      const p = m.Properties as Record<string, unknown>;
      assert.deepEqual(p.FunctionResponseTypes, ['ReportBatchItemFailures']);
      assert.equal(p.BisectBatchOnFunctionError, true);
      assert.equal(p.MaximumRetryAttempts, 5);
      assert.equal(p.MaximumRecordAgeInSeconds, 6 * 3600);
      assert.equal(p.ParallelizationFactor, 2);
      assert.equal(p.StartingPosition, 'TRIM_HORIZON');
      assert.deepEqual(p.EventSourceArn, {
        'Fn::GetAtt': [stack.getLogicalId(table.node.defaultChild as dynamodb.CfnTable), 'StreamArn'],
      });
      const destination = (p.DestinationConfig as { OnFailure: { Destination: { 'Fn::GetAtt': string[] } } })
        .OnFailure.Destination['Fn::GetAtt'];
      assert.equal(template.toJSON().Resources[destination[0] as string].Type, 'AWS::SQS::Queue');
    }
    template.resourceCountIs('AWS::SQS::Queue', 2);
  });

  test('no IAM statement allows a * action, and no DynamoDB or S3 write reaches a * resource', () => {
    assert.ok(statements.length >= 10, `found ${statements.length} statements`);
    for (const s of statements) {
      assert.equal(s.Effect, 'Allow', JSON.stringify(s));
      for (const action of list(s.Action)) {
        assert.ok(!action.includes('*'), `wildcard action ${action}`);
      }
      for (const resource of list(s.Resource)) {
        assert.notEqual(resource, '*', `statement ${JSON.stringify(s.Action)} on *`);
      }
    }
  });

  test('replica writes: exact actions on exactly the same-account replica tables', () => {
    const writes = statements.filter((s) => list(s.Action).some((a) => a === 'dynamodb:BatchWriteItem'));
    assert.equal(writes.length, 1);
    const [write] = writes as [Statement];
    assert.deepEqual(list(write.Action).sort(), [
      'dynamodb:BatchWriteItem',
      'dynamodb:DeleteItem',
      'dynamodb:DescribeTable',
      'dynamodb:PutItem',
    ]);
    assert.deepEqual(list(write.Resource).map(arnText).sort(), [
      `arn:{AWS::Partition}:dynamodb:eu-west-1:${ACCOUNT}:table/users`,
      `arn:{AWS::Partition}:dynamodb:us-east-1:${ACCOUNT}:table/users-copy`,
    ]);
    // The cross-account replica's table appears in no statement: it is written through its role only.
    const all = statements.flatMap((s) => list(s.Resource).map(arnText));
    assert.equal(all.filter((r) => r.includes('ap-south-1')).length, 0);
    for (const s of statements)
      for (const a of list(s.Action))
        assert.ok(
          !/^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a) || s === write,
          `unexpected DynamoDB write ${a}`,
        );
  });

  test('the cross-account replica produces sts:AssumeRole on exactly its role', () => {
    const assume = statements.filter((s) => list(s.Action).includes('sts:AssumeRole'));
    assert.equal(assume.length, 1);
    assert.deepEqual(list(assume[0]?.Action), ['sts:AssumeRole']);
    assert.deepEqual(list(assume[0]?.Resource), [WRITER_ROLE]);
  });

  test('stream read on the source stream only; S3 PutObject only under the prefix', () => {
    const tableId = stack.getLogicalId(table.node.defaultChild as dynamodb.CfnTable);
    const reads = statements.filter((s) => list(s.Action).includes('dynamodb:GetRecords'));
    assert.equal(reads.length, 2);
    for (const r of reads) assert.deepEqual(list(r.Resource).map(arnText), [`{${tableId}.StreamArn}`]);
    const s3Statements = statements.filter((s) => list(s.Action).some((a) => a.startsWith('s3:')));
    assert.equal(s3Statements.length, 1);
    assert.deepEqual(list(s3Statements[0]?.Action), ['s3:PutObject']);
    const bucketId = stack.getLogicalId(replicator.backupBucket?.node.defaultChild as s3.CfnBucket);
    assert.deepEqual(list(s3Statements[0]?.Resource).map(arnText), [
      `{${bucketId}.Arn}/dynamodb-replicator/*`,
    ]);
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
  });

  test('alarms on iterator age, function errors and on-failure queue depth, for both functions', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 6);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties as { MetricName: string; Namespace: string },
    );
    const kinds = alarms.map((a) => `${a.Namespace}/${a.MetricName}`).sort();
    assert.deepEqual(kinds, [
      'AWS/Lambda/Errors',
      'AWS/Lambda/Errors',
      'AWS/Lambda/IteratorAge',
      'AWS/Lambda/IteratorAge',
      'AWS/SQS/ApproximateNumberOfMessagesVisible',
      'AWS/SQS/ApproximateNumberOfMessagesVisible',
    ]);
    assert.equal(replicator.alarms.length, 6);
  });
});

describe('a single replica, an existing bucket with a prefix and a transform module', () => {
  const { stack, table } = sourceStack(dynamodb.StreamViewType.NEW_IMAGE);
  const dir = mkdtempSync(path.join(tmpdir(), 'cdk-transform-'));
  const transform = path.join(dir, 'transform.ts');
  writeFileSync(transform, 'export const transform = (change: unknown) => change;\n');
  const bucket = s3.Bucket.fromBucketName(stack, 'Existing', 'existing-backups');
  new DynamoDbReplicator(stack, 'Replicator', {
    sourceTable: table,
    replicas: [{ tableName: 'users', region: 'eu-west-1' }],
    backup: { bucket, prefix: 'backups/prod/' },
    transformModule: transform,
    turnover: { role: 'AFTER', at: 1_800_000_000_000 },
  });
  const template = Template.fromStack(stack);
  const statements = iamStatements(template);

  test('the classic variables, the transform and the cut-over filter reach the function', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.replicate',
      Environment: {
        Variables: {
          ReplicaTable: 'users',
          ReplicaRegion: 'eu-west-1',
          TransformModule: 'transform.mjs',
          TurnoverRole: 'AFTER',
          TurnoverAt: '1800000000000',
        },
      },
    });
  });

  test('PutObject only under the given prefix of the given bucket', () => {
    const puts = statements.filter((s) => list(s.Action).includes('s3:PutObject'));
    assert.equal(puts.length, 1);
    assert.deepEqual(list(puts[0]?.Resource).map(arnText), [
      'arn:{AWS::Partition}:s3:::existing-backups/backups/prod/*',
    ]);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.backup',
      Environment: { Variables: { BackupBucket: 'existing-backups', BackupPrefix: 'backups/prod' } },
    });
  });
});

describe('a backup with nativeExports', () => {
  const { stack, table } = sourceStack(dynamodb.StreamViewType.NEW_AND_OLD_IMAGES);
  const bucket = s3.Bucket.fromBucketName(stack, 'Existing', 'existing-backups');
  const replicator = new DynamoDbReplicator(stack, 'Replicator', {
    sourceTable: table,
    backup: { bucket, prefix: 'logs', nativeExports: true },
    logRetention: logs.RetentionDays.ONE_WEEK,
  });
  const template = Template.fromStack(stack);
  const statements = iamStatements(template);
  const tableId = stack.getLogicalId(table.node.defaultChild as dynamodb.CfnTable);
  const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
    Properties: Record<string, unknown> & { Environment?: { Variables: Record<string, unknown> } };
  }[];
  const exportFunctions = functions.filter((f) => f.Properties.Handler === 'index.nativeExport');

  test('true: a weekly full and a daily incremental NativeExportSchedule into the backup log', () => {
    assert.deepEqual(
      replicator.nativeExportSchedules.map((n) => [n.node.id, n.location]),
      [
        ['NativeFull', `s3://existing-backups/logs/${table.tableName}`],
        ['NativeIncremental', `s3://existing-backups/logs/${table.tableName}`],
      ],
    );
    const rules = Object.values(template.findResources('AWS::Events::Rule')) as {
      Properties: { ScheduleExpression: string };
    }[];
    assert.deepEqual(rules.map((r) => r.Properties.ScheduleExpression).sort(), [
      'rate(1 day)',
      'rate(7 days)',
    ]);
    assert.equal(Object.keys(template.findResources('AWS::StepFunctions::StateMachine')).length, 2);
    const env = exportFunctions.map((f) =>
      Object.fromEntries(
        Object.entries(f.Properties.Environment?.Variables ?? {}).map(([k, v]) => [k, arnText(v)]),
      ),
    );
    const tableName = `{${tableId}}`;
    assert.deepEqual(env, [
      {
        NativeExportTable: tableName,
        NativeExportKind: 'full',
        NativeExportLeaseSeconds: '86400',
        BackupBucket: 'existing-backups',
        BackupPrefix: 'logs',
        BackupRegion: 'us-east-1',
      },
      {
        NativeExportTable: tableName,
        NativeExportKind: 'incremental',
        NativeExportFullIfNoBase: 'true',
        NativeExportLeaseSeconds: '86400',
        BackupBucket: 'existing-backups',
        BackupPrefix: 'logs',
        BackupRegion: 'us-east-1',
      },
    ]);
  });

  test("the deployment's conventions: runtime, architecture, log retention; each failed-execution alarm on the dashboard", () => {
    const backupFn = functions.find((f) => f.Properties.Handler === 'index.backup');
    for (const f of exportFunctions) {
      assert.equal(f.Properties.Runtime, backupFn?.Properties.Runtime);
      assert.deepEqual(f.Properties.Architectures, ['arm64']);
    }
    const retentions = Object.values(template.findResources('AWS::Logs::LogGroup')).map(
      (g) => (g.Properties as { RetentionInDays: number }).RetentionInDays,
    );
    assert.deepEqual(retentions, [7, 7, 7]);
    const alarms = Object.entries(template.findResources('AWS::CloudWatch::Alarm')).filter(([id]) =>
      /Native(Full|Incremental)FailedAlarm/.test(id),
    );
    assert.equal(alarms.length, 2);
    for (const [, alarm] of alarms) {
      const p = alarm.Properties as Record<string, unknown>;
      assert.match(
        arnText(p.AlarmDescription),
        /native export of .* failed or timed out; nothing was indexed\. Runbook: docs\/operations\.md, "A native export failed"\./,
      );
      assert.equal(p.Threshold, 1);
      assert.equal(p.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.equal(p.TreatMissingData, 'notBreaching');
      const metrics = p.Metrics as {
        Id: string;
        Expression?: string;
        MetricStat?: { Metric: { MetricName: string } };
      }[];
      assert.deepEqual(
        metrics.map((m) => m.Expression ?? m.MetricStat?.Metric.MetricName),
        ['FILL(failed, 0) + FILL(timedOut, 0)', 'ExecutionsFailed', 'ExecutionsTimedOut'],
      );
    }
    const alarmNames = replicator.alarms.map((a) => a.node.path);
    assert.ok(alarmNames.includes('Source/Replicator/NativeFull/FailedAlarm'), alarmNames.join('\n'));
    assert.ok(alarmNames.includes('Source/Replicator/NativeIncremental/FailedAlarm'));
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
    for (const [id] of alarms) assert.ok(body.includes(id), `the dashboard shows ${id}`);
    assert.ok(body.includes('full native export'));
    assert.ok(body.includes('incremental native export'));
  });

  test('the backup function itself gets no export permission: each schedule has its own role', () => {
    const exportActions = statements.flatMap((s) => list(s.Action)).filter((a) => /Export/.test(a));
    // DescribeTable + ExportTableToPointInTime, and DescribeExport: once per schedule's role.
    assert.deepEqual(exportActions.sort(), [
      'dynamodb:DescribeExport',
      'dynamodb:DescribeExport',
      'dynamodb:ExportTableToPointInTime',
      'dynamodb:ExportTableToPointInTime',
    ]);
    assert.equal(statements.filter((s) => /^Native/.test(String(s.Sid))).length, 0);
  });

  test('cadences as props: incremental only every 6 hours, with its timeout as its lease; both off is a ConfigError', () => {
    const { stack: own, table: ownTable } = sourceStack(dynamodb.StreamViewType.NEW_AND_OLD_IMAGES);
    const made = new DynamoDbReplicator(own, 'Replicator', {
      sourceTable: ownTable,
      backup: {
        nativeExports: {
          full: false,
          incremental: events.Schedule.rate(Duration.hours(6)),
          timeout: Duration.hours(2),
        },
      },
    });
    assert.deepEqual(
      made.nativeExportSchedules.map((n) => n.node.id),
      ['NativeIncremental'],
    );
    const t = Template.fromStack(own);
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(6 hours)' });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.nativeExport',
      Environment: {
        Variables: Match.objectLike({ NativeExportKind: 'incremental', NativeExportLeaseSeconds: '7200' }),
      },
    });
    const { stack: off, table: offTable } = sourceStack(dynamodb.StreamViewType.NEW_AND_OLD_IMAGES);
    assert.throws(
      () =>
        new DynamoDbReplicator(off, 'Replicator', {
          sourceTable: offTable,
          backup: { nativeExports: { full: false, incremental: false } },
        }),
      (e: Error) =>
        e instanceof ConfigError &&
        /backup\.nativeExports turns both full and incremental off/.test(e.message),
    );
  });

  test('without nativeExports, no export permission and no schedule at all', () => {
    const { stack: plain, table: plainTable } = sourceStack(dynamodb.StreamViewType.NEW_AND_OLD_IMAGES);
    new DynamoDbReplicator(plain, 'Replicator', { sourceTable: plainTable, backup: {} });
    const t = Template.fromStack(plain);
    const actions = iamStatements(t).flatMap((s) => list(s.Action));
    assert.equal(actions.filter((a) => /Export|AbortMultipartUpload/.test(a)).length, 0);
    assert.equal(Object.keys(t.findResources('AWS::StepFunctions::StateMachine')).length, 0);
  });
});

describe('synth-time validation', () => {
  const replicas = [{ tableName: 'users', region: 'eu-west-1' }];
  const build = (
    props: Partial<DynamoDbReplicatorProps>,
    view: dynamodb.StreamViewType | null = dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
  ) => {
    const { stack, table } = sourceStack(view ?? undefined);
    return () => new DynamoDbReplicator(stack, 'Replicator', { sourceTable: table, replicas, ...props });
  };

  test('a source table without a stream', () => {
    assert.throws(build({}, null), (e: Error) => e instanceof ConfigError && /has no stream/.test(e.message));
  });

  test('a stream without new images (KEYS_ONLY, OLD_IMAGE)', () => {
    for (const view of [dynamodb.StreamViewType.KEYS_ONLY, dynamodb.StreamViewType.OLD_IMAGE]) {
      assert.throws(
        build({}, view),
        (e: Error) =>
          e instanceof ConfigError && e.message.includes(`view type ${view}`) && /NEW_IMAGE/.test(e.message),
      );
    }
  });

  test('a replica that is the source table itself', () => {
    assert.throws(
      build({ replicas: [{ tableName: 'users', region: 'us-east-1' }] }),
      (e: Error) => e instanceof ConfigError && /replicas\[0\] is the source table itself/.test(e.message),
    );
    // Same name and region in another account is another table.
    build({ replicas: [{ tableName: 'users', region: 'us-east-1', account: OTHER_ACCOUNT }] })();
  });

  test('bad replica fields, numbers out of range, nothing to deploy', () => {
    const cases: [Partial<DynamoDbReplicatorProps>, RegExp][] = [
      [{ replicas: [{ tableName: 'users', region: 'Europe' }] }, /replicas\[0\]\.region/],
      [{ replicas: [{ tableName: 'x', region: 'eu-west-1' }] }, /replicas\[0\]\.tableName/],
      [{ replicas: [{ tableName: 'users', region: 'eu-west-1', roleArn: 'writer' }] }, /roleArn/],
      [
        { replicas: [{ tableName: 'users', region: 'eu-west-1', externalId: 'abc' }] },
        /replicas\[0\]\.externalId is set without roleArn/,
      ],
      [
        { replicas: [{ tableName: 'users', region: 'eu-west-1', roleArn: WRITER_ROLE, externalId: 'a' }] },
        /replicas\[0\]\.externalId must be 2 to 1224/,
      ],
      [{ replicas: [{ tableName: 'users', region: 'eu-west-1', account: '12' }] }, /account/],
      [{ replicas: [...replicas, ...replicas] }, /a second time/],
      [{ replicas: [] }, /nothing to deploy/],
      [{ batchSize: 0 }, /batchSize/],
      [{ retryAttempts: -1 }, /retryAttempts/],
      [{ parallelizationFactor: 11 }, /parallelizationFactor/],
      [{ maxRecordAge: Duration.days(8) }, /maxRecordAge/],
      [{ backup: { prefix: 'a//b' } }, /backup\.prefix/],
      [
        { turnover: { role: 'BEFORE', at: 1_767_225_700 } },
        /^DynamoDbReplicator: turnover\.at must be epoch milliseconds .*: it looks like epoch seconds; in milliseconds that is 1767225700000/,
      ],
    ];
    for (const [props, pattern] of cases) {
      assert.throws(
        build(props),
        (e: Error) => e instanceof ConfigError && pattern.test(e.message),
        String(pattern),
      );
    }
  });
});
