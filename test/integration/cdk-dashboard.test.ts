/**
 * The DynamoDbReplicator's dashboard and scheduled verify job, synthesized offline: the dashboard's
 * widgets (exact count, titles, and every metric with its namespace, name, dimensions and statistic,
 * matching the names the handlers emit), its name, the schedule, the verify function's environment
 * and IAM statements (exact), its alarms (two consecutive runs), and synth-time errors.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { DynamoDbReplicator, type DynamoDbReplicatorProps } from '../../src/cdk/index.js';
import { ConfigError } from '../../src/core/errors.js';
import { cfnText } from '../harness/cfn.js';

const ACCOUNT = '111111111111';
const OTHER_ACCOUNT = '222222222222';
const WRITER_ROLE = `arn:aws:iam::${OTHER_ACCOUNT}:role/replica-writer`;

function build(props: Partial<DynamoDbReplicatorProps>) {
  const stack = new Stack(new App(), 'Source', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const table = new dynamodb.Table(stack, 'Users', {
    tableName: 'users',
    partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
    stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
  });
  const replicator = new DynamoDbReplicator(stack, 'Replicator', { sourceTable: table, ...props });
  const template = Template.fromStack(stack);
  const tableId = stack.getLogicalId(table.node.defaultChild as dynamodb.CfnTable);
  const bucketId = replicator.backupBucket
    ? stack.getLogicalId(replicator.backupBucket.node.defaultChild as s3.CfnBucket)
    : undefined;
  return { stack, table, replicator, template, tableId, bucketId };
}

interface Widget {
  type: string;
  width: number;
  properties: { title: string; metrics?: unknown[][]; alarms?: string[] };
}

function dashboard(template: Template): { name: string; widgets: Widget[] } {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  assert.equal(dashboards.length, 1);
  const props = (dashboards[0] as { Properties: { DashboardBody: unknown; DashboardName: unknown } })
    .Properties;
  const body = JSON.parse(cfnText(props.DashboardBody)) as { widgets: Widget[] };
  return { name: cfnText(props.DashboardName), widgets: body.widgets };
}

/** A widget's metrics as `namespace metric dim=value,... stat` lines. */
function metricLines(widget: Widget): string[] {
  return (widget.properties.metrics ?? []).map((m) => {
    const options = m[m.length - 1] as { stat: string };
    const [namespace, name, ...dims] = m.slice(0, -1) as string[];
    const pairs: string[] = [];
    for (let i = 0; i < dims.length; i += 2) pairs.push(`${dims[i]}=${dims[i + 1]}`);
    return `${namespace} ${name} ${pairs.sort().join(',')} ${options.stat}`;
  });
}

describe('two replicas, a backup and a verify job every hour', () => {
  const { template, replicator, tableId, bucketId } = build({
    replicas: [
      { tableName: 'users', region: 'eu-west-1' },
      { tableName: 'users', region: 'ap-south-1', account: OTHER_ACCOUNT, roleArn: WRITER_ROLE },
    ],
    backup: {},
    verify: { every: Duration.hours(1), readCapacity: 50 },
    dashboard: { dashboardName: 'users-replication' },
  });
  const src = `SourceTable={${tableId}}`;
  const eu = `ReplicaTable=eu-west-1/users`;
  const ap = `ReplicaTable=ap-south-1/users`;
  const log = `BackupLocation=s3://{${bucketId}}/dynamodb-replicator`;
  const { name, widgets } = dashboard(template);

  test('the dashboard has its name and exactly eight widgets, in order', () => {
    assert.equal(name, 'users-replication');
    assert.deepEqual(
      widgets.map((w) => `${w.type} ${w.width} ${w.properties.title}`),
      [
        'metric 12 Replication lag p50 / p99',
        'metric 12 Iterator age (max)',
        'metric 8 Records applied',
        'metric 8 Failed and rejected records',
        'metric 8 Conflicts (multi-active)',
        'metric 12 Discrepancies (verify job)',
        'metric 12 Lambda errors and throttles',
        'alarm 24 Alarms (see docs/operations.md, "Alarms and what to do")',
      ],
    );
  });

  test('lag p50/p99, records, failures and conflicts come from the EMF names and dimensions the handlers emit', () => {
    const ns = 'DynamoDBReplicator';
    const [lag, , applied, failed, conflicts] = widgets as [Widget, Widget, Widget, Widget, Widget];
    assert.deepEqual(metricLines(lag), [
      `${ns} ReplicationLag ${eu},${src} p50`,
      `${ns} ReplicationLag ${eu},${src} p99`,
      `${ns} ReplicationLag ${ap},${src} p50`,
      `${ns} ReplicationLag ${ap},${src} p99`,
      `${ns} ReplicationLag ${log},${src} p50`,
      `${ns} ReplicationLag ${log},${src} p99`,
    ]);
    assert.deepEqual(metricLines(applied), [
      `${ns} ChangesApplied ${eu},${src} Sum`,
      `${ns} ChangesApplied ${ap},${src} Sum`,
      `${ns} ChangesApplied ${log},${src} Sum`,
    ]);
    assert.deepEqual(metricLines(failed), [
      `${ns} FailedRecords ${eu},${src} Sum`,
      `${ns} FailedRecords ${ap},${src} Sum`,
      `${ns} FailedRecords ${log},${src} Sum`,
      `${ns} RejectedRecords ${eu},${src} Sum`,
      `${ns} RejectedRecords ${ap},${src} Sum`,
      `${ns} RejectedRecords ${log},${src} Sum`,
    ]);
    assert.deepEqual(metricLines(conflicts), [
      `${ns} Conflicts ${eu},${src} Sum`,
      `${ns} Conflicts ${ap},${src} Sum`,
    ]);
  });

  test('iterator age, discrepancies, errors and throttles, and every alarm', () => {
    const [, iterator, , , , discrepancies, errors, alarms] = widgets as Widget[] as [
      Widget,
      Widget,
      Widget,
      Widget,
      Widget,
      Widget,
      Widget,
      Widget,
    ];
    const fnIds = Object.keys(template.findResources('AWS::Lambda::Function'));
    const fn = (handler: string) =>
      fnIds.find(
        (id) =>
          (template.toJSON().Resources[id] as { Properties: { Handler: string } }).Properties.Handler ===
          `index.${handler}`,
      ) as string;
    const [r, b, v] = [fn('replicate'), fn('backup'), fn('verify')];
    assert.deepEqual(metricLines(iterator), [
      `AWS/Lambda IteratorAge FunctionName={${r}} Maximum`,
      `AWS/Lambda IteratorAge FunctionName={${b}} Maximum`,
    ]);
    assert.deepEqual(metricLines(discrepancies), [
      `DynamoDBReplicator Discrepancies ${eu},${src} Maximum`,
      `DynamoDBReplicator Discrepancies ${ap},${src} Maximum`,
      `DynamoDBReplicator Discrepancies ${log},${src} Maximum`,
    ]);
    assert.deepEqual(
      metricLines(errors),
      [r, b, v].flatMap((id) => [
        `AWS/Lambda Errors FunctionName={${id}} Sum`,
        `AWS/Lambda Throttles FunctionName={${id}} Sum`,
      ]),
    );
    // 3 per stream function, 2 per verify check.
    assert.equal(replicator.alarms.length, 6 + 3 * 2);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 12);
    assert.equal(alarms.properties.alarms?.length, 12);
  });

  test('the schedule runs the verify function every hour, without retries', () => {
    template.resourceCountIs('AWS::Events::Rule', 1);
    const [rule] = Object.values(template.findResources('AWS::Events::Rule')) as {
      Properties: { ScheduleExpression: string; Targets: { Arn: unknown; RetryPolicy: unknown }[] };
    }[];
    assert.equal(rule?.Properties.ScheduleExpression, 'rate(1 hour)');
    assert.equal(rule?.Properties.Targets.length, 1);
    assert.deepEqual(rule?.Properties.Targets[0]?.RetryPolicy, { MaximumRetryAttempts: 0 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.verify',
      Timeout: 900,
      Environment: {
        Variables: {
          VerifySourceTable: { Ref: tableId },
          Replicas: JSON.stringify([
            { table: 'users', region: 'eu-west-1' },
            { table: 'users', region: 'ap-south-1', roleArn: WRITER_ROLE },
          ]),
          BackupBucket: { Ref: bucketId },
          BackupPrefix: 'dynamodb-replicator',
          BackupRegion: 'us-east-1',
          VerifyReadCapacity: '50',
          VerifySettleSeconds: '10',
          MetricsNamespace: 'DynamoDBReplicator',
        },
      },
    });
    assert.ok(replicator.verifyFunction);
  });

  test('discrepancy alarms need two consecutive runs; not-verified alarms fire on two intervals without a run', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) =>
        (a as { Properties: Record<string, unknown> }).Properties as {
          EvaluationPeriods: number;
          DatapointsToAlarm?: number;
          Threshold: number;
          ComparisonOperator: string;
          TreatMissingData: string;
          Metrics?: { MetricStat: { Metric: { MetricName: string }; Period: number; Stat: string } }[];
        },
    );
    const verify = alarms.filter((a) => a.Metrics !== undefined);
    const lines = verify
      .map((a) => {
        const stat = a.Metrics?.[0]?.MetricStat;
        return `${stat?.Metric.MetricName} ${stat?.Stat}/${stat?.Period} ${a.ComparisonOperator} ${a.Threshold} ${a.DatapointsToAlarm} of ${a.EvaluationPeriods} missing=${a.TreatMissingData}`;
      })
      .sort();
    assert.deepEqual(lines, [
      ...Array(3).fill('Discrepancies Maximum/3600 GreaterThanThreshold 0 2 of 2 missing=ignore'),
      ...Array(3).fill('VerifiedAt SampleCount/3600 LessThanThreshold 1 2 of 2 missing=breaching'),
    ]);
  });

  test('the verify role reads exactly the source, the same-account replica and this table’s log', () => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { Description: 'dynamodb-replicator verify function' },
    });
    const roleId = Object.keys(roles)[0] as string;
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      (p as { Properties: { Roles: { Ref: string }[] } }).Properties.Roles.some((x) => x.Ref === roleId),
    );
    assert.equal(policies.length, 1);
    const statements = (
      policies[0] as {
        Properties: {
          PolicyDocument: {
            Statement: { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown }[];
          };
        };
      }
    ).Properties.PolicyDocument.Statement.map((s) => ({
      sid: s.Sid ?? '-',
      actions: ([] as string[]).concat(s.Action),
      resources: ([] as unknown[]).concat(s.Resource).map(cfnText),
      ...(s.Condition ? { condition: JSON.parse(cfnText(JSON.stringify(s.Condition))) as unknown } : {}),
    }));
    const reads = ['dynamodb:BatchGetItem', 'dynamodb:DescribeTable', 'dynamodb:Scan'];
    const logsId = Object.keys(template.findResources('AWS::Logs::LogGroup')).find((id) =>
      id.includes('Verify'),
    );
    assert.deepEqual(statements, [
      { sid: '-', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`{${logsId}.Arn}`] },
      { sid: 'ReadSourceTable', actions: reads, resources: [`{${tableId}.Arn}`] },
      {
        sid: 'ReadReplicaTables',
        actions: reads,
        resources: [`arn:{AWS::Partition}:dynamodb:eu-west-1:${ACCOUNT}:table/users`],
      },
      { sid: 'AssumeReplicaRoles', actions: ['sts:AssumeRole'], resources: [WRITER_ROLE] },
      {
        sid: 'ReadChangeLog',
        actions: ['s3:GetObject'],
        resources: [`{${bucketId}.Arn}/dynamodb-replicator/{${tableId}}/*`],
      },
      {
        sid: 'ListChangeLog',
        actions: ['s3:ListBucket'],
        resources: [`{${bucketId}.Arn}`],
        condition: {
          StringLike: {
            's3:prefix': [{ 'Fn::Join': ['', ['dynamodb-replicator/', { Ref: tableId }, '/*']] }],
          },
        },
      },
    ]);
  });
});

describe('a backup-only deployment without a verify job', () => {
  const { template, tableId } = build({ backup: { prefix: 'logs' } });
  const { name, widgets } = dashboard(template);

  test('six widgets (no conflicts between replicas, no discrepancies), named after the stack', () => {
    assert.equal(name, '{AWS::StackName}-Replicator');
    assert.deepEqual(
      widgets.map((w) => w.properties.title),
      [
        'Replication lag p50 / p99',
        'Iterator age (max)',
        'Records applied',
        'Failed and rejected records',
        'Lambda errors and throttles',
        'Alarms (see docs/operations.md, "Alarms and what to do")',
      ],
    );
    assert.equal(widgets[4]?.width, 24);
    assert.equal(metricLines(widgets[0] as Widget).length, 2);
    assert.ok((metricLines(widgets[0] as Widget)[0] as string).includes(`SourceTable={${tableId}}`));
    template.resourceCountIs('AWS::Events::Rule', 0);
  });
});

describe('options and synth-time errors', () => {
  const replicas = [{ tableName: 'users', region: 'eu-west-1' }];

  test('dashboard: false deploys no dashboard', () => {
    build({ replicas, dashboard: false }).template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  test('a verify job of the replicas only, when a backup exists, has no S3 permission and two alarms', () => {
    const { template } = build({
      replicas,
      backup: {},
      verify: { every: Duration.minutes(30), backup: false },
    });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 6 + 2);
    const verify = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (f) => (f as { Properties: { Handler: string } }).Properties.Handler === 'index.verify',
    ) as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    assert.equal(verify.Properties.Environment.Variables.BackupBucket, undefined);
    assert.ok(!JSON.stringify(template.findResources('AWS::IAM::Policy')).includes('s3:GetObject'));
  });

  test('bad verify props are ConfigErrors naming the prop', () => {
    const cases: [Partial<DynamoDbReplicatorProps>, RegExp][] = [
      [{ verify: { every: Duration.seconds(30) } }, /verify\.every must be whole minutes/],
      [{ verify: { every: Duration.days(2) } }, /verify\.every must be whole minutes/],
      [{ verify: { every: Duration.hours(1), timeout: Duration.minutes(20) } }, /verify\.timeout/],
      [{ verify: { every: Duration.hours(1), readCapacity: 0 } }, /verify\.readCapacity/],
      [{ verify: { every: Duration.hours(1), replicas: false } }, /verify has nothing to compare/],
    ];
    for (const [props, pattern] of cases)
      assert.throws(
        () => build({ replicas, ...props }),
        (e: Error) => e instanceof ConfigError && pattern.test(e.message),
        String(pattern),
      );
  });
});
