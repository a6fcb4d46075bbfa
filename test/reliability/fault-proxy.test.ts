/**
 * The fault proxy itself (test/harness/fault-proxy.ts): each fault reaches the SDK as the real
 * service would send it, partial batches really forward the rest (DynamoDB Local ignores the
 * signature of the reduced body), counters count, and down() refuses connections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS } from '../../src/embedded/dynamodb-local.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { startFaultProxy } from '../harness/fault-proxy.js';
import { scanAll } from '../harness/table-items.js';

function viaProxy(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
}

test('throttle, status and drop faults reach the SDK as the service would send them', async () => {
  const endpoint = await dynamoEndpoint();
  const table = await createTestTable(dynamoClient(endpoint));
  const proxy = await startFaultProxy(endpoint, { seed: 7 });
  const client = viaProxy(proxy.endpoint);
  const put = () => client.send(new PutItemCommand({ TableName: table, Item: { id: { S: 'a' } } }));
  proxy.setRules([
    { operation: 'PutItem', fault: { kind: 'throttle', error: 'ProvisionedThroughputExceededException' } },
  ]);
  await assert.rejects(put, { name: 'ProvisionedThroughputExceededException' });
  proxy.setRules([{ operation: 'PutItem', fault: { kind: 'throttle', error: 'ThrottlingException' } }]);
  await assert.rejects(put, { name: 'ThrottlingException' });
  proxy.setRules([{ operation: 'PutItem', fault: { kind: 'status', status: 503 } }]);
  await assert.rejects(
    put,
    (e: Error & { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 503,
  );
  proxy.setRules([{ operation: 'PutItem', fault: { kind: 'drop' } }]);
  await assert.rejects(put);
  proxy.setRules([{ operation: 'GetItem', fault: { kind: 'delay', ms: 300 } }]);
  const started = Date.now();
  await client.send(new GetItemCommand({ TableName: table, Key: { id: { S: 'a' } } }));
  assert.ok(Date.now() - started >= 290);
  assert.deepEqual(
    {
      throttle: proxy.injected('throttle'),
      status: proxy.injected('status'),
      drop: proxy.injected('drop'),
      delay: proxy.injected('delay'),
    },
    { throttle: 2, status: 1, drop: 1, delay: 1 },
  );
  assert.equal((await scanAll(dynamoClient(endpoint), table)).length, 0, 'no faulted put reached the table');
  // A retrying client rides a 30% throttle out (the SDK backs off 500 ms+ per throttle).
  proxy.setRules([
    { operation: 'PutItem', probability: 0.3, fault: { kind: 'throttle', error: 'ThrottlingException' } },
  ]);
  const retrying = new DynamoDBClient({
    endpoint: proxy.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 20,
  });
  for (let i = 0; i < 10; i++)
    await retrying.send(new PutItemCommand({ TableName: table, Item: { id: { S: `r${i}` } } }));
  assert.ok(proxy.injected('throttle') > 2);
  assert.equal((await scanAll(dynamoClient(endpoint), table)).length, 10);
  client.destroy();
  retrying.destroy();
});

test('partial batches: the rest is written/read, the held part comes back unprocessed', async () => {
  const endpoint = await dynamoEndpoint();
  const table = await createTestTable(dynamoClient(endpoint));
  const proxy = await startFaultProxy(endpoint, { seed: 3 });
  const client = viaProxy(proxy.endpoint);
  proxy.setRules([{ operation: /^Batch/, fault: { kind: 'unprocessed', fraction: 0.4 } }]);
  const items = Array.from({ length: 25 }, (_, i) => ({ id: { S: `k${i}` } }));
  const out = await client.send(
    new BatchWriteItemCommand({ RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item } })) } }),
  );
  const held = out.UnprocessedItems?.[table]?.length ?? 0;
  assert.ok(held > 0 && held < 25, `some but not all held (${held})`);
  assert.equal(proxy.counts.unprocessedEntries, held);
  assert.equal(
    (await scanAll(dynamoClient(endpoint), table)).length,
    25 - held,
    'the reduced body was applied',
  );
  const got = await client.send(
    new BatchGetItemCommand({ RequestItems: { [table]: { Keys: items.map((i) => ({ id: i.id })) } } }),
  );
  const read = got.Responses?.[table]?.length ?? 0;
  const unread = got.UnprocessedKeys?.[table]?.Keys?.length ?? 0;
  assert.ok(unread > 0, 'some keys held back');
  assert.ok(read + unread <= 25 && read + unread >= 25 - held);
  client.destroy();
});

test('down() refuses connections and up() accepts them again on the same port', async () => {
  const endpoint = await dynamoEndpoint();
  const table = await createTestTable(dynamoClient(endpoint));
  const proxy = await startFaultProxy(endpoint);
  const client = viaProxy(proxy.endpoint);
  await client.send(new GetItemCommand({ TableName: table, Key: { id: { S: 'x' } } }));
  await proxy.down();
  await assert.rejects(
    client.send(new GetItemCommand({ TableName: table, Key: { id: { S: 'x' } } })),
    /ECONNREFUSED/,
  );
  await proxy.up();
  await client.send(new GetItemCommand({ TableName: table, Key: { id: { S: 'x' } } }));
  assert.equal(proxy.counts.down, 1);
  client.destroy();
});
