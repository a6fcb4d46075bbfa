import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fromDynamoJson,
  toDynamoJson,
  valueFromDynamoJson,
  valueToDynamoJson,
} from '../../src/core/ddb-json.js';
import { InvalidDataError } from '../../src/core/errors.js';
import type { Item } from '../../src/core/types.js';

// Values whose DynamoDB JSON looks exactly like the in-memory form (no binary).
const textual: Item = {
  id: { S: 'k1' },
  big: { N: '12345678901234567890123456789012345678' },
  tiny: { N: '1E-130' },
  negTiny: { N: '-0.000000000000000000000000000000000001' },
  trailing: { N: '1.50' },
  empty: { S: '' },
  ss: { SS: ['b', 'a', ''] },
  ns: { NS: ['1', '12345678901234567890123456789012345678', '-1E-130'] },
  nothing: { NULL: true },
  yes: { BOOL: true },
  no: { BOOL: false },
  nested: {
    M: {
      list: {
        L: [{ S: 'x' }, { N: '2.000' }, { M: {} }, { L: [] }, { M: { deep: { NS: ['9.9999E+125'] } } }],
      },
      'name with space': { S: 'é€😀' },
    },
  },
};

const awkward: Item = {
  ...textual,
  emptyBin: { B: new Uint8Array([]) },
  bin: { B: new Uint8Array([0, 1, 2, 253, 254, 255]) },
  bs: { BS: [new Uint8Array([1]), new Uint8Array([2, 3])] },
};

const awkwardJson = {
  ...textual,
  emptyBin: { B: '' },
  bin: { B: 'AAEC/f7/' },
  bs: { BS: ['AQ==', 'AgM='] },
};

describe('toDynamoJson / fromDynamoJson', () => {
  it('writes the exact DynamoDB JSON', () => {
    assert.deepEqual(toDynamoJson(awkward), awkwardJson);
  });

  it('round-trips byte for byte through JSON text', () => {
    const text = JSON.stringify(toDynamoJson(awkward));
    const back = fromDynamoJson(JSON.parse(text), 'test');
    assert.deepEqual(back, awkward);
    assert.equal(JSON.stringify(toDynamoJson(back)), text);
    const big = back.big as { N: string };
    assert.equal(big.N, '12345678901234567890123456789012345678');
    assert.ok((back.bin as { B: Uint8Array }).B instanceof Uint8Array);
  });

  it('single values round-trip', () => {
    assert.deepEqual(valueToDynamoJson({ B: new Uint8Array([255]) }), { B: '/w==' });
    assert.deepEqual(valueFromDynamoJson({ B: '/w==' }), { B: new Uint8Array([255]) });
    assert.deepEqual(valueFromDynamoJson({ N: '-0' }), { N: '-0' });
  });

  it('does not share arrays with the input', () => {
    const item: Item = { ss: { SS: ['a'] } };
    const json = toDynamoJson(item) as { ss: { SS: string[] } };
    json.ss.SS.push('b');
    assert.deepEqual(item, { ss: { SS: ['a'] } });
  });
});

function rejects(value: unknown, message: string, context = 'line 7'): void {
  assert.throws(
    () => fromDynamoJson(value, context),
    (e: unknown) => {
      assert.ok(e instanceof InvalidDataError, String(e));
      assert.equal(e.message, message);
      return true;
    },
  );
}

describe('fromDynamoJson validation', () => {
  it('names the path and context of a bad value deep inside', () => {
    rejects(
      { attrs: { M: { list: { L: [{ S: 'a' }, { S: 'b' }, { N: 'x' }] } } } },
      'line 7: item.attrs.list[2]: "x" is not a number',
    );
    rejects({ 'a b': { M: { c: { S: 1 } } } }, 'line 7: item["a b"].c: expected a string, got number 1');
  });

  it('requires exactly one known type key', () => {
    rejects(
      { a: { S: 'x', N: '1' } },
      'line 7: item.a: expected exactly one type key (S, N, B, SS, NS, BS, M, L, NULL, BOOL), got 2: S, N',
    );
    rejects(
      { a: {} },
      'line 7: item.a: expected exactly one type key (S, N, B, SS, NS, BS, M, L, NULL, BOOL), got 0: ',
    );
    rejects(
      { a: { X: 'x' } },
      'line 7: item.a: unknown type key "X" (expected S, N, B, SS, NS, BS, M, L, NULL or BOOL)',
    );
    rejects({ a: 'plain' }, 'line 7: item.a: expected an object with one type key, got the string "plain"');
    rejects({ a: null }, 'line 7: item.a: expected an object with one type key, got null');
    rejects([], 'line 7: item: expected an object of attributes, got an array');
    rejects('x', 'item: expected an object of attributes, got the string "x"', '');
  });

  it('validates numbers as DynamoDB does', () => {
    rejects({ n: { N: 5 } }, 'line 7: item.n: N must be a string, got number 5');
    rejects({ n: { N: '' } }, 'line 7: item.n: "" is not a number');
    rejects(
      { n: { N: '123456789012345678901234567890123456789' } },
      'line 7: item.n: "123456789012345678901234567890123456789" has 39 significant digits (DynamoDB keeps at most 38)',
    );
    rejects(
      { n: { N: '1E-131' } },
      'line 7: item.n: "1E-131" is out of DynamoDB\'s range (magnitude 1E-130 to 9.9999999999999999999999999999999999999E+125)',
    );
  });

  it('validates base64, NULL, BOOL, lists and sets', () => {
    rejects({ b: { B: 'not base64!' } }, 'line 7: item.b: "not base64!" is not base64');
    rejects({ b: { B: 'AQ=' } }, 'line 7: item.b: "AQ=" is not base64');
    rejects({ z: { NULL: false } }, 'line 7: item.z: NULL must be true, got boolean false');
    rejects({ z: { BOOL: 'true' } }, 'line 7: item.z: BOOL must be true or false, got the string "true"');
    rejects({ l: { L: {} } }, 'line 7: item.l: L must be an array, got an object');
    rejects({ m: { M: [] } }, 'line 7: item.m: expected an object of attributes, got an array');
    rejects({ s: { SS: [] } }, 'line 7: item.s: a set must not be empty');
    rejects({ s: { SS: 'a' } }, 'line 7: item.s: a set must be an array, got the string "a"');
    rejects({ s: { SS: ['a', 1] } }, 'line 7: item.s[1]: expected a string, got number 1');
    rejects({ s: { SS: ['a', 'a'] } }, 'line 7: item.s[1]: duplicate set member');
    rejects({ s: { NS: ['1', 'one'] } }, 'line 7: item.s[1]: "one" is not a number');
    rejects({ s: { NS: ['1', '1.0'] } }, 'line 7: item.s[1]: duplicate set member');
    rejects({ s: { BS: ['AQ==', '%%'] } }, 'line 7: item.s[1]: "%%" is not base64');
    rejects({ s: { BS: ['AQ==', 'AQ=='] } }, 'line 7: item.s[1]: duplicate set member');
  });

  it('valueFromDynamoJson names its context', () => {
    assert.throws(() => valueFromDynamoJson({ N: 'x' }, 'record 3 NewImage.id'), {
      name: 'InvalidDataError',
      message: 'record 3 NewImage.id: value: "x" is not a number',
    });
    assert.throws(() => valueFromDynamoJson({ N: 'x' }), { message: 'value: "x" is not a number' });
  });
});
