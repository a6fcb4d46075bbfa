import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateTableCommand, DescribeTableCommand, type TableDescription } from '@aws-sdk/client-dynamodb';
import { KeySchemaMismatchError, NotFoundError, UsageError } from '../../src/core/errors.js';
import {
  assertSameKeySchema,
  createTableFromDescription,
  createTableInput,
  describeTable,
  keySchemaFromDescription,
  listTables,
  waitUntilActive,
} from '../../src/dynamodb/tables.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';

test('describeTable returns the key schema and stream; a missing table is a NotFoundError naming it and the endpoint', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint, 'eu-west-1');
  const name = await createTestTable(client, { range: { name: 'at', type: 'N' }, stream: 'NEW_IMAGE' });
  const info = await describeTable(client, name);
  assert.equal(info.name, name);
  assert.deepEqual(info.keySchema, { hash: { name: 'id', type: 'S' }, range: { name: 'at', type: 'N' } });
  assert.equal(info.streamViewType, 'NEW_IMAGE');
  assert.match(info.streamArn ?? '', /^arn:aws:dynamodb:/);
  assert.equal(info.itemCount, 0);
  assert.ok((await listTables(client)).includes(name));

  const error = await describeTable(client, 'no-such-table').then(
    () => assert.fail('expected NotFoundError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof NotFoundError);
  assert.match(
    error.message,
    /^Table "no-such-table" was not found at http:\/\/127\.0\.0\.1:\d+ \(region eu-west-1\)/,
  );
  assert.equal(error.userError, true);
  assert.ok(error.cause instanceof Error && error.cause.name === 'ResourceNotFoundException');
});

test('createTableFromDescription recreates a hash+range table with a GSI, an LSI and a stream', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const source = uniqueName('src');
  await client.send(
    new CreateTableCommand({
      TableName: source,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'N' },
        { AttributeName: 'gpk', AttributeType: 'S' },
        { AttributeName: 'lsk', AttributeType: 'B' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'by-gpk',
          KeySchema: [
            { AttributeName: 'gpk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['a', 'b'] },
          ProvisionedThroughput: { ReadCapacityUnits: 3, WriteCapacityUnits: 4 },
        },
      ],
      LocalSecondaryIndexes: [
        {
          IndexName: 'by-lsk',
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'lsk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      BillingMode: 'PROVISIONED',
      ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 7 },
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  await waitUntilActive(client, source);
  const described = (await describeTable(client, source)).description;
  // Through JSON, as an export file carries it: dates become strings, which must not matter.
  const fromFile = JSON.parse(JSON.stringify(described)) as TableDescription;
  const target = uniqueName('copy');
  await createTableFromDescription(client, fromFile, target);

  const copy = (await client.send(new DescribeTableCommand({ TableName: target }))).Table;
  assert.ok(copy);
  assert.equal(copy.TableStatus, 'ACTIVE');
  assert.deepEqual(copy.KeySchema, described.KeySchema);
  assert.deepEqual(keySchemaFromDescription(copy), {
    hash: { name: 'pk', type: 'S' },
    range: { name: 'sk', type: 'N' },
  });
  const sortByName = <T extends { AttributeName?: string }>(a: T[] | undefined) =>
    [...(a ?? [])].sort((x, y) => (x.AttributeName ?? '').localeCompare(y.AttributeName ?? ''));
  assert.deepEqual(sortByName(copy.AttributeDefinitions), sortByName(described.AttributeDefinitions));
  assert.deepEqual(copy.StreamSpecification, { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
  assert.match(copy.LatestStreamArn ?? '', new RegExp(`table/${target}/stream/`));
  assert.equal(copy.ProvisionedThroughput?.ReadCapacityUnits, 5);
  assert.equal(copy.ProvisionedThroughput?.WriteCapacityUnits, 7);
  const gsi = copy.GlobalSecondaryIndexes?.[0];
  assert.equal(copy.GlobalSecondaryIndexes?.length, 1);
  assert.equal(gsi?.IndexName, 'by-gpk');
  assert.deepEqual(gsi?.KeySchema, described.GlobalSecondaryIndexes?.[0]?.KeySchema);
  assert.deepEqual(gsi?.Projection, { ProjectionType: 'INCLUDE', NonKeyAttributes: ['a', 'b'] });
  assert.equal(gsi?.ProvisionedThroughput?.ReadCapacityUnits, 3);
  assert.equal(gsi?.ProvisionedThroughput?.WriteCapacityUnits, 4);
  const lsi = copy.LocalSecondaryIndexes?.[0];
  assert.equal(lsi?.IndexName, 'by-lsk');
  assert.deepEqual(lsi?.Projection, { ProjectionType: 'KEYS_ONLY' });

  // Creating it again is a user error naming the table, not a silent success.
  await assert.rejects(
    createTableFromDescription(client, fromFile, target),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message.startsWith(`Table "${target}" at http://127.0.0.1:`) &&
      /already exists/.test(e.message),
  );
});

test('createTableInput strips read-only fields and converts the summaries of an AWS description', () => {
  const aws = {
    TableName: 'users',
    TableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/users',
    TableId: '0b1c',
    TableStatus: 'ACTIVE',
    CreationDateTime: '2024-01-01T00:00:00.000Z',
    ItemCount: 12,
    TableSizeBytes: 3400,
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    BillingModeSummary: {
      BillingMode: 'PAY_PER_REQUEST',
      LastUpdateToPayPerRequestDateTime: '2024-01-02T00:00:00Z',
    },
    ProvisionedThroughput: { NumberOfDecreasesToday: 0, ReadCapacityUnits: 0, WriteCapacityUnits: 0 },
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' },
    LatestStreamArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/users/stream/2024',
    LatestStreamLabel: '2024',
    SSEDescription: {
      Status: 'ENABLED',
      SSEType: 'KMS',
      KMSMasterKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/abcd',
    },
    TableClassSummary: {
      TableClass: 'STANDARD_INFREQUENT_ACCESS',
      LastUpdateDateTime: '2024-01-03T00:00:00Z',
    },
    DeletionProtectionEnabled: true,
    WarmThroughput: { ReadUnitsPerSecond: 12000, WriteUnitsPerSecond: 4000, Status: 'ACTIVE' },
    GlobalSecondaryIndexes: [
      {
        IndexName: 'g',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        Projection: { ProjectionType: 'ALL' },
        IndexStatus: 'ACTIVE',
        IndexSizeBytes: 1,
        ItemCount: 1,
        IndexArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/users/index/g',
        ProvisionedThroughput: { NumberOfDecreasesToday: 0, ReadCapacityUnits: 0, WriteCapacityUnits: 0 },
      },
    ],
  } as unknown as TableDescription;
  assert.deepEqual(createTableInput(aws, 'users-copy', 'eu-west-1'), {
    TableName: 'users-copy',
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
    GlobalSecondaryIndexes: [
      {
        IndexName: 'g',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' },
    SSESpecification: {
      Enabled: true,
      SSEType: 'KMS',
      KMSMasterKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/abcd',
    },
    TableClass: 'STANDARD_INFREQUENT_ACCESS',
    DeletionProtectionEnabled: true,
  });
  // Another region cannot use that KMS key: the AWS managed key is used instead.
  assert.deepEqual(createTableInput(aws, 'users-copy', 'us-east-1').SSESpecification, {
    Enabled: true,
    SSEType: 'KMS',
  });
});

test('a description with a table class and KMS encryption is accepted by DynamoDB Local', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const source = await createTestTable(client);
  const described = (await describeTable(client, source)).description;
  const target = uniqueName('sse');
  await createTableFromDescription(
    client,
    {
      ...described,
      SSEDescription: { Status: 'ENABLED', SSEType: 'KMS', KMSMasterKeyArn: 'arn:aws:kms:us-east-1:1:key/x' },
      TableClassSummary: { TableClass: 'STANDARD_INFREQUENT_ACCESS' },
    },
    target,
  );
  const info = await describeTable(client, target);
  assert.deepEqual(info.keySchema, { hash: { name: 'id', type: 'S' } });
  assert.equal(info.description.TableStatus, 'ACTIVE');
});

test('assertSameKeySchema names both tables and their keys when they differ', () => {
  const a = { hash: { name: 'id', type: 'S' as const } };
  const b = { hash: { name: 'id', type: 'S' as const }, range: { name: 'at', type: 'N' as const } };
  assertSameKeySchema(a, { hash: { name: 'id', type: 'S' } }, ['source', 'replica']);
  assert.throws(
    () => assertSameKeySchema(a, b, ['us-east-1/users', 'eu-west-1/users']),
    (e: unknown) =>
      e instanceof KeySchemaMismatchError &&
      e.message ===
        'Key schemas differ: us-east-1/users has hash id (S), no range key; eu-west-1/users has hash id (S), range at (N)',
  );
  assert.throws(
    () => assertSameKeySchema(a, { hash: { name: 'id', type: 'N' } }, ['x', 'y']),
    KeySchemaMismatchError,
  );
});
