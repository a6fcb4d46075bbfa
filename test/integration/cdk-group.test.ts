/**
 * DynamoDbReplicatorGroup synthesized offline (aws-cdk-lib/assertions): a function per member table
 * of the stack with its stream mapping, least-privilege IAM (every statement walked), the group-mode
 * environment, and a synth-time error for each invalid prop.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoDbReplicatorGroup, type GroupMemberProps } from '../../src/cdk/index.js';
import { ConfigError } from '../../src/core/errors.js';

const ACCOUNT = '111111111111';
const OTHER_ACCOUNT = '222222222222';
const WRITER_ROLE = `arn:aws:iam::${OTHER_ACCOUNT}:role/group-writer`;
const CODE = lambda.Code.fromInline('exports.replicate = async () => ({ batchItemFailures: [] });');

function regionStack(region: string, views: Record<string, dynamodb.StreamViewType | undefined>) {
  const stack = new Stack(new App(), `Group-${region}`, { env: { account: ACCOUNT, region } });
  const tables = Object.fromEntries(
    Object.entries(views).map(([name, view]) => [
      name,
      new dynamodb.Table(stack, `Table-${name}`, {
        tableName: name,
        partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        ...(view ? { stream: view } : {}),
      }),
    ]),
  );
  return { stack, tables };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Sid?: string };

function statements(template: Template): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) => p.Properties.PolicyDocument.Statement as Statement[],
  );
}

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

function text(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const r = resource as Record<string, unknown>;
  if (r['Fn::Join']) {
    const [sep, parts] = r['Fn::Join'] as [string, unknown[]];
    return parts.map(text).join(sep);
  }
  if (r.Ref) return `{${String(r.Ref)}}`;
  if (r['Fn::GetAtt']) return `{${(r['Fn::GetAtt'] as string[]).join('.')}}`;
  return JSON.stringify(resource);
}

const NEW_AND_OLD = dynamodb.StreamViewType.NEW_AND_OLD_IMAGES;

describe('a three-member group seen from us-east-1: one local member, two written to', () => {
  const { stack, tables } = regionStack('us-east-1', { users: NEW_AND_OLD });
  const members: GroupMemberProps[] = [
    { id: 'us', table: tables.users as dynamodb.Table },
    { id: 'eu', tableName: 'users', region: 'eu-west-1' },
    {
      id: 'ap',
      tableName: 'users',
      region: 'ap-south-1',
      account: OTHER_ACCOUNT,
      roleArn: WRITER_ROLE,
      externalId: 'group-ext-1',
    },
  ];
  const group = new DynamoDbReplicatorGroup(stack, 'Group', {
    members,
    tombstoneTtl: Duration.days(3),
    code: CODE,
  });
  const template = Template.fromStack(stack);

  test('one function, one mapping in shard order with partial batch failures, one queue, one bucket', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.resourceCountIs('AWS::SQS::Queue', 1);
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ParallelizationFactor: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      BatchSize: 100,
    });
    assert.deepEqual(Object.keys(group.functions), ['us']);
  });

  test('the group-mode environment names the other members and the conflict log', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    const vars = fn?.Properties.Environment.Variables as Record<string, unknown>;
    assert.deepEqual(Object.keys(vars).sort(), [
      'GroupConflictLog',
      'GroupMemberId',
      'GroupMembers',
      'GroupTombstoneTtlSeconds',
    ]);
    assert.equal(vars.GroupMemberId, 'us');
    assert.equal(vars.GroupTombstoneTtlSeconds, '259200');
    assert.deepEqual(JSON.parse(vars.GroupMembers as string), [
      { id: 'eu', table: 'users', region: 'eu-west-1' },
      { id: 'ap', table: 'users', region: 'ap-south-1', roleArn: WRITER_ROLE, externalId: 'group-ext-1' },
    ]);
    assert.match(
      text(vars.GroupConflictLog),
      /^s3:\/\/\{GroupConflictLogBucket\w+\}\/dynamodb-replicator-conflicts\?region=us-east-1$/,
    );
  });

  test('IAM: own stream, PutItem on the member tables written directly, the members role, the conflict prefix', () => {
    const bySid = new Map(statements(template).map((s) => [s.Sid ?? list(s.Action).join(','), s]));
    assert.deepEqual([...bySid.keys()].sort(), [
      'AssumeMemberRoles',
      'ConditionalPutMemberTables',
      'ListOwnStreams',
      'ReadOwnStream',
      'WriteConflictLog',
      'logs:CreateLogStream,logs:PutLogEvents',
      'sqs:SendMessage,sqs:GetQueueAttributes,sqs:GetQueueUrl',
    ]);
    const put = bySid.get('ConditionalPutMemberTables') as Statement;
    assert.deepEqual(list(put.Action), ['dynamodb:PutItem', 'dynamodb:DescribeTable']);
    const resources = list(put.Resource).map(text);
    assert.equal(resources.length, 2);
    assert.match(resources[0] as string, /^\{Tableusers\w+\.Arn\}$/);
    assert.equal(resources[1], 'arn:{AWS::Partition}:dynamodb:eu-west-1:111111111111:table/users');
    assert.deepEqual(list((bySid.get('AssumeMemberRoles') as Statement).Resource), [WRITER_ROLE]);
    assert.deepEqual(list((bySid.get('ReadOwnStream') as Statement).Action), [
      'dynamodb:DescribeStream',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
    ]);
    const log = bySid.get('WriteConflictLog') as Statement;
    assert.deepEqual(list(log.Action), ['s3:PutObject']);
    assert.match(
      text(log.Resource),
      /^\{GroupConflictLogBucket\w+\.Arn\}\/dynamodb-replicator-conflicts\/\*$/,
    );
    const actions = statements(template).flatMap((s) => list(s.Action));
    assert.ok(!actions.some((a) => /BatchWriteItem|DeleteItem|UpdateItem|\*/.test(a)), actions.join(' '));
  });
});

test('two members of one stack: a function each, each writing the other; a group across regions gives the same members to every stack', () => {
  const { stack, tables } = regionStack('eu-west-1', { 'users-a': NEW_AND_OLD, 'users-b': NEW_AND_OLD });
  new DynamoDbReplicatorGroup(stack, 'Group', {
    members: [
      { id: 'a', table: tables['users-a'] as dynamodb.Table },
      { id: 'b', table: tables['users-b'] as dynamodb.Table },
      { id: 'us', tableName: 'users', region: 'us-east-1' },
    ],
    code: CODE,
  });
  const template = Template.fromStack(stack);
  template.resourceCountIs('AWS::Lambda::Function', 2);
  template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
  template.resourceCountIs('AWS::SQS::Queue', 2);
  template.resourceCountIs('AWS::IAM::Role', 2);
  template.resourceCountIs('AWS::S3::Bucket', 1);
  const envs = Object.values(template.findResources('AWS::Lambda::Function')).map(
    (f) => f.Properties.Environment.Variables as Record<string, unknown>,
  );
  assert.deepEqual(
    envs.map((e) => [e.GroupMemberId, [...text(e.GroupMembers).matchAll(/"id":"(\w+)"/g)].map((m) => m[1])]),
    [
      ['a', ['b', 'us']],
      ['b', ['a', 'us']],
    ],
  );
});

test('invalid members are refused at synth time, naming the prop', () => {
  const cases: [
    Record<string, dynamodb.StreamViewType | undefined>,
    (t: Record<string, dynamodb.Table>) => GroupMemberProps[],
    RegExp,
  ][] = [
    [
      { users: NEW_AND_OLD },
      (t) => [{ id: 'us', table: t.users as dynamodb.Table }],
      /members must list at least two members/,
    ],
    [
      { users: NEW_AND_OLD },
      (t) => [
        { id: 'us', table: t.users as dynamodb.Table },
        { id: 'us', tableName: 'users', region: 'eu-west-1' },
      ],
      /members\[1\]\.id "us" is given to two members/,
    ],
    [
      { users: NEW_AND_OLD },
      (t) => [
        { id: 'u s', table: t.users as dynamodb.Table },
        { id: 'eu', tableName: 'users', region: 'eu-west-1' },
      ],
      /members\[0\]\.id: member id "u s" is not usable/,
    ],
    [
      {},
      () => [
        { id: 'eu', tableName: 'users', region: 'eu-west-1' },
        { id: 'ap', tableName: 'users', region: 'ap-south-1' },
      ],
      /no member is a table of this stack/,
    ],
    [
      { users: undefined },
      (t) => [
        { id: 'us', table: t.users as dynamodb.Table },
        { id: 'eu', tableName: 'users', region: 'eu-west-1' },
      ],
      /members\[0\]\.table has no stream/,
    ],
    [
      { users: dynamodb.StreamViewType.NEW_IMAGE },
      (t) => [
        { id: 'us', table: t.users as dynamodb.Table },
        { id: 'eu', tableName: 'users', region: 'eu-west-1' },
      ],
      /members\[0\]\.table's stream has view type NEW_IMAGE/,
    ],
    [
      { users: NEW_AND_OLD },
      (t) => [
        { id: 'us', table: t.users as dynamodb.Table },
        { id: 'eu', tableName: 'users', region: 'eu-west-1', externalId: 'x-1' },
      ],
      /members\[1\]\.externalId is set without roleArn/,
    ],
    [
      { users: NEW_AND_OLD },
      (t) => [
        { id: 'us', table: t.users as dynamodb.Table },
        { id: 'eu', tableName: 'users', region: 'eu-west-1' },
        { id: 'eu2', tableName: 'users', region: 'eu-west-1' },
      ],
      /members\[2\] is listed twice/,
    ],
  ];
  for (const [views, members, pattern] of cases) {
    const { stack, tables } = regionStack('us-east-1', views);
    assert.throws(
      () =>
        new DynamoDbReplicatorGroup(stack, 'Group', {
          members: members(tables as Record<string, dynamodb.Table>),
          code: CODE,
        }),
      (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
      String(pattern),
    );
  }
});
