import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactUrls } from '../../src/core/redact.js';
import { ConfigError, ServiceError, UsageError } from '../../src/core/errors.js';
import { parseServiceLocation, parseTableLocation } from '../../src/core/location.js';
import { readReplicateConfig } from '../../src/lambda/config.js';
import { createLogger } from '../../src/lambda/log.js';

const SECRET = 'S3CRETpw';

test('redactUrls replaces the userinfo of every URL, with or without a scheme', () => {
  const cases: [string, string][] = [
    [`http://u:${SECRET}@h:1/table`, 'http://***@h:1/table'],
    [`https://${SECRET}@host`, 'https://***@host'],
    [
      `see "http://u:${SECRET}@h:1" and s3://k:${SECRET}@bucket/p`,
      'see "http://***@h:1" and s3://***@bucket/p',
    ],
    // WHATWG URL reads the userinfo up to the last @ of the authority.
    [`http://u:p@${SECRET}@h/x`, 'http://***@h/x'],
    [`u:${SECRET}@localhost:8000/users`, '***@localhost:8000/users'],
    [`{"message":"bad \\"u:${SECRET}@h:1/t\\""}`, '{"message":"bad \\"***@h:1/t\\""}'],
    // Nothing to redact: the text comes back unchanged.
    ['http://localhost:8000/users?region=r', 'http://localhost:8000/users?region=r'],
    [
      'mail ann@example.com about arn:aws:iam::123456789012:role/a@b',
      'mail ann@example.com about arn:aws:iam::123456789012:role/a@b',
    ],
    ['https://host/path/a@b', 'https://host/path/a@b'],
  ];
  for (const [input, expected] of cases) assert.equal(redactUrls(input), expected, input);
});

test('every error of the toolkit redacts credentials from its message and stack', () => {
  for (const E of [UsageError, ConfigError, ServiceError]) {
    const e = new E(`cannot reach http://admin:${SECRET}@db:8000`);
    assert.equal(e.message, 'cannot reach http://***@db:8000');
    assert.ok(!String(e.stack).includes(SECRET));
  }
});

test('location errors never echo the password they refuse', () => {
  for (const text of [`http://u:${SECRET}@localhost:8000/users`, `u:${SECRET}@localhost:8000/users`])
    assert.throws(
      () => parseTableLocation(text),
      (e: unknown) => e instanceof UsageError && !e.message.includes(SECRET) && e.message.includes('***@'),
    );
  assert.throws(
    () => parseServiceLocation(`http://u:${SECRET}@localhost:8000`),
    (e: unknown) => e instanceof UsageError && !e.message.includes(SECRET),
  );
});

test('Lambda config errors and log lines never carry a password in an endpoint', () => {
  for (const env of [
    { ReplicaTable: 'users', ReplicaEndpoint: `http://u:${SECRET}@h:1` },
    { Replicas: JSON.stringify([{ table: 'users', endpoint: `http://u:${SECRET}@h:1` }]) },
    { ReplicaTable: 'users', ReplicaRegion: 'eu-west-1', ReadThrough: `http://u:${SECRET}@h:1` },
  ]) {
    let error: unknown;
    assert.throws(
      () => readReplicateConfig(env),
      (e: unknown) => ((error = e), e instanceof ConfigError),
    );
    const message = (error as Error).message;
    assert.ok(!message.includes(SECRET), message);
    assert.match(message, /\*\*\*@h:1/);
  }
  // A JSON mistake just after the endpoint: the parser's message would quote the end of the password.
  assert.throws(
    () => readReplicateConfig({ Replicas: `[{"endpoint":"http://u:${SECRET}@h:1", "table": users}]` }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message ===
        `Replicas must be a JSON list of {"table", "region"?, "endpoint"?, "roleArn"?, "externalId"?}: Unexpected token 'u'`,
  );
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', write: (l) => lines.push(l) });
  log.error(`PUT to https://k:${SECRET}@s3.local/b failed`, {
    error: new Error(`connect ECONNREFUSED http://k:${SECRET}@s3.local`),
    endpoint: `http://k:${SECRET}@s3.local`,
  });
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
  assert.equal(line.message, 'PUT to https://***@s3.local/b failed');
  assert.equal(line.endpoint, 'http://***@s3.local');
  assert.equal((line.error as { message: string }).message, 'connect ECONNREFUSED http://***@s3.local');
  assert.ok(!(lines[0] as string).includes(SECRET));
});
