import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareNumberStrings, itemsEqual, numbersEqual, valuesEqual } from '../../src/core/equality.js';
import type { AttributeValue } from '../../src/core/types.js';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

describe('compareNumberStrings', () => {
  const cases: Array<[string, string, number]> = [
    ['1.50', '1.5', 0],
    ['1E2', '100', 0],
    ['1e2', '100.000', 0],
    ['-0', '0', 0],
    ['0.000', '-0E5', 0],
    ['+5', '5', 0],
    ['.5', '0.5', 0],
    ['5.', '5', 0],
    ['0015', '15', 0],
    ['12345678901234567890123456789012345678', '12345678901234567890123456789012345679', -1],
    ['12345678901234567890123456789012345679', '12345678901234567890123456789012345678', 1],
    ['-12345678901234567890123456789012345678', '-12345678901234567890123456789012345679', 1],
    ['1E-130', '0', 1],
    ['1E-130', '1E-129', -1],
    ['1E-130', `0.${'0'.repeat(129)}1`, 0],
    ['-1E-130', '0', -1],
    ['9.9999E+125', '1E126', -1],
    ['9.9999E+125', '99999E121', 0],
    ['-0.000000000000000000000000000000000001', '-1E-36', 0],
    ['-0.000000000000000000000000000000000001', '0', -1],
    ['2', '10', -1],
    ['-2', '-10', 1],
    ['0.15', '0.5', -1],
    ['1', '1.0000000000000000000000000000000000001', -1],
    ['123.456', '123.4560', 0],
    ['123.456', '1234.56E-1', 0],
    ['-1', '1', -1],
    ['1', '-1', 1],
  ];
  for (const [a, b, expected] of cases) {
    it(`${a} vs ${b} -> ${expected}`, () => {
      assert.equal(compareNumberStrings(a, b), expected);
      assert.equal(compareNumberStrings(b, a), -expected || 0);
    });
  }

  it('throws InvalidDataError on non-numbers', () => {
    assert.throws(() => compareNumberStrings('abc', '1'), {
      name: 'InvalidDataError',
      message: '"abc" is not a number',
    });
    assert.throws(() => compareNumberStrings('1', ''), { name: 'InvalidDataError' });
    assert.throws(() => compareNumberStrings('NaN', 'NaN'), { name: 'InvalidDataError' });
  });

  it('numbersEqual agrees', () => {
    assert.equal(numbersEqual('1.50', '1.5'), true);
    assert.equal(numbersEqual('1.51', '1.5'), false);
  });
});

describe('valuesEqual', () => {
  it('is type-aware: S "1" is not N "1"', () => {
    assert.equal(valuesEqual({ S: '1' }, { N: '1' }), false);
    assert.equal(valuesEqual({ N: '1' }, { S: '1' }), false);
    assert.equal(valuesEqual({ SS: ['1'] }, { NS: ['1'] }), false);
    assert.equal(valuesEqual({ L: [] }, { M: {} }), false);
    assert.equal(valuesEqual({ BOOL: true }, { NULL: true }), false);
    assert.equal(valuesEqual({ S: '' }, { B: bytes() }), false);
  });

  it('compares scalars', () => {
    assert.equal(valuesEqual({ S: 'a' }, { S: 'a' }), true);
    assert.equal(valuesEqual({ S: 'a' }, { S: 'A' }), false);
    assert.equal(valuesEqual({ S: '' }, { S: '' }), true);
    assert.equal(valuesEqual({ N: '1.50' }, { N: '1.5' }), true);
    assert.equal(valuesEqual({ N: '1E2' }, { N: '100' }), true);
    assert.equal(valuesEqual({ N: '-0' }, { N: '0' }), true);
    assert.equal(
      valuesEqual(
        { N: '12345678901234567890123456789012345678' },
        { N: '12345678901234567890123456789012345679' },
      ),
      false,
    );
    assert.equal(valuesEqual({ BOOL: false }, { BOOL: false }), true);
    assert.equal(valuesEqual({ BOOL: false }, { BOOL: true }), false);
    assert.equal(valuesEqual({ NULL: true }, { NULL: true }), true);
  });

  it('compares binary by bytes', () => {
    assert.equal(valuesEqual({ B: bytes(1, 2, 3) }, { B: bytes(1, 2, 3) }), true);
    assert.equal(valuesEqual({ B: bytes(1, 2, 3) }, { B: bytes(1, 2, 4) }), false);
    assert.equal(valuesEqual({ B: bytes(1, 2) }, { B: bytes(1, 2, 0) }), false);
    assert.equal(valuesEqual({ B: bytes() }, { B: bytes() }), true);
    // Same bytes through a Buffer and through a view into a larger buffer.
    assert.equal(valuesEqual({ B: Buffer.from([7, 8]) }, { B: bytes(0, 7, 8, 0).subarray(1, 3) }), true);
  });

  it('compares sets regardless of order and duplicates', () => {
    assert.equal(valuesEqual({ SS: ['a', 'b', 'c'] }, { SS: ['c', 'a', 'b'] }), true);
    assert.equal(valuesEqual({ SS: ['a', 'b'] }, { SS: ['a', 'b', 'b'] }), true);
    assert.equal(valuesEqual({ SS: ['a', 'b'] }, { SS: ['a', 'c'] }), false);
    assert.equal(valuesEqual({ SS: ['a', 'b'] }, { SS: ['a'] }), false);
    assert.equal(valuesEqual({ NS: ['1', '2', '3'] }, { NS: ['3', '1', '2'] }), true);
    assert.equal(valuesEqual({ NS: ['1.50', '1E2'] }, { NS: ['100', '1.5'] }), true);
    assert.equal(valuesEqual({ NS: ['1', '2'] }, { NS: ['1', '2.5'] }), false);
    assert.equal(
      valuesEqual(
        { NS: ['12345678901234567890123456789012345678'] },
        { NS: ['12345678901234567890123456789012345679'] },
      ),
      false,
    );
    assert.equal(valuesEqual({ BS: [bytes(1), bytes(2, 3)] }, { BS: [bytes(2, 3), bytes(1)] }), true);
    assert.equal(valuesEqual({ BS: [bytes(1), bytes(2, 3)] }, { BS: [bytes(2, 3), bytes(1, 0)] }), false);
  });

  it('compares maps regardless of key order, recursively', () => {
    const a: AttributeValue = { M: { x: { N: '1.0' }, y: { M: { z: { SS: ['p', 'q'] } } } } };
    const b: AttributeValue = { M: { y: { M: { z: { SS: ['q', 'p'] } } }, x: { N: '1' } } };
    assert.equal(valuesEqual(a, b), true);
    assert.equal(valuesEqual(a, { M: { x: { N: '1' } } }), false);
    assert.equal(valuesEqual({ M: { x: { N: '1' } } }, { M: { y: { N: '1' } } }), false);
    assert.equal(valuesEqual({ M: {} }, { M: {} }), true);
  });

  it('compares lists in order', () => {
    assert.equal(valuesEqual({ L: [{ S: 'a' }, { N: '2.0' }] }, { L: [{ S: 'a' }, { N: '2' }] }), true);
    assert.equal(valuesEqual({ L: [{ S: 'a' }, { S: 'b' }] }, { L: [{ S: 'b' }, { S: 'a' }] }), false);
    assert.equal(valuesEqual({ L: [{ S: 'a' }] }, { L: [{ S: 'a' }, { S: 'a' }] }), false);
    assert.equal(valuesEqual({ L: [] }, { L: [] }), true);
  });
});

describe('itemsEqual', () => {
  it('treats absent items', () => {
    assert.equal(itemsEqual(undefined, undefined), true);
    assert.equal(itemsEqual({ id: { S: 'a' } }, undefined), false);
    assert.equal(itemsEqual(undefined, { id: { S: 'a' } }), false);
  });

  it('compares attributes regardless of order', () => {
    assert.equal(
      itemsEqual(
        { id: { S: 'a' }, n: { N: '10' }, s: { NS: ['1', '2'] } },
        { s: { NS: ['2', '1'] }, n: { N: '1E1' }, id: { S: 'a' } },
      ),
      true,
    );
    assert.equal(itemsEqual({ id: { S: 'a' }, n: { N: '10' } }, { id: { S: 'a' } }), false);
    assert.equal(itemsEqual({ id: { S: 'a' } }, { id: { S: 'a' }, n: { N: '10' } }), false);
    assert.equal(
      itemsEqual({ id: { S: 'a' }, x: { NULL: true } }, { id: { S: 'a' }, y: { NULL: true } }),
      false,
    );
  });
});
