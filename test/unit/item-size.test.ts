import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ItemTooLargeError } from '../../src/core/errors.js';
import { assertItemSize, itemSize, MAX_ITEM_BYTES, numberSize, valueSize } from '../../src/core/item-size.js';
import type { Item, KeySchema } from '../../src/core/types.js';

describe('itemSize', () => {
  it('counts UTF-8 bytes of names and strings', () => {
    assert.equal(itemSize({ id: { S: 'abc' } }), 2 + 3);
    assert.equal(itemSize({ é: { S: '€😀' } }), 2 + 3 + 4);
    assert.equal(itemSize({ e: { S: '' } }), 1);
    assert.equal(itemSize({}), 0);
  });

  it('counts numbers as 1 byte per two significant digits plus 1', () => {
    assert.equal(numberSize('0'), 1);
    assert.equal(numberSize('7'), 2);
    assert.equal(numberSize('12'), 2);
    assert.equal(numberSize('123'), 3);
    assert.equal(numberSize('1000000'), 2);
    assert.equal(numberSize('-0.00120'), 2);
    assert.equal(numberSize('1E-130'), 2);
    assert.equal(numberSize('12345678901234567890123456789012345678'), 20);
    assert.equal(itemSize({ n: { N: '123.45' } }), 1 + 4);
  });

  it('counts binary as raw bytes, BOOL and NULL as 1', () => {
    assert.equal(valueSize({ B: new Uint8Array(10) }), 10);
    assert.equal(valueSize({ B: new Uint8Array(0) }), 0);
    assert.equal(valueSize({ BOOL: false }), 1);
    assert.equal(valueSize({ NULL: true }), 1);
  });

  it('sums set members', () => {
    assert.equal(valueSize({ SS: ['ab', 'c', 'é'] }), 2 + 1 + 2);
    assert.equal(valueSize({ NS: ['1', '12345'] }), 2 + 4);
    assert.equal(valueSize({ BS: [new Uint8Array(3), new Uint8Array(4)] }), 7);
  });

  it('counts 3 bytes per map or list plus 1 per element plus the elements', () => {
    assert.equal(valueSize({ M: {} }), 3);
    assert.equal(valueSize({ L: [] }), 3);
    assert.equal(valueSize({ L: [{ S: 'ab' }, { BOOL: true }] }), 3 + (1 + 2) + (1 + 1));
    assert.equal(valueSize({ M: { k: { S: 'ab' }, kk: { N: '1' } } }), 3 + (1 + 1 + 2) + (1 + 2 + 2));
    assert.equal(valueSize({ M: { a: { L: [{ M: {} }] } } }), 3 + (1 + 1 + (3 + (1 + 3))));
  });

  it('adds up a whole item', () => {
    const item: Item = {
      id: { S: 'user-1' },
      n: { N: '42' },
      tags: { SS: ['x', 'y'] },
      profile: { M: { name: { S: 'Ann' }, ok: { BOOL: true } } },
    };
    const expected = 2 + 6 + (1 + 2) + (4 + 2) + (7 + 3 + (1 + 4 + 3) + (1 + 2 + 1));
    assert.equal(itemSize(item), expected);
  });
});

describe('assertItemSize', () => {
  const schema: KeySchema = { hash: { name: 'id', type: 'S' }, range: { name: 'n', type: 'N' } };

  it('accepts an item of exactly 400 KB', () => {
    const item: Item = {
      id: { S: 'k' },
      n: { N: '1' },
      d: { B: new Uint8Array(MAX_ITEM_BYTES - (2 + 1 + 1 + 2 + 1)) },
    };
    assert.equal(itemSize(item), MAX_ITEM_BYTES);
    assert.doesNotThrow(() => assertItemSize(item, schema));
  });

  it('rejects an item one byte over, naming the key and the size', () => {
    const item: Item = { n: { N: '1' }, d: { B: new Uint8Array(MAX_ITEM_BYTES - 6) }, id: { S: 'k' } };
    assert.equal(itemSize(item), MAX_ITEM_BYTES + 1);
    assert.throws(
      () => assertItemSize(item, schema),
      (e: unknown) => {
        assert.ok(e instanceof ItemTooLargeError);
        assert.equal(
          e.message,
          `item {"id":{"S":"k"},"n":{"N":"1"}} is 409601 bytes, over DynamoDB's limit of 409600 bytes (400 KB)`,
        );
        assert.equal(e.keyJson, '{"id":{"S":"k"},"n":{"N":"1"}}');
        assert.equal(e.size, 409601);
        assert.equal(e.userError, true);
        return true;
      },
    );
  });

  it('still reports the size without a schema or key', () => {
    const item: Item = { d: { S: 'x'.repeat(MAX_ITEM_BYTES) } };
    assert.throws(() => assertItemSize(item), {
      name: 'ItemTooLargeError',
      message: "item is 409601 bytes, over DynamoDB's limit of 409600 bytes (400 KB)",
    });
    assert.throws(() => assertItemSize(item, schema), { message: /^item is 409601 bytes/ });
  });
});
