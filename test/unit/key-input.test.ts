import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/core/errors.js';
import { parseKeyArgument } from '../../src/core/key-input.js';
import type { KeySchema } from '../../src/core/types.js';

const hashOnly: KeySchema = { hash: { name: 'id', type: 'S' } };
const hashRange: KeySchema = { hash: { name: 'id', type: 'S' }, range: { name: 'range', type: 'N' } };
const numeric: KeySchema = { hash: { name: 'id', type: 'N' } };
const binary: KeySchema = { hash: { name: 'id', type: 'B' } };

function rejects(text: string, schema: KeySchema, message: string | RegExp): void {
  assert.throws(
    () => parseKeyArgument(text, schema),
    (e: unknown) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.equal(e.constructor, UsageError);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    },
  );
}

describe('parseKeyArgument: plain JSON', () => {
  it('reads strings and numbers', () => {
    assert.deepEqual(parseKeyArgument('{"id":"abc"}', hashOnly), { id: { S: 'abc' } });
    assert.deepEqual(parseKeyArgument(' { "range": 1, "id": "abc" } ', hashRange), {
      id: { S: 'abc' },
      range: { N: '1' },
    });
  });

  it('keeps the exact text of numbers', () => {
    assert.deepEqual(parseKeyArgument('{"id":12345678901234567890123456789}', numeric), {
      id: { N: '12345678901234567890123456789' },
    });
    assert.deepEqual(parseKeyArgument('{"id":12345678901234567890123456789012345678}', numeric), {
      id: { N: '12345678901234567890123456789012345678' },
    });
    assert.deepEqual(parseKeyArgument('{"id":1.50}', numeric), { id: { N: '1.50' } });
    assert.deepEqual(parseKeyArgument('{"id":1E-130}', numeric), { id: { N: '1E-130' } });
    assert.deepEqual(parseKeyArgument('{"id":-0.000000000000000000000000000000000001}', numeric), {
      id: { N: '-0.000000000000000000000000000000000001' },
    });
  });

  it('reads binary keys as base64 text', () => {
    assert.deepEqual(parseKeyArgument('{"id":"AQID"}', binary), { id: { B: new Uint8Array([1, 2, 3]) } });
    rejects('{"id":"not base64"}', binary, 'key attribute "id": value: "not base64" is not base64');
  });

  it('reads escaped strings', () => {
    assert.deepEqual(parseKeyArgument('{"id":"a\\"b\\u00e9\\n"}', hashOnly), { id: { S: 'a"bé\n' } });
  });
});

describe('parseKeyArgument: DynamoDB JSON', () => {
  it('reads typed values', () => {
    assert.deepEqual(parseKeyArgument('{"id":{"S":"abc"}}', hashOnly), { id: { S: 'abc' } });
    assert.deepEqual(
      parseKeyArgument('{"range":{"N":"12345678901234567890123456789012345678"},"id":{"S":"a"}}', hashRange),
      {
        id: { S: 'a' },
        range: { N: '12345678901234567890123456789012345678' },
      },
    );
    assert.deepEqual(parseKeyArgument('{"id":{"B":"AQID"}}', binary), {
      id: { B: new Uint8Array([1, 2, 3]) },
    });
  });

  it('accepts an unquoted number in N and keeps its digits', () => {
    assert.deepEqual(parseKeyArgument('{"id":{"N":12345678901234567890123456789}}', numeric), {
      id: { N: '12345678901234567890123456789' },
    });
  });

  it('treats the key as a string when the values are not all typed', () => {
    // {"S":"x"} next to a plain value is not DynamoDB JSON, so the S-typed hash gets an object.
    rejects(
      '{"id":{"S":"x"},"range":1}',
      hashRange,
      'key attribute "id" must be a string (S), got an object (DynamoDB JSON must type every attribute, e.g. {"id":{"S":"abc"}})',
    );
  });
});

describe('parseKeyArgument: errors', () => {
  it('rejects invalid JSON', () => {
    rejects(
      '{"id":',
      hashOnly,
      /^key "\{\\"id\\":" is not valid JSON \(unexpected end of text at position 6\)$/,
    );
    rejects("{'id':'a'}", hashOnly, /is not valid JSON \(expected a quoted name at position 1\)/);
    rejects(
      '{"id":"a"} x',
      hashOnly,
      /is not valid JSON \(unexpected text after the JSON value at position 11\)/,
    );
    rejects('{"id":"a","id":"b"}', hashOnly, /is not valid JSON \(duplicate name "id" at position 10\)/);
    rejects('', hashOnly, /is not valid JSON/);
  });

  it('rejects a non-object', () => {
    rejects(
      '"abc"',
      hashOnly,
      'key must be a JSON object such as {"id":"abc"} or {"id":{"S":"abc"}}, got the string "abc"',
    );
    rejects('[1]', hashOnly, /got an array$/);
  });

  it('rejects a missing attribute', () => {
    rejects(
      '{"id":"a"}',
      hashRange,
      'key is missing attribute "range" (N); the table\'s key is "id" (S) and "range" (N)',
    );
    rejects('{}', hashOnly, 'key is missing attribute "id" (S); the table\'s key is "id" (S)');
  });

  it('rejects an extra attribute', () => {
    rejects(
      '{"id":"a","other":1}',
      hashOnly,
      'key has attribute "other", which is not part of the table\'s key "id" (S)',
    );
    rejects('{"id":{"S":"a"},"x":{"S":"b"}}', hashOnly, /key has attribute "x"/);
  });

  it('rejects a wrong type', () => {
    rejects('{"id":1}', hashOnly, 'key attribute "id" must be a string (S), got the number 1');
    rejects('{"id":"1"}', numeric, 'key attribute "id" must be a number (N), got the string "1"');
    rejects('{"id":true}', numeric, 'key attribute "id" must be a number (N), got true');
    rejects('{"id":null}', hashOnly, 'key attribute "id" must be a string (S), got null');
    rejects('{"id":{"N":"1"}}', hashOnly, 'key attribute "id" must be of type S, got N');
    rejects('{"id":{"SS":["a"]}}', hashOnly, 'key attribute "id" must be of type S, got SS');
    rejects('{"id":{"S":1}}', hashOnly, 'key attribute "id": value: expected a string, got number 1');
  });

  it('rejects invalid numbers and empty values', () => {
    rejects(
      '{"id":123456789012345678901234567890123456789}',
      numeric,
      'key attribute "id": "123456789012345678901234567890123456789" has 39 significant digits (DynamoDB keeps at most 38)',
    );
    rejects('{"id":{"N":"abc"}}', numeric, 'key attribute "id": value: "abc" is not a number');
    rejects(
      '{"id":""}',
      hashOnly,
      'key attribute "id" must not be empty (DynamoDB rejects empty key values)',
    );
    rejects(
      '{"id":{"B":""}}',
      binary,
      'key attribute "id" must not be empty (DynamoDB rejects empty key values)',
    );
  });
});
