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

  it('counts numbers in base-100 digit pairs aligned on the decimal point, plus 1, plus 1 if negative', () => {
    // Expected values measured on DynamoDB Local: the largest filler it accepted next to each number.
    const measured: Array<[string, number]> = [
      ['0', 1],
      ['-0', 1],
      ['7', 2],
      ['12', 2],
      ['99', 2],
      ['100', 2],
      ['101', 3],
      ['123', 3],
      ['1000', 2],
      ['5E1', 2],
      ['1.0E3', 2],
      ['0.5', 2],
      ['0.05', 2],
      ['0.005', 2],
      ['1.5', 3],
      ['10.5', 3],
      ['100.5', 4],
      ['12.3', 3],
      ['1.23', 3],
      ['0.123', 3],
      ['123456789', 6],
      ['-5', 3],
      ['-0.5', 3],
      ['-1.5', 4],
      ['-123', 4],
      ['1E-130', 2],
      ['1E-129', 2],
      ['-1E-130', 3],
      ['-0.000000000000000000000000000000000001', 3],
      ['12345678901234567890123456789012345678', 20],
      ['-12345678901234567890123456789012345678', 21],
      ['1234567890123456789012345678901234567.8', 21],
      ['9.9999999999999999999999999999999999999E+125', 20],
    ];
    for (const [n, size] of measured) assert.equal(numberSize(n), size, n);
    assert.equal(itemSize({ n: { N: '123.45' } }), 1 + 4);
  });

  it('sizes a plain spelling (the one-pass path) as the same number written with an exponent (the full parse)', () => {
    const pairs: Array<[string, string]> = [
      ['007', '7E0'],
      ['00.000', '0E5'],
      ['5.', '5E0'],
      ['100.0100', '1.00010E2'],
      ['0.00125', '1.25E-3'],
      ['0.0125', '1.25E-2'],
      ['-0.10', '-1E-1'],
      ['120', '1.2E2'],
      ['1200', '1.2E3'],
      ['-98765.4321', '-9.87654321E4'],
      ['1234567890123456789012345.5', '1.2345678901234567890123455E24'],
    ];
    for (const [plain, exponent] of pairs) {
      assert.equal(numberSize(plain), numberSize(exponent), `${plain} vs ${exponent}`);
    }
    // Spellings the one-pass path leaves to the parser: plus sign, leading point, not a number.
    assert.equal(numberSize('+1.5'), numberSize('1.5'));
    assert.equal(numberSize('.5'), numberSize('0.5'));
    assert.equal(numberSize('1.2.3'), Math.ceil('1.2.3'.length / 2) + 1);
  });

  it('counts binary as raw bytes, BOOL and NULL as 1', () => {
    assert.equal(valueSize({ B: new Uint8Array(10) }), 10);
    assert.equal(valueSize({ B: new Uint8Array(0) }), 0);
    assert.equal(valueSize({ BOOL: false }), 1);
    assert.equal(valueSize({ NULL: true }), 1);
  });

  it('sums set members', () => {
    assert.equal(valueSize({ SS: ['ab', 'c', 'é'] }), 2 + 1 + 2);
    assert.equal(valueSize({ NS: ['1', '-1.5', '123'] }), 2 + 4 + 3);
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
