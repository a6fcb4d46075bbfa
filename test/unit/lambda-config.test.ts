import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readReplicateConfig, type Env } from '../../src/lambda/config.js';
import { readBackupConfig } from '../../src/lambda/backup.js';
import { ConfigError } from '../../src/core/errors.js';
import { batchResponse } from '../../src/lambda/batch-response.js';
import { createLogger } from '../../src/lambda/log.js';
import { tableOfStreamArn } from '../../src/core/change-sources.js';

function configError(env: Env, pattern: RegExp): void {
  assert.throws(
    () => readReplicateConfig(env),
    (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
  );
}

test('the old variables: one replica in a region, with static credentials', () => {
  const c = readReplicateConfig({
    ReplicaTable: 'users-replica',
    ReplicaRegion: 'eu-west-1',
    ReplicaAccessKeyId: 'AKIA',
    ReplicaSecretAccessKey: 'secret',
    TurnoverRole: 'after',
    TurnoverAt: '1700000000000',
  });
  assert.deepEqual(c.replicas, [
    {
      table: 'users-replica',
      location: { kind: 'aws', region: 'eu-west-1' },
      credentials: { accessKeyId: 'AKIA', secretAccessKey: 'secret' },
      label: 'eu-west-1/users-replica',
    },
  ]);
  assert.deepEqual(c.turnover, { role: 'AFTER', at: 1_700_000_000_000 });
  assert.equal(c.concurrency, 8);
  assert.equal(c.logLevel, 'info');
  assert.equal(c.readThrough, undefined);
});

test('defaults: the function region; an endpoint; a role; several replicas; read-through', () => {
  const c = readReplicateConfig({
    AWS_REGION: 'us-west-2',
    ReplicaTable: 'rep1',
    ReplicaRoleArn: 'arn:aws:iam::123456789012:role/replicator',
    ReplicaExternalId: 'ext-1',
    Replicas: JSON.stringify([
      {
        table: 'rep2',
        region: 'ap-south-1',
        roleArn: 'arn:aws:iam::210987654321:role/writer',
        externalId: 'ext-2',
      },
      { table: 'rep3', endpoint: 'localhost:8000' },
    ]),
    ReadThrough: 'true',
    ApplyConcurrency: '16',
    AWS_LAMBDA_LOG_LEVEL: 'DEBUG',
  });
  assert.deepEqual(
    c.replicas.map((r) => [r.label, r.roleArn, r.externalId]),
    [
      ['us-west-2/rep1', 'arn:aws:iam::123456789012:role/replicator', 'ext-1'],
      ['ap-south-1/rep2', 'arn:aws:iam::210987654321:role/writer', 'ext-2'],
      ['http://localhost:8000/rep3', undefined, undefined],
    ],
  );
  assert.deepEqual(c.replicas[2]?.location, {
    kind: 'endpoint',
    endpoint: 'http://localhost:8000',
    region: 'us-west-2',
  });
  assert.deepEqual(c.readThrough, { kind: 'source-region' });
  assert.equal(c.concurrency, 16);
  assert.equal(c.logLevel, 'debug');
  const e = readReplicateConfig({
    ReplicaTable: 'rep1',
    ReplicaEndpoint: 'http://127.0.0.1:8000',
    ReadThrough: 'http://127.0.0.1:8000?region=xx',
  });
  assert.deepEqual(e.replicas[0]?.location, { kind: 'endpoint', endpoint: 'http://127.0.0.1:8000' });
  assert.deepEqual(e.readThrough, { kind: 'endpoint', endpoint: 'http://127.0.0.1:8000', region: 'xx' });
});

test('every bad variable is named', () => {
  configError({}, /^ReplicaTable is not set/);
  configError({ ReplicaTable: 'rep1' }, /^ReplicaRegion is not set \(and neither is AWS_REGION\)/);
  configError({ ReplicaTable: 'rep1', ReplicaRegion: 'mars' }, /^ReplicaRegion must be an AWS region/);
  configError(
    { ReplicaTable: 'x', ReplicaRegion: 'eu-west-1' },
    /^ReplicaTable: table name "x" must be 3 to 255/,
  );
  configError({ ReplicaTable: 'rep1', ReplicaEndpoint: 'eu-west-1' }, /^ReplicaEndpoint must be an endpoint/);
  configError(
    { ReplicaTable: 'rep1', ReplicaEndpoint: 'nonsense' },
    /^ReplicaEndpoint: invalid region or endpoint/,
  );
  configError(
    { ReplicaTable: 'rep1', AWS_REGION: 'eu-west-1', ReplicaAccessKeyId: 'a' },
    /^ReplicaSecretAccessKey is not set, but ReplicaAccessKeyId is/,
  );
  configError(
    { ReplicaTable: 'rep1', AWS_REGION: 'eu-west-1', ReplicaSecretAccessKey: 'a' },
    /^ReplicaAccessKeyId is not set/,
  );
  configError(
    { ReplicaTable: 'rep1', AWS_REGION: 'eu-west-1', ReplicaRoleArn: 'replicator' },
    /^ReplicaRoleArn must be an IAM role ARN/,
  );
  configError(
    { ReplicaTable: 'rep1', AWS_REGION: 'eu-west-1', ReplicaExternalId: 'ext-1' },
    /^ReplicaExternalId is set, but ReplicaRoleArn is not: an ExternalId needs a role$/,
  );
  configError(
    {
      ReplicaTable: 'rep1',
      AWS_REGION: 'eu-west-1',
      ReplicaRoleArn: 'arn:aws:iam::123456789012:role/replicator',
      ReplicaExternalId: 'has space',
    },
    /^ReplicaExternalId must be 2 to 1224 letters, digits or \+=,\.@:\/- characters$/,
  );
  configError(
    { AWS_REGION: 'eu-west-1', Replicas: '[{"table":"r22","externalId":"abc"}]' },
    /^Replicas\[0\]\.externalId is set, but Replicas\[0\]\.roleArn is not/,
  );
  configError(
    { ReplicaTable: 'rep1', AWS_REGION: 'eu-west-1', TurnoverRole: 'DURING', TurnoverAt: '1' },
    /^TurnoverRole must be one of BEFORE, AFTER, got "DURING"/,
  );
  configError(
    { ReplicaTable: 'rep1', AWS_REGION: 'eu-west-1', TurnoverRole: 'BEFORE' },
    /^TurnoverAt is not set, but TurnoverRole is/,
  );
  configError(
    { ReplicaTable: 'rep1', AWS_REGION: 'eu-west-1', TurnoverAt: '5' },
    /^TurnoverRole is not set, but TurnoverAt is/,
  );
  configError(
    { ReplicaTable: 'rep1', AWS_REGION: 'eu-west-1', TurnoverRole: 'AFTER', TurnoverAt: '1700000000.5' },
    /^TurnoverAt must be a whole number of epoch milliseconds of a date from 2012-01-01 to 2100-01-01, got "1700000000.5"$/,
  );
  configError({ AWS_REGION: 'eu-west-1', Replicas: '{"table":"r"}' }, /^Replicas must be a JSON list/);
  configError({ AWS_REGION: 'eu-west-1', Replicas: '[{"table":"r' }, /^Replicas must be a JSON list .*JSON/);
  configError(
    { AWS_REGION: 'eu-west-1', Replicas: '[{"region":"eu-west-1"}]' },
    /^Replicas\[0\]\.table is missing/,
  );
  configError(
    { AWS_REGION: 'eu-west-1', Replicas: '[{"table":"r22","regoin":"x"}]' },
    /^Replicas\[0\] has an unknown field "regoin"/,
  );
  configError(
    { AWS_REGION: 'eu-west-1', Replicas: '[{"table":"r22","roleArn":"x"}]' },
    /^Replicas\[0\]\.roleArn must be an IAM role ARN/,
  );
  configError(
    { AWS_REGION: 'eu-west-1', ReplicaTable: 'r22', Replicas: '[{"table":"r22"}]' },
    /replica eu-west-1\/r22 is listed twice/,
  );
  configError(
    { ReplicaTable: 'rep1', AWS_REGION: 'eu-west-1', ReadThrough: 'maybe' },
    /^ReadThrough must be true, a region or an endpoint/,
  );
  configError(
    { ReplicaTable: 'rep1', AWS_REGION: 'eu-west-1', ApplyConcurrency: '0' },
    /^ApplyConcurrency must be a whole number from 1 to 64/,
  );
  configError(
    { ReplicaTable: 'rep1', AWS_REGION: 'eu-west-1', LogLevel: 'loud' },
    /^LogLevel must be one of debug, info, warn, error/,
  );
});

test('batch responses never carry an empty identifier', () => {
  assert.deepEqual(batchResponse(undefined), { batchItemFailures: [] });
  assert.deepEqual(batchResponse('42'), { batchItemFailures: [{ itemIdentifier: '42' }] });
  assert.throws(() => batchResponse(''), /empty sequence number/);
});

test('log lines are JSON with the level filter and the child fields', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', write: (l) => lines.push(l) }).child({ correlationId: 'c1' });
  log.debug('hidden', { value: 'secret' });
  log.info('shown', { records: 3 });
  log.error('failed', { error: new Error('boom') });
  assert.equal(lines.length, 2);
  const [a, b] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual([a?.level, a?.message, a?.correlationId, a?.records], ['info', 'shown', 'c1', 3]);
  assert.deepEqual(b?.error, { name: 'Error', message: 'boom' });
  assert.equal(log.isDebug, false);
});

test('the source table of a stream ARN', () => {
  assert.deepEqual(
    tableOfStreamArn('arn:aws:dynamodb:eu-west-1:123456789012:table/users/stream/2026-01-01T00:00:00.000'),
    {
      region: 'eu-west-1',
      account: '123456789012',
      table: 'users',
    },
  );
  assert.throws(() => tableOfStreamArn('arn:aws:s3:::bucket'), /not a DynamoDB stream ARN/);
});

test('TurnoverAt in epoch seconds is refused, naming the variable and the milliseconds it likely meant', () => {
  const env = { ReplicaTable: 'rep1', AWS_REGION: 'eu-west-1', TurnoverRole: 'BEFORE' };
  assert.throws(() => readReplicateConfig({ ...env, TurnoverAt: '1767225700' }), {
    name: 'ConfigError',
    message:
      'TurnoverAt must be epoch milliseconds of a date from 2012-01-01 to 2100-01-01, got 1767225700: it looks like epoch seconds; in milliseconds that is 1767225700000 (2026-01-01T00:01:40.000Z)',
  });
  assert.throws(() => readBackupConfig({ BackupBucket: 'bucket', ...env, TurnoverAt: '1767225700' }), {
    name: 'ConfigError',
    message: /^TurnoverAt must be epoch milliseconds .*looks like epoch seconds/,
  });
  // The edges of the range are accepted; one millisecond outside is not.
  assert.equal(readReplicateConfig({ ...env, TurnoverAt: '1325376000000' }).turnover?.at, 1_325_376_000_000);
  assert.equal(readReplicateConfig({ ...env, TurnoverAt: '4102444800000' }).turnover?.at, 4_102_444_800_000);
  configError(
    { ...env, TurnoverAt: '1325375999999' },
    /^TurnoverAt must be epoch milliseconds .*, got 1325375999999$/,
  );
  configError(
    { ...env, TurnoverAt: '4102444800001' },
    /^TurnoverAt must be epoch milliseconds .*, got 4102444800001$/,
  );
  configError(
    { ...env, TurnoverAt: '1767225700000000' },
    /got 1767225700000000: it looks like epoch microseconds; in milliseconds that is 1767225700000$/,
  );
});
