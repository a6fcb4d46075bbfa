import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { canonicalKey, keyId, keyOf, scalarType } from '../../src/core/canonical-key.js';
import { InvalidDataError } from '../../src/core/errors.js';
import type { Item, KeySchema } from '../../src/core/types.js';

const hashRange: KeySchema = { hash: { name: 'id', type: 'S' }, range: { name: 'ts', type: 'N' } };

describe('canonicalKey', () => {
  it('is identical whatever attribute order the input had', () => {
    const a = { id: { S: 'user#1' }, ts: { N: '1700000000000' } };
    const b = { ts: { N: '1700000000000' }, id: { S: 'user#1' } };
    assert.deepEqual(Object.keys(a), ['id', 'ts']);
    assert.deepEqual(Object.keys(b), ['ts', 'id']);
    assert.equal(canonicalKey(a), '{"id":{"S":"user#1"},"ts":{"N":"1700000000000"}}');
    assert.equal(canonicalKey(b), canonicalKey(a));
    assert.equal(keyId(b), keyId(a));
  });

  it('is identical for keys extracted from items with different attribute orders', () => {
    const item1: Item = { z: { S: 'x' }, ts: { N: '5' }, id: { S: 'k' } };
    const item2: Item = { id: { S: 'k' }, z: { S: 'x' }, ts: { N: '5' } };
    assert.equal(canonicalKey(keyOf(item1, hashRange)), '{"id":{"S":"k"},"ts":{"N":"5"}}');
    assert.equal(canonicalKey(keyOf(item2, hashRange)), canonicalKey(keyOf(item1, hashRange)));
  });

  it('keeps the exact wire value of numbers, never normalising', () => {
    assert.equal(canonicalKey({ n: { N: '1.50' } }), '{"n":{"N":"1.50"}}');
    assert.equal(
      canonicalKey({ n: { N: '12345678901234567890123456789012345678' } }),
      '{"n":{"N":"12345678901234567890123456789012345678"}}',
    );
    assert.equal(canonicalKey({ n: { N: '1E-130' } }), '{"n":{"N":"1E-130"}}');
    assert.notEqual(canonicalKey({ n: { N: '1.50' } }), canonicalKey({ n: { N: '1.5' } }));
  });

  it('renders binary as base64 and escapes strings as JSON', () => {
    assert.equal(canonicalKey({ b: { B: new Uint8Array([0, 1, 254, 255]) } }), '{"b":{"B":"AAH+/w=="}}');
    assert.equal(canonicalKey({ b: { B: new Uint8Array([]) } }), '{"b":{"B":""}}');
    // A Uint8Array view into a larger buffer must contribute only its own bytes.
    const view = new Uint8Array([9, 9, 1, 2, 9]).subarray(2, 4);
    assert.equal(canonicalKey({ b: { B: view } }), '{"b":{"B":"AQI="}}');
    assert.equal(
      canonicalKey({ 'a"b': { S: 'line\nbreak "q" é' } }),
      '{"a\\"b":{"S":"line\\nbreak \\"q\\" é"}}',
    );
  });

  it('sorts names by code unit', () => {
    assert.equal(
      canonicalKey({ b: { S: '1' }, B: { S: '2' }, a: { S: '3' } }),
      '{"B":{"S":"2"},"a":{"S":"3"},"b":{"S":"1"}}',
    );
  });

  it('rejects non-scalar key values naming the attribute', () => {
    assert.throws(() => canonicalKey({ id: { SS: ['a'] } }), {
      name: 'InvalidDataError',
      message: 'key attribute "id" has type SS; keys are S, N or B',
    });
  });
});

describe('keyId', () => {
  it('is the SHA-256 hex of the canonical key', () => {
    const key = { ts: { N: '2' }, id: { S: 'a' } };
    const expected = createHash('sha256').update('{"id":{"S":"a"},"ts":{"N":"2"}}').digest('hex');
    assert.equal(keyId(key), expected);
    assert.match(keyId(key), /^[0-9a-f]{64}$/);
    // sha256('{"id":{"S":"a"}}'), computed independently.
    assert.equal(
      keyId({ id: { S: 'a' } }),
      '749b5c1af783257792b1d09113f0f74675b8152acbb10024a848f8029f898d87',
    );
    assert.notEqual(keyId({ id: { S: 'a' } }), keyId({ id: { S: 'b' } }));
    assert.notEqual(keyId({ id: { S: '1' } }), keyId({ id: { N: '1' } }));
  });
});

describe('keyOf', () => {
  it('extracts only the key attributes', () => {
    const item: Item = { id: { S: 'a' }, ts: { N: '3' }, other: { BOOL: true } };
    assert.deepEqual(keyOf(item, hashRange), { id: { S: 'a' }, ts: { N: '3' } });
    assert.deepEqual(keyOf(item, { hash: { name: 'id', type: 'S' } }), { id: { S: 'a' } });
  });

  it('throws InvalidDataError naming a missing attribute', () => {
    assert.throws(
      () => keyOf({ id: { S: 'a' } }, hashRange),
      (e: unknown) => {
        assert.ok(e instanceof InvalidDataError);
        assert.equal(e.message, 'item has no key attribute "ts" (expected type N)');
        return true;
      },
    );
  });

  it('throws InvalidDataError naming an attribute of the wrong type', () => {
    assert.throws(() => keyOf({ id: { S: 'a' }, ts: { S: '3' } }, hashRange), {
      name: 'InvalidDataError',
      message: 'key attribute "ts" has type S, expected N',
    });
    assert.throws(() => keyOf({ id: { L: [] }, ts: { N: '3' } }, hashRange), {
      message: 'key attribute "id" has type L, expected S',
    });
  });

  it('scalarType names S, N and B only', () => {
    assert.equal(scalarType({ S: '' }), 'S');
    assert.equal(scalarType({ N: '1' }), 'N');
    assert.equal(scalarType({ B: new Uint8Array() }), 'B');
    assert.equal(scalarType({ NULL: true }), undefined);
    assert.equal(scalarType(undefined), undefined);
  });
});
