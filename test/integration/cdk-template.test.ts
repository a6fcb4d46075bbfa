/**
 * `dynamodb-replicator template`: valid JSON and YAML (read back with the independent `yaml`
 * parser) holding the same resources as the DynamoDbReplicator construct, code from parameters,
 * no CDK bootstrap or metadata; bad input exits 2 with a clear message and prints nothing.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { parse } from 'yaml';
import { DynamoDbReplicator } from '../../src/cdk/index.js';
import { runCliCapture } from '../harness/cli.js';

const STREAM_ARN = 'arn:aws:dynamodb:us-east-1:111111111111:table/users/stream/2026-01-01T00:00:00.000';
const ROLE = 'arn:aws:iam::222222222222:role/replica-writer';
const ARGS = [
  'template',
  '--source-stream-arn',
  STREAM_ARN,
  '--replica',
  'eu-west-1/users',
  '--replica',
  `ap-south-1/users,role=${ROLE},external-id=users-replica,account=222222222222`,
  '--backup-bucket',
  'my-backups',
  '--backup-prefix',
  'prod',
  '--retry-attempts',
  '4',
];

type CfnTemplate = {
  Parameters: Record<string, { Type: string; Default?: string }>;
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; Metadata?: unknown }>;
  Rules?: unknown;
};

function typeCounts(resources: CfnTemplate['Resources']): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of Object.values(resources)) counts[r.Type] = (counts[r.Type] ?? 0) + 1;
  return counts;
}

let json: CfnTemplate;
let yamlText: string;

before(async () => {
  const [a, b] = await Promise.all([runCliCapture(ARGS), runCliCapture([...ARGS, '--format', 'yaml'])]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  json = JSON.parse(a.stdout) as CfnTemplate;
  yamlText = b.stdout;
});

test('the JSON template has the construct resources, with the same types and counts', () => {
  // The same deployment through the construct, the source table imported from its stream ARN.
  const stack = new Stack(new App(), 'Construct', { env: { account: '111111111111', region: 'us-east-1' } });
  const table = dynamodb.Table.fromTableAttributes(stack, 'Source', {
    tableName: 'users',
    tableStreamArn: STREAM_ARN,
  });
  new DynamoDbReplicator(stack, 'Replicator', {
    sourceTable: table,
    replicas: [
      { tableName: 'users', region: 'eu-west-1' },
      {
        tableName: 'users',
        region: 'ap-south-1',
        roleArn: ROLE,
        externalId: 'users-replica',
        account: '222222222222',
      },
    ],
    backup: { bucket: s3.Bucket.fromBucketName(stack, 'Backups', 'my-backups'), prefix: 'prod' },
    retryAttempts: 4,
  });
  const construct = Template.fromStack(stack).toJSON() as CfnTemplate;
  assert.deepEqual(typeCounts(json.Resources), typeCounts(construct.Resources));
  assert.deepEqual(typeCounts(json.Resources), {
    'AWS::IAM::Role': 2,
    'AWS::IAM::Policy': 2,
    'AWS::Logs::LogGroup': 2,
    'AWS::Lambda::Function': 2,
    'AWS::Lambda::EventSourceMapping': 2,
    'AWS::SQS::Queue': 2,
    'AWS::SQS::QueuePolicy': 2,
    'AWS::CloudWatch::Alarm': 6,
    'AWS::CloudWatch::Dashboard': 1,
  });
  // One dashboard per deployed stack: its name is the stack's name, not fixed in the template.
  const [dashboard] = Object.values(json.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
  assert.deepEqual(dashboard?.Properties?.DashboardName, {
    'Fn::Join': ['-', [{ Ref: 'AWS::StackName' }, 'Replicator']],
  });
});

test('plain CloudFormation: code from parameters, no bootstrap rule, no CDK metadata', () => {
  assert.deepEqual(Object.keys(json.Parameters).sort(), ['BackupCodeKey', 'CodeBucket', 'ReplicateCodeKey']);
  assert.equal(json.Parameters.ReplicateCodeKey?.Default, 'replicate.zip');
  assert.equal(json.Rules, undefined);
  const functions = Object.values(json.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
  for (const fn of functions) {
    const code = fn.Properties?.Code as { S3Bucket: unknown; S3Key: unknown };
    assert.deepEqual(code.S3Bucket, { Ref: 'CodeBucket' });
    assert.ok(['ReplicateCodeKey', 'BackupCodeKey'].includes((code.S3Key as { Ref: string }).Ref));
  }
  for (const r of Object.values(json.Resources)) assert.equal(r.Metadata, undefined);
  const mappings = Object.values(json.Resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
  for (const m of mappings) {
    assert.equal(m.Properties?.EventSourceArn, STREAM_ARN);
    assert.deepEqual(m.Properties?.FunctionResponseTypes, ['ReportBatchItemFailures']);
    assert.equal(m.Properties?.MaximumRetryAttempts, 4);
  }
  const text = JSON.stringify(json);
  assert.ok(text.includes('arn:aws:s3:::my-backups/prod/*') || text.includes(':s3:::my-backups/prod/*'));
  assert.ok(text.includes(ROLE));
  const replicate = functions.find((fn) => fn.Properties?.Handler === 'index.replicate');
  const variables = (replicate?.Properties?.Environment as { Variables: Record<string, string> }).Variables;
  assert.deepEqual(JSON.parse(variables.Replicas ?? '[]'), [
    { table: 'users', region: 'eu-west-1' },
    { table: 'users', region: 'ap-south-1', roleArn: ROLE, externalId: 'users-replica' },
  ]);
});

test('the YAML output is valid YAML with exactly the JSON template', () => {
  assert.ok(!yamlText.trimStart().startsWith('{'), 'YAML in block style, not JSON');
  assert.deepEqual(parse(yamlText), json);
});

test('bad input exits 2 with a clear message and prints no template', async () => {
  const cases: [string[], RegExp][] = [
    [['template', '--replica', 'eu-west-1/users'], /--source-stream-arn is required/],
    [
      ['template', '--source-stream-arn', 'arn:aws:dynamodb:x', '--replica', 'eu-west-1/users'],
      /stream ARN must look like/,
    ],
    [['template', '--source-stream-arn', STREAM_ARN], /at least one --replica/],
    [
      ['template', '--source-stream-arn', STREAM_ARN, '--replica', 'users'],
      /--replica must be region\/table/,
    ],
    [
      ['template', '--source-stream-arn', STREAM_ARN, '--replica', 'us-east-1/users'],
      /is the source table itself/,
    ],
    [
      [
        'template',
        '--source-stream-arn',
        STREAM_ARN,
        '--replica',
        'eu-west-1/a1b',
        '--replica',
        'eu-west-2/a1b',
        '--role-arn',
        ROLE,
      ],
      /--role-arn applies to exactly one --replica/,
    ],
    [
      ['template', '--source-stream-arn', STREAM_ARN, '--replica', 'eu-west-1/users', '--format', 'xml'],
      /--format must be json or yaml/,
    ],
    [
      [
        'template',
        '--source-stream-arn',
        STREAM_ARN,
        '--source-table',
        'orders',
        '--replica',
        'eu-west-1/users',
      ],
      /not the table of the stream ARN/,
    ],
  ];
  for (const [argv, pattern] of cases) {
    const r = await runCliCapture(argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stdout, '');
    assert.ok(!r.stderr.includes('    at '), 'no stack trace');
  }
});
