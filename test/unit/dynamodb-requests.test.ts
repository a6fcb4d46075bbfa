import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidDataError } from '../../src/core/errors.js';
import { itemSize } from '../../src/core/item-size.js';
import type { Item, KeySchema } from '../../src/core/types.js';
import { planBatchGets } from '../../src/dynamodb/batch-get.js';
import { projectionExpression } from '../../src/dynamodb/paging.js';
import { buildBatchWriteInput, prepareWrite } from '../../src/dynamodb/write-scheduler.js';

const schema: KeySchema = { hash: { name: 'pk', type: 'S' }, range: { name: 'sk', type: 'N' } };

test('prepareWrite names the item by table and canonical key and trims delete keys to the key attributes', () => {
  const item: Item = { sk: { N: '1.50' }, pk: { S: 'a' }, v: { S: 'xyz' } };
  const put = prepareWrite('t1', { put: item }, schema);
  assert.equal(put.keyJson, '{"pk":{"S":"a"},"sk":{"N":"1.50"}}');
  assert.equal(put.id, 't1\u0000{"pk":{"S":"a"},"sk":{"N":"1.50"}}');
  assert.equal(put.size, itemSize(item));
  const del = prepareWrite(
    't1',
    { delete: { pk: { S: 'a' }, sk: { N: '2' }, extra: { S: 'dropped' } } },
    schema,
  );
  assert.deepEqual(del.request, { delete: { pk: { S: 'a' }, sk: { N: '2' } } });
  assert.throws(() => prepareWrite('t1', { put: { pk: { S: 'a' } } }, schema), InvalidDataError);
  assert.throws(
    () => prepareWrite('t1', { delete: { pk: { N: '1' }, sk: { N: '2' } } }, schema),
    InvalidDataError,
  );
});

test('buildBatchWriteInput groups writes by table and asks for the consumed capacity', () => {
  const writes = [
    prepareWrite('t1', { put: { pk: { S: 'a' }, sk: { N: '1' } } }, schema),
    prepareWrite('t2', { delete: { pk: { S: 'b' }, sk: { N: '2' } } }, schema),
    prepareWrite('t1', { delete: { pk: { S: 'c' }, sk: { N: '3' } } }, schema),
  ];
  assert.deepEqual(buildBatchWriteInput(writes), {
    RequestItems: {
      t1: [
        { PutRequest: { Item: { pk: { S: 'a' }, sk: { N: '1' } } } },
        { DeleteRequest: { Key: { pk: { S: 'c' }, sk: { N: '3' } } } },
      ],
      t2: [{ DeleteRequest: { Key: { pk: { S: 'b' }, sk: { N: '2' } } } }],
    },
    ReturnConsumedCapacity: 'TOTAL',
  });
  const plain = buildBatchWriteInput(writes, false);
  assert.equal('ReturnConsumedCapacity' in plain, false, 'not asked for when nobody reads it');
  assert.equal(plain.RequestItems?.t1?.length, 2);
});

test('planBatchGets dedupes keys whatever their attribute order and cuts chunks of 100 per table', () => {
  const keys = Array.from({ length: 230 }, (_, i) => ({ pk: { S: `k${i % 210}` }, sk: { N: '1' } }));
  keys.push({ sk: { N: '1' }, pk: { S: 'k0' } } as (typeof keys)[number]);
  const chunks = planBatchGets({ a: { keys, consistentRead: true }, b: { keys: keys.slice(0, 3) } });
  assert.deepEqual(
    chunks.map((c) => [c.table, c.keys.length]),
    [
      ['a', 100],
      ['a', 100],
      ['a', 10],
      ['b', 3],
    ],
  );
  assert.equal(chunks[0]?.request.consistentRead, true);
});

test('projectionExpression uses placeholders so reserved words and dots are safe', () => {
  assert.deepEqual(projectionExpression(['name', 'a.b', 'size']), {
    ProjectionExpression: '#p0, #p1, #p2',
    ExpressionAttributeNames: { '#p0': 'name', '#p1': 'a.b', '#p2': 'size' },
  });
  assert.deepEqual(projectionExpression([]), {});
  assert.deepEqual(projectionExpression(undefined), {});
});
