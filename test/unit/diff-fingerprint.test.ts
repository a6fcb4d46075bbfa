import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itemFingerprint } from '../../src/diff/fingerprint.js';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';

function agree(a: Item, b: Item, equal: boolean): void {
  assert.equal(itemsEqual(a, b), equal, 'itemsEqual');
  assert.equal(itemFingerprint(a) === itemFingerprint(b), equal, 'fingerprints');
}

test('sets with the same members in a different order have one fingerprint', () => {
  agree({ s: { SS: ['a', 'b', 'c'] } }, { s: { SS: ['c', 'a', 'b'] } }, true);
  agree({ s: { NS: ['1', '2.50', '3'] } }, { s: { NS: ['3', '2.5', '1'] } }, true);
  const x = new Uint8Array([1, 2]);
  const y = new Uint8Array([3]);
  agree({ s: { BS: [x, y] } }, { s: { BS: [y, x] } }, true);
  agree({ s: { SS: ['a', 'b'] } }, { s: { SS: ['a', 'c'] } }, false);
});

test('numbers compare by value: "1.50" equals "1.5"; the 38th digit counts', () => {
  agree({ n: { N: '1.50' } }, { n: { N: '1.5' } }, true);
  agree({ n: { N: '15E-1' } }, { n: { N: '1.5' } }, true);
  for (const [a, b] of [
    ['-0', '0'],
    ['0.000', '0'],
    ['1E3', '1000'],
    ['1e-3', '0.001'],
    ['-012.3400', '-12.34'],
    ['+7', '7'],
  ]) {
    agree({ n: { N: a as string } }, { n: { N: b as string } }, true);
  }
  agree({ n: { N: '1E3' } }, { n: { N: '100' } }, false);
  agree({ n: { N: '-1' } }, { n: { N: '1' } }, false);
  const a = '1234567890123456789012345678901234567'; // 37 digits
  agree({ n: { N: a + '1' } }, { n: { N: a + '2' } }, false);
});

test('binary compares bytes; attribute order does not matter; types do', () => {
  const hello = new TextEncoder().encode('hello world');
  agree({ b: { B: hello } }, { b: { B: new Uint8Array(Buffer.from('hello world')) } }, true);
  agree({ a: { S: '1' }, b: { N: '2' } }, { b: { N: '2' }, a: { S: '1' } }, true);
  agree({ a: { S: '1' } }, { a: { N: '1' } }, false);
  agree(
    { m: { M: { x: { S: 'a' }, y: { BOOL: true } } } },
    { m: { M: { y: { BOOL: true }, x: { S: 'a' } } } },
    true,
  );
  agree({ l: { L: [{ S: 'a' }, { S: 'b' }] } }, { l: { L: [{ S: 'b' }, { S: 'a' }] } }, false);
  agree({ a: { S: 'x' } }, { a: { S: 'x' }, b: { NULL: true } }, false);
  // An attribute value that looks like an encoded attribute must not collide with one.
  agree({ a: { S: 'x",b:Z' } }, { a: { S: 'x' }, b: { NULL: true } }, false);
});
