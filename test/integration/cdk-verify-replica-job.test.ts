/**
 * `verify.replicaJob`: each replica pair is verified on the schedule by a ScanJob execution of a
 * `diff` job instead of inside the verify function. Template assertions (the rule's targets and
 * their exact inputs, a replica reached through a role carrying its role and ExternalId in its
 * location, the job function's exact IAM statements, no verify function when every check is a job,
 * more than five targets on a second rule, the same alarms on the same metric, bad props), then the
 * synthesized state machine driven locally (test/harness/asl.ts) with each rule target's own input
 * through the real scan-job handler against DynamoDB Local and s3rver: a pair with known
 * differences gives their exact counts and an equal pair reached by assuming a role (through the STS
 * stand-in) gives 0, each ending with the EMF line the verify function writes for the same pair.
 * Then the diff kind's settle re-check on its own: a difference repaired while a slice waits is not
 * counted, and a diff job without labels (one run by hand) publishes no metric.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { App, Duration, Stack, Token } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbReplicator, type DynamoDbReplicatorProps } from '../../src/cdk/index.js';
import { ConfigError } from '../../src/core/errors.js';
import { formatTableLocation, parseTableLocation } from '../../src/core/location.js';
import { LOCAL_CREDENTIALS } from '../../src/embedded/dynamodb-local.js';
import { cachedJobEnvironment } from '../../src/jobs/environment.js';
import type { JobEnvironment } from '../../src/jobs/kind.js';
import { createScanJobHandler } from '../../src/lambda/scan-job.js';
import { createLogger } from '../../src/lambda/log.js';
import { createVerifyHandler } from '../../src/lambda/verify.js';
import { AslInterpreter, type Machine } from '../harness/asl.js';
import { cfnText, roleStatements, stateMachineDefinition } from '../harness/cfn.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { assertValidEmf } from '../harness/emf.js';
import { startFaultProxy } from '../harness/fault-proxy.js';
import { startLocalS3 } from '../harness/s3.js';
import { startStsStandIn } from '../harness/sts-stand-in.js';
import { putItems } from '../harness/table-load.js';

const ACCOUNT = '111111111111';
const ROLE = 'arn:aws:iam::222222222222:role/replica-reader';
// Started at the file's level: the harness stops them after the file.
const s3server = await startLocalS3();
const endpoint = await dynamoEndpoint();

const inline = lambda.Code.fromInline('export const handler = async () => ({});');

interface Names {
  source: string;
  near: string;
  far: string;
}

function build(names: Names, props: Partial<DynamoDbReplicatorProps> = {}) {
  const stack = new Stack(new App(), 'Source', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const sourceTable = dynamodb.Table.fromTableAttributes(stack, 'Users', {
    tableName: names.source,
    tableStreamArn: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${names.source}/stream/2026-01-01T00:00:00.000`,
  });
  const replicator = new DynamoDbReplicator(stack, 'Replicator', {
    sourceTable,
    replicas: [
      { tableName: names.near, region: 'eu-west-1' },
      {
        tableName: names.far,
        region: 'ap-southeast-2',
        account: '222222222222',
        roleArn: ROLE,
        externalId: 'ext-42',
      },
    ],
    code: { replicate: inline, backup: inline, verify: inline, scanJob: inline },
    verify: {
      every: Duration.hours(6),
      readCapacity: 100,
      replicaJob: { segments: 3, maxConcurrency: 2, readCapacity: 300 },
    },
    ...props,
  });
  return { stack, replicator, template: Template.fromStack(stack) };
}

interface Rule {
  Properties: { ScheduleExpression: string; Targets: { Arn: unknown; Input?: unknown }[] };
}

const rules = (template: Template) => Object.values(template.findResources('AWS::Events::Rule')) as Rule[];
const handlers = (template: Template) =>
  Object.values(template.findResources('AWS::Lambda::Function')).map(
    (f) => (f as { Properties: { Handler: string } }).Properties.Handler,
  );

function diffInput(replica: string, replicaTable: string, settleMs = 10_000) {
  return {
    kind: 'diff',
    params: {
      primary: 'users',
      replica,
      repair: false,
      settleMs,
      labels: { sourceTable: 'users', replicaTable },
    },
    segments: 3,
  };
}

describe('the template', () => {
  const names = { source: 'users', near: 'users', far: 'users-au' };
  const { replicator, template } = build(names);

  test('one rule starts one diff execution per replica; the far one carries its role and ExternalId; no verify function', () => {
    const [rule, ...more] = rules(template);
    assert.equal(more.length, 0);
    assert.equal(rule?.Properties.ScheduleExpression, 'rate(6 hours)');
    const targets = rule?.Properties.Targets ?? [];
    assert.deepEqual(
      targets.map((t) => cfnText(t.Arn).replace(/[0-9A-F]{8}\}$/, '}')),
      ['{ReplicatorVerifyReplicaJobStateMachine}', '{ReplicatorVerifyReplicaJobStateMachine}'],
    );
    assert.deepEqual(
      targets.map((t) => JSON.parse(cfnText(t.Input)) as unknown),
      [
        diffInput('eu-west-1/users', 'eu-west-1/users'),
        diffInput(`ap-southeast-2/users-au?role=${ROLE}&external-id=ext-42`, 'ap-southeast-2/users-au'),
      ],
    );
    assert.equal(replicator.verifyFunction, undefined);
    assert.deepEqual(handlers(template).sort(), ['index.replicate', 'index.scanJob']);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
  });

  test('the job function: its namespace, each child half of 300 RCU per table, exactly the source, the near replica, the far role and its job folders', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.scanJob',
      Environment: { Variables: { MetricsNamespace: 'DynamoDBReplicator' } },
    });
    const machine = stateMachineDefinition<Machine>(template);
    const segments = machine.States.Segments as unknown as { MaxConcurrency: number; ItemProcessor: Machine };
    assert.equal(segments.MaxConcurrency, 2);
    assert.deepEqual((segments.ItemProcessor.States.Slice?.Parameters as { capacity: unknown }).capacity, {
      readUnitsPerSecond: 150,
    });
    const buckets = template.findResources('AWS::S3::Bucket');
    const bucket = Object.keys(buckets);
    assert.equal(bucket.length, 1);
    assert.match(bucket[0] as string, /^ReplicatorVerifyJobBucket/);
    // Its job folders expire (default 30 days); nothing else is in that bucket.
    assert.deepEqual(
      (Object.values(buckets)[0] as { Properties: { LifecycleConfiguration?: unknown } }).Properties
        .LifecycleConfiguration,
      { Rules: [{ ExpirationInDays: 30, Prefix: 'verify-replica-jobs/', Status: 'Enabled' }] },
    );
    const statements = roleStatements(template, 'VerifyReplicaJobFunctionRole').filter(
      (s) => !s.actions.includes('logs:PutLogEvents'),
    );
    assert.deepEqual(statements, [
      {
        sid: 'JobFoldersObjects',
        actions: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
        resources: [`{${bucket[0]}.Arn}/verify-replica-jobs/*`],
      },
      {
        sid: 'JobFoldersList',
        actions: ['s3:ListBucket'],
        resources: [`{${bucket[0]}.Arn}`],
        condition: { StringLike: { 's3:prefix': ['verify-replica-jobs/*'] } },
      },
      {
        sid: 'ReadTables',
        actions: ['dynamodb:BatchGetItem', 'dynamodb:DescribeTable', 'dynamodb:Scan'],
        resources: [`arn:{AWS::Partition}:dynamodb:us-east-1:${ACCOUNT}:table/users`],
      },
      {
        sid: 'ReadReplicaTables',
        actions: ['dynamodb:BatchGetItem', 'dynamodb:DescribeTable', 'dynamodb:Scan'],
        resources: [`arn:{AWS::Partition}:dynamodb:eu-west-1:${ACCOUNT}:table/users`],
      },
      { sid: 'AssumeReplicaRoles', actions: ['sts:AssumeRole'], resources: [ROLE] },
    ]);
  });

  test('each replica keeps its two alarms on the same metric and dimensions', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
      .map((a) => (a as { Properties: { Metrics?: { MetricStat: { Metric: unknown } }[] } }).Properties)
      .filter((p) => JSON.stringify(p.Metrics ?? []).includes('ReplicaTable'))
      .map((p) => JSON.parse(cfnText(JSON.stringify(p.Metrics?.[0]?.MetricStat.Metric))) as unknown);
    const metric = (replica: string, name: string) => ({
      Dimensions: [
        { Name: 'ReplicaTable', Value: replica },
        { Name: 'SourceTable', Value: 'users' },
      ],
      MetricName: name,
      Namespace: 'DynamoDBReplicator',
    });
    assert.deepEqual(alarms, [
      metric('eu-west-1/users', 'Discrepancies'),
      metric('eu-west-1/users', 'VerifiedAt'),
      metric('ap-southeast-2/users-au', 'Discrepancies'),
      metric('ap-southeast-2/users-au', 'VerifiedAt'),
    ]);
  });

  test('with a backup: the jobs share its bucket in their own folders; the verify function stays only for the check left to it', () => {
    const both = build(names, {
      backup: { bucket: s3.Bucket.fromBucketName(new Stack(), 'B', 'my-backups'), prefix: 'logs' },
      verify: { every: Duration.hours(1), backupJob: {}, replicaJob: { workPrefix: 'checks/replicas' } },
    });
    assert.equal(both.replicator.verifyFunction, undefined);
    both.template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
    both.template.resourceCountIs('AWS::S3::Bucket', 0);
    const folders = roleStatements(both.template, 'VerifyReplicaJobFunctionRole').find(
      (s) => s.sid === 'JobFoldersObjects',
    );
    assert.deepEqual(folders?.resources, ['arn:{AWS::Partition}:s3:::my-backups/checks/replicas/*']);
    assert.equal(rules(both.template)[0]?.Properties.Targets.length, 3);

    const logInFunction = build(names, {
      backup: { bucket: s3.Bucket.fromBucketName(new Stack(), 'B', 'my-backups'), prefix: 'logs' },
      verify: { every: Duration.hours(1), replicaJob: {} },
    });
    assert.deepEqual(handlers(logInFunction.template).sort(), [
      'index.backup',
      'index.replicate',
      'index.scanJob',
      'index.verify',
    ]);
    const verifyFn = Object.values(logInFunction.template.findResources('AWS::Lambda::Function')).find(
      (f) => (f as { Properties: { Handler: string } }).Properties.Handler === 'index.verify',
    ) as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    assert.equal(verifyFn.Properties.Environment.Variables.Replicas, undefined);
    assert.equal(verifyFn.Properties.Environment.Variables.BackupBucket, 'my-backups');
    assert.deepEqual(
      roleStatements(logInFunction.template, 'ReplicatorVerifyRole')
        .filter((s) => s.actions.includes('dynamodb:Scan') || s.actions.includes('sts:AssumeRole'))
        .map((s) => s.sid),
      ['ReadSourceTable'],
    );
  });

  test('more than five targets go on a second rule with the same schedule', () => {
    const stack = new Stack(new App(), 'Many', { env: { account: ACCOUNT, region: 'us-east-1' } });
    new DynamoDbReplicator(stack, 'Replicator', {
      sourceTable: dynamodb.Table.fromTableAttributes(stack, 'Users', {
        tableName: 'users',
        tableStreamArn: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/users/stream/2026-01-01T00:00:00.000`,
      }),
      replicas: ['eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'us-west-2', 'ap-south-1'].map(
        (region) => ({ tableName: 'users', region }),
      ),
      code: { replicate: inline, verify: inline, scanJob: inline },
      verify: { every: Duration.minutes(30), replicaJob: {} },
    });
    const made = rules(Template.fromStack(stack));
    assert.deepEqual(
      made.map((r) => [r.Properties.ScheduleExpression, r.Properties.Targets.length]),
      [
        ['rate(30 minutes)', 5],
        ['rate(30 minutes)', 1],
      ],
    );
    assert.equal(
      (JSON.parse(cfnText(made[1]?.Properties.Targets[0]?.Input)) as { params: { replica: string } }).params
        .replica,
      'ap-south-1/users',
    );
  });

  test('bad job props are ConfigErrors naming the option', () => {
    const refused = (verify: DynamoDbReplicatorProps['verify'], pattern: RegExp) =>
      assert.throws(
        () => build(names, { verify }),
        (e: Error) => e instanceof ConfigError && pattern.test(e.message),
      );
    refused({ every: Duration.hours(1), replicaJob: { segments: 0 } }, /verify\.replicaJob\.segments/);
    refused(
      { every: Duration.hours(1), replicaJob: { readCapacity: 1.5 } },
      /verify\.replicaJob\.readCapacity/,
    );
    refused(
      { every: Duration.hours(1), settle: Duration.minutes(1), replicaJob: {} },
      /verify\.settle must be at most 30 seconds with verify\.replicaJob/,
    );
    const stack = new Stack(new App(), 'Tokens', { env: { account: ACCOUNT, region: 'us-east-1' } });
    assert.throws(
      () =>
        new DynamoDbReplicator(stack, 'Replicator', {
          sourceTable: dynamodb.Table.fromTableAttributes(stack, 'Users', {
            tableName: 'users',
            tableStreamArn: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/users/stream/2026-01-01T00:00:00.000`,
          }),
          replicas: [
            {
              tableName: 'users',
              region: 'eu-west-1',
              roleArn: ROLE,
              externalId: Token.asString({ Ref: 'ExternalIdParameter' }),
            },
          ],
          code: { replicate: inline, verify: inline, scanJob: inline },
          verify: { every: Duration.hours(1), replicaJob: {} },
        }),
      (e: Error) =>
        e instanceof ConfigError && /ExternalId of eu-west-1\/users as text, not a token/.test(e.message),
    );
  });
});

test('each rule target’s input through the synthesized state machine and the real handler: exact counts, then the verify function’s own EMF line', async () => {
  const source = dynamoClient(endpoint);
  const nearClient = dynamoClient(endpoint, 'eu-west-1');
  const names: Names = {
    source: await createTestTable(source),
    near: await createTestTable(nearClient),
    far: '',
  };
  // The far replica lives in the account the role's session is (DynamoDB Local keeps one database
  // per access key): the proxy presents every request under the tests' key and records the signer.
  const sts = await startStsStandIn(3_600_000, { externalId: 'ext-42' });
  process.env.AWS_ENDPOINT_URL_STS = sts.endpoint;
  const farClient = dynamoClient(endpoint, 'ap-southeast-2');
  names.far = await createTestTable(farClient);
  const proxy = await startFaultProxy(endpoint, { asAccessKey: LOCAL_CREDENTIALS.accessKeyId });

  const items = Array.from({ length: 120 }, (_, i) => ({ id: { S: `k${i}` }, v: { N: String(i) } }));
  await putItems(source, names.source, items);
  await putItems(farClient, names.far, items);
  // The near replica: k0..k2 missing, k3 and k4 different, x1 extraneous.
  await putItems(nearClient, names.near, items.slice(3));
  for (const id of ['k3', 'k4'])
    await nearClient.send(
      new PutItemCommand({ TableName: names.near, Item: { id: { S: id }, v: { N: '-1' } } }),
    );
  await nearClient.send(
    new PutItemCommand({ TableName: names.near, Item: { id: { S: 'x1' }, v: { N: '0' } } }),
  );

  const bucket = await s3server.createBucket();
  // The job folders in the test's bucket (a bucket the construct makes has no name before deployment).
  const { template } = build(names, {
    verify: {
      every: Duration.hours(6),
      settle: Duration.seconds(1),
      replicaJob: {
        segments: 3,
        maxConcurrency: 2,
        workBucket: s3.Bucket.fromBucketName(new Stack(), 'W', bucket),
      },
    },
  });
  const inputs = (rules(template)[0]?.Properties.Targets ?? []).map(
    (t) => JSON.parse(cfnText(t.Input)) as { params: { replica: string } },
  );
  assert.equal(inputs.length, 2);
  assert.equal(inputs[1]?.params.replica, `ap-southeast-2/${names.far}?role=${ROLE}&external-id=ext-42`);

  const cached = cachedJobEnvironment({
    client: { credentials: LOCAL_CREDENTIALS },
    store: {
      s3: { endpoint: s3server.endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    },
  });
  // AWS regions are DynamoDB Local's databases of that name here (the source's: the function's
  // region, us-east-1); a location with a role goes through the proxy, identity unchanged.
  const env: JobEnvironment = {
    openTable: (location) => {
      const loc = parseTableLocation(location);
      assert.equal(loc.kind, 'aws');
      return cached.openTable(
        formatTableLocation({
          kind: 'endpoint',
          endpoint: loc.identity ? proxy.endpoint : endpoint,
          region: loc.region ?? 'us-east-1',
          table: loc.table,
          ...(loc.identity ? { identity: loc.identity } : {}),
        }),
      );
    },
    openStore: (location) => cached.openStore(location),
  };
  const NOW = 1_790_000_000_000;
  const lines: string[] = [];
  const handler = createScanJobHandler(env, {
    metrics: (line) => lines.push(line),
    metricsNamespace: 'DynamoDBReplicator',
    now: () => NOW,
  });
  const fnId = Object.keys(template.findResources('AWS::Lambda::Function')).find((id) =>
    id.includes('VerifyReplicaJobFunction'),
  );
  const interpreter = new AslInterpreter({
    [`{${fnId}.Arn}`]: (payload) => handler(payload, { getRemainingTimeInMillis: () => 15 * 60_000 }),
  });
  const machine = stateMachineDefinition<Machine>(template);
  type Output = { merge: { result: { discrepancies: unknown; scanned: unknown; settled: number } } };
  try {
    const near = (await interpreter.run(machine, inputs[0], 'near-1')) as Output;
    assert.deepEqual(near.merge.result.scanned, { primary: 120, replica: 118 });
    assert.deepEqual(near.merge.result.discrepancies, { missing: 3, different: 2, extraneous: 1, total: 6 });
    assert.equal(near.merge.result.settled, 0);
    const far = (await interpreter.run(machine, inputs[1], 'far-1')) as Output;
    assert.deepEqual(far.merge.result.scanned, { primary: 120, replica: 120 });
    assert.deepEqual(far.merge.result.discrepancies, { missing: 0, different: 0, extraneous: 0, total: 0 });
  } finally {
    cached.close();
  }
  // The far replica was read only with the role's session, assumed with its ExternalId.
  assert.deepEqual(
    sts.calls.map((c) => [c.roleArn, c.externalId, c.signedBy]),
    [[ROLE, 'ext-42', LOCAL_CREDENTIALS.accessKeyId]],
  );
  assert.deepEqual(Object.keys(proxy.signedBy), [sts.accessKeyId(1)]);

  // The verify function's line for the same pairs, at the same moment: the job's must equal it.
  const verifyLines: string[] = [];
  const verify = createVerifyHandler(
    {
      sourceTable: names.source,
      replicas: [
        {
          table: names.near,
          location: { kind: 'aws', region: 'eu-west-1' },
          label: `eu-west-1/${names.near}`,
        },
        {
          table: names.far,
          location: { kind: 'aws', region: 'ap-southeast-2' },
          label: `ap-southeast-2/${names.far}`,
        },
      ],
      settleSeconds: 0,
      logLevel: 'error',
    },
    {
      sourceClient: () => source,
      replicaClient: (r) => (r.table === names.near ? nearClient : farClient),
      metrics: (line) => verifyLines.push(line),
      logger: createLogger({ level: 'error', write: () => undefined }),
      now: () => NOW,
    },
  );
  await verify();
  assert.equal(lines.length, 2);
  for (const line of lines) assertValidEmf(JSON.parse(line));
  assert.deepEqual(lines, verifyLines);
  const [nearLine, farLine] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(nearLine?.SourceTable, names.source);
  assert.equal(nearLine?.ReplicaTable, `eu-west-1/${names.near}`);
  assert.equal(nearLine?.Discrepancies, 6);
  assert.equal(nearLine?.VerifiedAt, NOW / 1000);
  assert.equal(farLine?.ReplicaTable, `ap-southeast-2/${names.far}`);
  assert.equal(farLine?.Discrepancies, 0);
  assert.equal(farLine?.VerifiedAt, NOW / 1000);
});

test('a diff job’s settle re-check clears a difference repaired while it waits; without labels its merge publishes nothing; settleMs is bounded', async () => {
  const source = dynamoClient(endpoint);
  const replica = dynamoClient(endpoint, 'eu-west-1');
  const [primaryTable, replicaTable] = [await createTestTable(source), await createTestTable(replica)];
  const items = Array.from({ length: 40 }, (_, i) => ({ id: { S: `k${i}` }, v: { N: String(i) } }));
  await putItems(source, primaryTable, items);
  await putItems(replica, replicaTable, items.slice(1));
  await replica.send(
    new PutItemCommand({ TableName: replicaTable, Item: { id: { S: 'k7' }, v: { N: '-7' } } }),
  );
  // A change in flight cannot be timed against the slice's wait on a real table: this hook (on the
  // job's replica client only) lands the replication of k7 right after the first re-read saw it
  // differ, so the settle re-read finds k7 equal and k0 still missing.
  const jobReplica = dynamoClient(endpoint, 'eu-west-1');
  let landed = false;
  jobReplica.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      if (context.commandName === 'BatchGetItemCommand' && !landed) {
        landed = true;
        await replica.send(new PutItemCommand({ TableName: replicaTable, Item: items[7] as never }));
      }
      return out;
    },
    { step: 'initialize', name: 'landReplicationOfK7' },
  );
  const work = `s3://${await s3server.createBucket()}/jobs`;
  const store = cachedJobEnvironment({
    store: {
      s3: { endpoint: s3server.endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    },
  });
  const env: JobEnvironment = {
    openTable: (location) =>
      location === primaryTable
        ? { client: source, table: primaryTable, label: primaryTable }
        : { client: jobReplica, table: replicaTable, label: `eu-west-1/${replicaTable}` },
    openStore: (location) => store.openStore(location),
  };
  const lines: string[] = [];
  const handler = createScanJobHandler(env, { metrics: (line) => lines.push(line) });
  const params = {
    primary: primaryTable,
    replica: `eu-west-1/${replicaTable}`,
    repair: false,
    settleMs: 200,
  };
  try {
    await assert.rejects(
      handler({ action: 'plan', work, kind: 'diff', params: { ...params, settleMs: 30_001 }, segments: 1 }),
      (e: Error) => e.name === 'UsageError' && /"settleMs" must be at most 30000, got 30001/.test(e.message),
    );
    await handler({ action: 'plan', work, kind: 'diff', params, segments: 1, jobId: 'by-hand' });
    const slice = (await handler({ action: 'slice', work, jobId: 'by-hand', segment: 0 })) as {
      done: boolean;
    };
    assert.equal(slice.done, true);
    const merged = (await handler({ action: 'merge', work, jobId: 'by-hand' })) as unknown as {
      result: { discrepancies: unknown; settled: number; rechecked: number };
    };
    assert.equal(landed, true);
    assert.equal(merged.result.rechecked, 2);
    assert.equal(merged.result.settled, 1);
    assert.deepEqual(merged.result.discrepancies, { missing: 1, different: 0, extraneous: 0, total: 1 });
    assert.deepEqual(lines, []);
  } finally {
    store.close();
  }
});
