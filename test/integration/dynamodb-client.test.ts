import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListStreamsCommand } from '@aws-sdk/client-dynamodb-streams';
import { ConfigError, InvalidDataError, ServiceError } from '../../src/core/errors.js';
import { parseServiceLocation, parseTableLocation } from '../../src/core/location.js';
import { createDynamoClient } from '../../src/dynamodb/client.js';
import { createStreamsClient } from '../../src/streams/client.js';
import { scanItems } from '../../src/dynamodb/scan.js';
import { translateSdkError } from '../../src/dynamodb/sdk-errors.js';
import { describeTable, listTables } from '../../src/dynamodb/tables.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { withEnv } from '../harness/env.js';

/** Nothing configured anywhere: no variables, no profile files, no instance metadata. */
const NO_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
  AWS_CONFIG_FILE: '/nonexistent/config',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
  AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
  AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
};

test('an endpoint location with no credentials configured uses the local credentials and us-east-1', async () => {
  const endpoint = await dynamoEndpoint();
  const table = await createTestTable(dynamoClient(endpoint, 'us-east-1'));
  const hostPort = endpoint.replace(/^http:\/\//, '');
  await withEnv(NO_CREDENTIALS, async () => {
    const client = createDynamoClient(parseTableLocation(`${hostPort}/${table}`));
    assert.equal(await client.config.region(), 'us-east-1');
    assert.deepEqual((await describeTable(client, table)).keySchema, { hash: { name: 'id', type: 'S' } });
    const streams = createStreamsClient(parseServiceLocation(endpoint));
    const listed = await streams.send(new ListStreamsCommand({}));
    assert.ok(Array.isArray(listed.Streams));
  });
});

test('an endpoint location uses credentials from the default chain when they exist, and its region', async () => {
  const endpoint = await dynamoEndpoint();
  const table = await createTestTable(dynamoClient(endpoint, 'ap-south-1'));
  // DynamoDB Local keeps one database per access key + region: other credentials see other tables.
  await withEnv(
    { ...NO_CREDENTIALS, AWS_ACCESS_KEY_ID: 'someoneelse', AWS_SECRET_ACCESS_KEY: 'x' },
    async () => {
      const other = createDynamoClient(parseServiceLocation(`${endpoint}?region=ap-south-1`));
      assert.equal(await other.config.region(), 'ap-south-1');
      assert.equal((await listTables(other)).includes(table), false);
    },
  );
  await withEnv(NO_CREDENTIALS, async () => {
    const local = createDynamoClient(parseServiceLocation(`${endpoint}?region=ap-south-1`));
    assert.equal((await listTables(local)).includes(table), true);
  });
});

test('an AWS location with no credentials anywhere fails with a ConfigError saying how to provide them', async () => {
  await withEnv(NO_CREDENTIALS, async () => {
    const client = createDynamoClient(parseTableLocation('eu-west-1/users'), { maxAttempts: 1 });
    const error = await describeTable(client, 'users').then(
      () => assert.fail('expected ConfigError'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(
      error.message,
      /No usable AWS credentials for DescribeTable on table "users" at region eu-west-1/,
    );
    assert.match(error.message, /AWS_ACCESS_KEY_ID/);
  });
});

test('a request DynamoDB rejects as invalid is an InvalidDataError naming the table', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const table = await createTestTable(client);
  await assert.rejects(scanItems(client, { table, pageSize: 0 }).next(), (e: unknown) => {
    assert.ok(e instanceof InvalidDataError);
    assert.match(
      e.message,
      new RegExp(`^DynamoDB rejected Scan on table "${table}" at http://127\\.0\\.0\\.1:\\d+`),
    );
    assert.equal((e.cause as Error).name, 'ValidationException');
    return true;
  });
});

test('other SDK errors become ServiceErrors that keep the cause', () => {
  const cause = Object.assign(new Error('We encountered an internal error'), { name: 'InternalServerError' });
  const error = translateSdkError(cause, { action: 'Scan', table: 't1', location: 'region eu-west-1' });
  assert.ok(error instanceof ServiceError);
  assert.equal(
    error.message,
    'DynamoDB Scan on table "t1" at region eu-west-1 failed: InternalServerError: We encountered an internal error',
  );
  assert.equal(error.cause, cause);
  // With no table: "ListTables at <where>", and a message's own final period is not doubled.
  const untabled = translateSdkError(
    Object.assign(new Error('Try again later.'), { name: 'InternalServerError' }),
    {
      action: 'ListTables',
      location: 'http://127.0.0.1:8000 (region us-east-1)',
    },
  );
  assert.equal(
    untabled.message,
    'DynamoDB ListTables at http://127.0.0.1:8000 (region us-east-1) failed: InternalServerError: Try again later',
  );
  const credentials = translateSdkError(
    Object.assign(new Error('The security token included in the request is invalid.'), {
      name: 'UnrecognizedClientException',
    }),
    { action: 'ListTables', location: 'region eu-west-1' },
  );
  assert.match(
    credentials.message,
    /^No usable AWS credentials for ListTables at region eu-west-1: The security token included in the request is invalid\. Provide/,
  );
  const already = new InvalidDataError('mine');
  assert.equal(translateSdkError(already, { action: 'Scan' }), already);
});
