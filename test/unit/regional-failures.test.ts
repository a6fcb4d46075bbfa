import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NetworkTimeoutError, UsageError } from '../../src/core/errors.js';
import {
  createRegionalClient,
  failureMessage,
  isMemberFailure,
  type RegionalClientOptions,
} from '../../src/dynamodb/regional-client.js';

function sdkError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), { name }, extra);
}

describe('isMemberFailure', () => {
  it('fails over on network errors, deadlines, 5xx, throttling and missing credentials', () => {
    const failures = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      Object.assign(new Error('getaddrinfo ENOTFOUND db.example'), { code: 'ENOTFOUND' }),
      new NetworkTimeoutError('GetItem at member "a" passed its deadline of 3000 ms'),
      sdkError('TimeoutError'),
      sdkError('AbortError'),
      sdkError('InternalServerError', { $fault: 'server', $metadata: { httpStatusCode: 500 } }),
      sdkError('ServiceUnavailable', { $metadata: { httpStatusCode: 503 } }),
      sdkError('ProvisionedThroughputExceededException', { $metadata: { httpStatusCode: 400 } }),
      sdkError('ThrottlingException', { $metadata: { httpStatusCode: 400 } }),
      sdkError('RequestLimitExceeded', { $metadata: { httpStatusCode: 400 } }),
      sdkError('CredentialsProviderError'),
    ];
    assert.deepEqual(
      failures.map((e) => [e.name, isMemberFailure(e)]),
      failures.map((e) => [e.name, true]),
    );
  });

  it('passes the member answers through: conditions, validation, missing tables, access', () => {
    const answers = [
      'ConditionalCheckFailedException',
      'ValidationException',
      'ResourceNotFoundException',
      'TransactionCanceledException',
      'AccessDeniedException',
      'ItemCollectionSizeLimitExceededException',
    ].map((name) => sdkError(name, { $fault: 'client', $metadata: { httpStatusCode: 400 } }));
    assert.deepEqual(
      answers.map((e) => [e.name, isMemberFailure(e)]),
      answers.map((e) => [e.name, false]),
    );
  });
});

describe('failureMessage', () => {
  it('names the member and the operation, never a password inside a URL', () => {
    const error = Object.assign(new Error('proxy http://admin:s3cr3t-pw@10.0.0.1:8000 refused'), {
      code: 'ECONNREFUSED',
    });
    const message = failureMessage(error, 'Query', 'eu');
    assert.equal(
      message,
      'DynamoDB Query at member "eu" failed: Error: proxy http://***@10.0.0.1:8000 refused',
    );
  });

  it('keeps a deadline as it was said', () => {
    const message = failureMessage(
      new NetworkTimeoutError('Scan at member "a" passed its deadline of 5 ms'),
      'Scan',
      'a',
    );
    assert.equal(message, 'Scan at member "a" passed its deadline of 5 ms');
  });
});

describe('createRegionalClient options', () => {
  const base: RegionalClientOptions = {
    members: ['eu-west-1/users', 'us-east-1/users'],
    home: 'us-east-1/users',
  };

  it('refuses out-of-range deadlines, probe settings and breaker thresholds before creating anything', () => {
    const cases: [Partial<RegionalClientOptions>, RegExp][] = [
      [{ deadlineMs: 0 }, /^deadlineMs must be a positive number of milliseconds \(got 0\)$/],
      [{ deadlineMs: -5 }, /^deadlineMs must be a positive number of milliseconds \(got -5\)$/],
      [
        { probe: { intervalMs: -1 } },
        /^probe\.intervalMs must be a positive number of milliseconds \(got -1\)$/,
      ],
      [{ probe: { deadlineMs: Number.NaN } }, /^probe\.deadlineMs must be .*\(got NaN\)$/],
      [
        { breaker: { failureThreshold: -1 } },
        /^breaker\.failureThreshold must be a whole number of at least 1 \(got -1\)$/,
      ],
      [{ members: [] }, /^members: at least one member is required$/],
    ];
    for (const [override, message] of cases)
      assert.throws(
        () => createRegionalClient({ ...base, ...override }),
        (e: unknown) => e instanceof UsageError && message.test(e.message),
        String(message),
      );
  });

  it('names its members and write member; close() twice is harmless', () => {
    const client = createRegionalClient({ ...base, probe: false });
    assert.deepEqual(client.members, ['eu-west-1/users', 'us-east-1/users']);
    assert.equal(client.writeMember, 'us-east-1/users');
    assert.equal(client.mode, 'one-way');
    assert.throws(
      () => client.member('nowhere'),
      /"nowhere" is not a member \(members: eu-west-1\/users, us-east-1\/users\)/,
    );
    client.close();
    client.close();
  });
});
