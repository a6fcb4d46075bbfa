/**
 * The BatchWriteItem body written without the SDK's serializer must be exactly what DynamoDB's JSON
 * protocol expects: the integration tests write every kind of attribute through it against DynamoDB
 * Local; this pins the encoding of the values the wire spells differently from the item in memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { batchWriteBody, batchWriteCommand } from '../../src/dynamodb/batch-write-body.js';
import { awkwardItems } from '../harness/backup-fixtures.js';
import { setAttribute } from '../../src/core/attribute-map.js';
import type { Item } from '../../src/core/types.js';

test('binary values become base64 (Uint8Array, Buffer, views into a larger buffer); the rest is the item as it is', () => {
  const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
  const item: Item = {
    id: { S: 'k' },
    n: { N: '12345678901234567890123456789012345678' },
    b: { B: new Uint8Array([0, 255, 16]) },
    view: { B: backing.subarray(2, 5) },
    buf: { B: Buffer.from('hi') },
    bs: { BS: [new Uint8Array([1]), Buffer.from([2, 3])] },
    ns: { NS: ['1', '-0.5'] },
    m: { M: { l: { L: [{ NULL: true }, { BOOL: false }, { S: '' }] }, e: { M: {} } } },
  };
  setAttribute<Item[string]>(item, '__proto__', { S: 'proto' });
  const body = JSON.parse(
    batchWriteBody({
      RequestItems: { t: [{ PutRequest: { Item: item as never } }] },
      ReturnConsumedCapacity: 'TOTAL',
    }),
  ) as {
    RequestItems: { t: [{ PutRequest: { Item: Record<string, unknown> } }] };
    ReturnConsumedCapacity: string;
  };
  const sent = body.RequestItems.t[0].PutRequest.Item;
  assert.deepEqual(sent.b, { B: 'AP8Q' });
  assert.deepEqual(sent.view, { B: 'AQID' });
  assert.deepEqual(sent.buf, { B: 'aGk=' });
  assert.deepEqual(sent.bs, { BS: ['AQ==', 'AgM='] });
  assert.deepEqual(sent.n, { N: '12345678901234567890123456789012345678' });
  assert.deepEqual(sent.ns, { NS: ['1', '-0.5'] });
  assert.deepEqual(sent.m, { M: { l: { L: [{ NULL: true }, { BOOL: false }, { S: '' }] }, e: { M: {} } } });
  assert.deepEqual(Object.getOwnPropertyDescriptor(sent, '__proto__')?.value, { S: 'proto' });
  assert.equal(body.ReturnConsumedCapacity, 'TOTAL');
  assert.deepEqual(Object.keys(sent).sort(), ['__proto__', 'b', 'bs', 'buf', 'id', 'm', 'n', 'ns', 'view']);
});

test('a binary nested only inside a map in a list, or in a delete key, is still found and encoded', () => {
  const nested = batchWriteBody({
    RequestItems: {
      t: [
        { PutRequest: { Item: { id: { S: 'a' } } } },
        { PutRequest: { Item: { id: { S: 'b' }, m: { L: [{ M: { x: { B: new Uint8Array([1]) } } }] } } } },
      ],
    },
  });
  assert.ok(nested.includes('{"x":{"B":"AQ=="}}'), nested);
  const key = batchWriteBody({
    RequestItems: { t: [{ DeleteRequest: { Key: { id: { B: Buffer.from([2]) } } } }] },
  });
  assert.equal(key, '{"RequestItems":{"t":[{"DeleteRequest":{"Key":{"id":{"B":"Ag=="}}}}]}}');
  const plain = { RequestItems: { t: [{ PutRequest: { Item: { id: { S: 'a' }, n: { N: '1.50' } } } }] } };
  assert.equal(batchWriteBody(plain), JSON.stringify(plain));
});

test('the body sent is the one the SDK itself would send, for every kind of attribute (no network: a capturing handler)', async () => {
  const bodies: unknown[] = [];
  const capture = {
    handle: async (request: { body: string | Uint8Array }) => {
      // The SDK's own body is a Uint8Array that warns when used as a string: read its bytes.
      const b = request.body;
      const text =
        typeof b === 'string' ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
      bodies.push(JSON.parse(text));
      const response = { statusCode: 200, headers: {}, body: Readable.from([Buffer.from('{}')]) };
      return { response };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: 'http://localhost:1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    requestHandler: capture as never,
  });
  const input = {
    RequestItems: { t: awkwardItems(30).map((item) => ({ PutRequest: { Item: item as never } })) },
    ReturnConsumedCapacity: 'TOTAL' as const,
  };
  await client.send(new BatchWriteItemCommand(input));
  await client.send(batchWriteCommand(input));
  client.destroy();
  assert.equal(bodies.length, 2);
  assert.deepEqual(bodies[1], bodies[0]);
  assert.equal((bodies[1] as { RequestItems: { t: unknown[] } }).RequestItems.t.length, 30);
});
