import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertItemLimits,
  assertKeyLimits,
  MAX_NESTING_LEVELS,
  structureProblem,
} from '../../src/core/item-limits.js';
import { ItemLimitError } from '../../src/core/errors.js';
import { prepareWrite } from '../../src/dynamodb/write-scheduler.js';
import { itemSize } from '../../src/core/item-size.js';
import type { AttributeValue, Item, KeySchema } from '../../src/core/types.js';

const SCHEMA: KeySchema = { hash: { name: 'pk', type: 'B' }, range: { name: 'sk', type: 'S' } };

/** `containers` maps or lists nested under one attribute (the item itself is level 1). */
function nest(containers: number, kind: 'M' | 'L'): AttributeValue {
  let v: AttributeValue = { NULL: true };
  for (let i = 0; i < containers; i++) v = kind === 'M' ? { M: { a: v } } : { L: [v] };
  return v;
}

const key = { pk: { B: new Uint8Array([1]) }, sk: { S: 's' } };

test('nesting: 31 maps or lists under an attribute pass, 32 do not (measured on DynamoDB Local)', () => {
  assert.equal(MAX_NESTING_LEVELS, 32);
  for (const kind of ['M', 'L'] as const) {
    assert.equal(structureProblem({ ...key, d: nest(31, kind) }), undefined);
    assert.equal(
      structureProblem({ ...key, d: nest(32, kind) }),
      `attribute "d" nests deeper than DynamoDB's limit of 32 levels`,
    );
  }
  // An empty map at level 33 is refused too (DynamoDB Local does): 31 maps around an empty one.
  assert.equal(
    structureProblem({ d: { M: { a: nest(30, 'M'), b: nest(31, 'M') } } }),
    `attribute "d" nests deeper than DynamoDB's limit of 32 levels`,
  );
  let empty: AttributeValue = { M: {} };
  for (let i = 0; i < 31; i++) empty = { M: { a: empty } };
  assert.match(structureProblem({ d: empty }) ?? '', /nests deeper/);
});

test('20,000 levels are reported, not a stack overflow; malformed input is left to the parsers', () => {
  assert.equal(
    structureProblem({ ...key, d: nest(20_000, 'L') }),
    `attribute "d" nests deeper than DynamoDB's limit of 32 levels`,
  );
  assert.equal(structureProblem(null), undefined);
  assert.equal(structureProblem({ a: 'not a value', b: { M: 'not a map' }, c: { L: {} } }), undefined);
});

test('empty attribute names, at the top and inside maps', () => {
  assert.equal(structureProblem({ ...key, '': { S: 'x' } }), 'an attribute name is empty');
  assert.equal(
    structureProblem({ ...key, m: { L: [{ M: { ok: { M: { '': { N: '1' } } } } }] } }),
    'attribute "m" holds a map with an empty key',
  );
});

test('key values: empty S or B, partition over 2,048 bytes, sort over 1,024 bytes', () => {
  const item = (pk: Uint8Array, sk: string): Item => ({ pk: { B: pk }, sk: { S: sk } });
  const problem = (i: Item): string | undefined => {
    try {
      assertItemLimits(i, SCHEMA);
      return undefined;
    } catch (error) {
      assert.ok(error instanceof ItemLimitError);
      return error.message.replace(/^item \S+: /, '');
    }
  };
  assert.equal(problem(item(new Uint8Array(2048), 'é'.repeat(512))), undefined);
  assert.equal(problem(item(new Uint8Array(0), 's')), 'partition key attribute "pk" is empty');
  assert.equal(problem(item(new Uint8Array([1]), '')), 'sort key attribute "sk" is empty');
  assert.equal(
    problem(item(new Uint8Array(2049), 's')),
    `partition key attribute "pk" is 2049 bytes, over DynamoDB's limit of 2048 bytes`,
  );
  assert.equal(
    problem(item(new Uint8Array([1]), 'é'.repeat(512) + 'x')),
    `sort key attribute "sk" is 1025 bytes, over DynamoDB's limit of 1024 bytes`,
  );
  assert.throws(() => assertKeyLimits({ pk: { B: new Uint8Array([1]) }, sk: { S: '' } }, SCHEMA), {
    name: 'ItemLimitError',
    message: 'item {"pk":{"B":"AQ=="},"sk":{"S":""}}: sort key attribute "sk" is empty',
  });
  assert.equal(assertItemLimits({ ...key, v: { S: '' } }, SCHEMA), 2 + 1 + 2 + 1 + 1);
});

test('the data layer write path refuses the same items (import, copy, restore, repair)', () => {
  assert.throws(() => prepareWrite('t', { put: { ...key, d: nest(32, 'M') } }, SCHEMA), {
    name: 'ItemLimitError',
    message: `item {"pk":{"B":"AQ=="},"sk":{"S":"s"}}: attribute "d" nests deeper than DynamoDB's limit of 32 levels`,
  });
  assert.throws(
    () => prepareWrite('t', { delete: { pk: { B: new Uint8Array(0) }, sk: { S: 's' } } }, SCHEMA),
    {
      name: 'ItemLimitError',
      message: /partition key attribute "pk" is empty$/,
    },
  );
  assert.equal(prepareWrite('t', { put: { ...key, d: nest(31, 'M') } }, SCHEMA).size > 0, true);
});

test('prepareWrite with limitsChecked (the apply engine checked them in its plan): no second check, same size and key', () => {
  const deep: Item = { ...key, d: nest(32, 'M') };
  const checked = prepareWrite('t', { put: deep }, SCHEMA, true);
  assert.equal(checked.size, itemSize(deep));
  assert.equal(checked.keyJson, '{"pk":{"B":"AQ=="},"sk":{"S":"s"}}');
  const flat: Item = { ...key, n: { N: '12.5' } };
  assert.deepEqual(prepareWrite('t', { put: flat }, SCHEMA, true), prepareWrite('t', { put: flat }, SCHEMA));
  // The key schema is still enforced.
  assert.throws(() => prepareWrite('t', { put: { pk: key.pk } }, SCHEMA, true), { name: 'InvalidDataError' });
});
