import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListTablesCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { startLocalS3 } from '../harness/s3.js';
import { PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';

test('DynamoDB Local answers and creates tables with streams', async () => {
  const client = dynamoClient(await dynamoEndpoint());
  const name = await createTestTable(client, {
    range: { name: 'range', type: 'N' },
    stream: 'NEW_AND_OLD_IMAGES',
  });
  // ListTables answers 100 names a page and the shared server holds every test's tables: page on.
  const names: string[] = [];
  let start: string | undefined;
  do {
    const page = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    names.push(...(page.TableNames ?? []));
    start = page.LastEvaluatedTableName;
  } while (start !== undefined);
  assert.ok(names.includes(name), `${name} among ${names.length} tables`);
  const d = await client.send(new DescribeTableCommand({ TableName: name }));
  assert.equal(d.Table?.StreamSpecification?.StreamViewType, 'NEW_AND_OLD_IMAGES');
  assert.equal(d.Table?.KeySchema?.length, 2);
});

test('the S3 server stores and returns objects', async () => {
  const s3 = await startLocalS3();
  const bucket = await s3.createBucket();
  await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/b.txt', Body: 'hello' }));
  const got = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: 'a/b.txt' }));
  assert.equal(await got.Body?.transformToString(), 'hello');
});
