import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_NETWORK,
  endpointOrigin,
  isNetworkTimeout,
  networkClientConfig,
  timeoutDetail,
} from '../../src/core/network.js';
import { networkFromEnv } from '../../src/cli/network.js';

test('every client kind gets a connection deadline; only api calls a whole-request one', () => {
  assert.deepEqual(DEFAULT_NETWORK, {
    connectTimeoutMs: 5_000,
    idleTimeoutMs: 15_000,
    requestTimeoutMs: 60_000,
    maxAttempts: 6,
  });
  assert.deepEqual(networkClientConfig(), {
    maxAttempts: 6,
    retryMode: 'standard',
    requestHandler: {
      connectionTimeout: 5_000,
      socketTimeout: 15_000,
      requestTimeout: 60_000,
      throwOnRequestTimeout: true,
    },
  });
  assert.deepEqual(networkClientConfig({ idleTimeoutMs: 700, maxAttempts: 2 }, 'bulk'), {
    maxAttempts: 2,
    retryMode: 'standard',
    requestHandler: { connectionTimeout: 5_000, socketTimeout: 700 },
  });
  assert.deepEqual(networkClientConfig({ idleTimeoutMs: 700 }, 'download').requestHandler, {
    connectionTimeout: 5_000,
    requestTimeout: 700,
    throwOnRequestTimeout: true,
  });
});

test('endpoints in messages keep scheme, host and port, never userinfo, path or query', () => {
  assert.equal(
    endpointOrigin('https://user:secret@s3.example.com:9000/path?x=1'),
    'https://s3.example.com:9000',
  );
  assert.equal(endpointOrigin('localhost:8000'), 'http://localhost:8000');
  assert.equal(endpointOrigin('http://[::1]:4566'), 'http://[::1]:4566');
  assert.equal(endpointOrigin('http://exa mple'), 'an endpoint');
});

test('timeouts are told apart from resets, and described without the SDK prefix', () => {
  const timeout = (message: string, extra: object = {}) =>
    Object.assign(new Error(message), { name: 'TimeoutError' }, extra);
  const idle = timeout(
    '@smithy/node-http-handler - the request socket timed out after 500 ms of inactivity (configured by client requestHandler).',
    { $metadata: { attempts: 3 } },
  );
  assert.equal(isNetworkTimeout(idle), true);
  assert.equal(
    timeoutDetail(idle),
    'timed out after 3 attempts (the request socket timed out after 500 ms of inactivity)',
  );
  const whole = timeout(
    '@smithy/node-http-handler - [ERROR] a request has exceeded the configured 2000 ms requestTimeout.',
    { code: 'ETIMEDOUT' },
  );
  assert.equal(isNetworkTimeout(whole), true);
  assert.equal(
    timeoutDetail(whole),
    'timed out (a request has exceeded the configured 2000 ms requestTimeout)',
  );
  assert.equal(isNetworkTimeout(timeout('socket hang up', { code: 'ECONNRESET' })), false);
  assert.equal(isNetworkTimeout(timeout('write EPIPE', { code: 'EPIPE' })), false);
  assert.equal(isNetworkTimeout(new Error('other')), false);
});

test('the CLI reads the deadlines from its environment and names a bad variable', () => {
  assert.deepEqual(networkFromEnv({}), {});
  assert.deepEqual(
    networkFromEnv({
      DYNAMODB_REPLICATOR_CONNECT_TIMEOUT: '250ms',
      DYNAMODB_REPLICATOR_IDLE_TIMEOUT: '2s',
      DYNAMODB_REPLICATOR_REQUEST_TIMEOUT: '1m',
      AWS_MAX_ATTEMPTS: '3',
    }),
    { connectTimeoutMs: 250, idleTimeoutMs: 2_000, requestTimeoutMs: 60_000, maxAttempts: 3 },
  );
  assert.throws(() => networkFromEnv({ DYNAMODB_REPLICATOR_CONNECT_TIMEOUT: '0' }), {
    name: 'ConfigError',
    message: 'DYNAMODB_REPLICATOR_CONNECT_TIMEOUT must be a duration such as 500ms, 5s or 1m, got "0"',
  });
  assert.throws(() => networkFromEnv({ AWS_MAX_ATTEMPTS: '0' }), {
    name: 'ConfigError',
    message: 'AWS_MAX_ATTEMPTS must be a whole number from 1 to 100, got "0"',
  });
});
