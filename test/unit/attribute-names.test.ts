/**
 * Attribute names that are also names on Object.prototype (`__proto__`, `constructor`, `toString`,
 * `hasOwnProperty`) through the pure parts of the data path: DynamoDB JSON both ways, keys of
 * items and of command-line input, equality and fingerprints, and the repair of SDK output.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalKey, keyOf } from '../../src/core/canonical-key.js';
import { fromDynamoJson, toDynamoJson } from '../../src/core/ddb-json.js';
import { itemsEqual } from '../../src/core/equality.js';
import { InvalidDataError } from '../../src/core/errors.js';
import { itemSize } from '../../src/core/item-size.js';
import { parseKeyArgument } from '../../src/core/key-input.js';
import type { Item, KeySchema } from '../../src/core/types.js';
import { itemFingerprint } from '../../src/diff/fingerprint.js';
import { restoreProtoAttributes } from '../../src/dynamodb/attribute-names.js';

const TEXT =
  '{"id":{"S":"a"},"__proto__":{"S":"top"},"constructor":{"N":"1"},' +
  '"m":{"M":{"__proto__":{"M":{"toString":{"S":"deep"}}},"hasOwnProperty":{"BOOL":true}}}}';

describe('DynamoDB JSON with Object.prototype names', () => {
  it('parses __proto__ as an attribute, at the top level and nested, and writes it back', () => {
    const item = fromDynamoJson(JSON.parse(TEXT));
    assert.deepEqual(Object.keys(item), ['id', '__proto__', 'constructor', 'm']);
    assert.equal(Object.getPrototypeOf(item), Object.prototype);
    assert.deepEqual(item['__proto__'], { S: 'top' });
    const m = (item.m as { M: Item }).M;
    assert.deepEqual(Object.keys(m), ['__proto__', 'hasOwnProperty']);
    assert.deepEqual(m['__proto__'], { M: { toString: { S: 'deep' } } });
    assert.equal(JSON.stringify(toDynamoJson(item)), TEXT);
  });

  it('equality, fingerprints and sizes see a difference inside __proto__', () => {
    const a = fromDynamoJson(JSON.parse(TEXT));
    const b = fromDynamoJson(JSON.parse(TEXT.replace('"deep"', '"other"')));
    assert.ok(itemsEqual(a, fromDynamoJson(JSON.parse(TEXT))));
    assert.ok(!itemsEqual(a, b));
    assert.notEqual(itemFingerprint(a), itemFingerprint(b));
    // id 2+1, __proto__ 9+3, constructor 11+2, m 1+3 (map) + __proto__ 9+3 (map) + toString 8+4 + hasOwnProperty 14+1
    assert.equal(itemSize(a), 3 + 12 + 13 + 1 + 3 + 1 + 9 + 3 + 1 + 8 + 4 + 1 + 14 + 1);
  });

  it('a value that is not an attribute value is an InvalidDataError, not a TypeError', () => {
    assert.throws(() => toDynamoJson({ id: null as never }), InvalidDataError);
    // What a client without keepProtoAttributes hands over for a nested __proto__.
    const lost = { id: { S: 'a' }, m: { M: { ['__proto__']: undefined as never } } };
    assert.throws(() => itemSize(lost), /^InvalidDataError: not an attribute value: undefined$/);
  });
});

describe('keys named after Object.prototype members', () => {
  const schema: KeySchema = {
    hash: { name: 'constructor', type: 'S' },
    range: { name: '__proto__', type: 'N' },
  };

  it('keyOf takes own attributes only and builds the key with own properties', () => {
    const item = fromDynamoJson(JSON.parse('{"constructor":{"S":"c"},"__proto__":{"N":"1"},"x":{"S":"y"}}'));
    const key = keyOf(item, schema);
    assert.deepEqual(Object.keys(key), ['constructor', '__proto__']);
    assert.equal(canonicalKey(key), '{"__proto__":{"N":"1"},"constructor":{"S":"c"}}');
    // An item without them does not borrow Object.prototype's.
    assert.throws(() => keyOf({ x: { S: 'y' } }, schema), /item has no key attribute "constructor"/);
  });

  it('command-line keys, plain and DynamoDB JSON', () => {
    const want = '{"__proto__":{"N":"1"},"constructor":{"S":"c"}}';
    assert.equal(canonicalKey(parseKeyArgument('{"constructor":"c","__proto__":1}', schema)), want);
    assert.equal(
      canonicalKey(parseKeyArgument('{"constructor":{"S":"c"},"__proto__":{"N":"1"}}', schema)),
      want,
    );
    assert.throws(() => parseKeyArgument('{"__proto__":1}', schema), /missing attribute "constructor"/);
  });
});

describe('restoreProtoAttributes (SDK output repaired from the raw response)', () => {
  it('sets every __proto__ the SDK left undefined, top level and nested, binary decoded', () => {
    const raw = JSON.parse(
      '{"Items":[{"id":{"S":"a"},"__proto__":{"B":"AAE="},"m":{"M":{"__proto__":{"S":"n"},"k":{"S":"v"}}}}],"Count":1}',
    );
    // What the SDK hands back: the names are there, the values are not.
    const output = JSON.parse(
      '{"Items":[{"id":{"S":"a"},"__proto__":null,"m":{"M":{"__proto__":null,"k":{"S":"v"}}}}],"Count":1}',
    );
    output.Items[0]['__proto__'] = undefined; // an own property: assignment sets it
    output.Items[0].m.M['__proto__'] = undefined;
    restoreProtoAttributes(output, raw);
    const item = output.Items[0] as Item;
    assert.deepEqual(item['__proto__'], { B: new Uint8Array([0, 1]) });
    assert.deepEqual((item.m as { M: Item }).M['__proto__'], { S: 'n' });
    assert.equal(output.Count, 1);
  });

  it('leaves values the SDK kept alone', () => {
    const kept = { S: 'kept' };
    const output = JSON.parse('{"Item":{}}');
    Object.defineProperty(output.Item, '__proto__', { value: kept, enumerable: true, configurable: true });
    restoreProtoAttributes(output, JSON.parse('{"Item":{"__proto__":{"S":"raw"}}}'));
    assert.equal(output.Item['__proto__'], kept);
  });
});
