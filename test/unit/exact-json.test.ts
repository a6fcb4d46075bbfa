import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonNumber, JsonSyntaxError, parseExactJson } from '../../src/core/exact-json.js';

describe('parseExactJson', () => {
  it('keeps number text and parses everything else like JSON.parse', () => {
    const v = parseExactJson(
      '{"a":[1, -2.50, 1E-130, 12345678901234567890123456789012345678], "b":{"c":null,"d":true,"e":false,"f":"x\\u00e9"}}',
    );
    assert.deepEqual(v, {
      a: [
        new JsonNumber('1'),
        new JsonNumber('-2.50'),
        new JsonNumber('1E-130'),
        new JsonNumber('12345678901234567890123456789012345678'),
      ],
      b: { c: null, d: true, e: false, f: 'xé' },
    });
    assert.deepEqual(parseExactJson(' [ ] '), []);
    assert.deepEqual(parseExactJson('{}'), {});
    assert.deepEqual(parseExactJson('"s"'), 's');
  });

  it('treats __proto__ as an ordinary name', () => {
    const v = parseExactJson('{"__proto__":"x"}') as Record<string, unknown>;
    assert.deepEqual(Object.keys(v), ['__proto__']);
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
  });

  it('rejects what JSON rejects, with a position', () => {
    for (const [text, position] of [
      ['01', 1],
      ['1.', 1],
      ['-', 0],
      ['[1,]', 3],
      ['{"a":1,}', 7],
      ['{"a" 1}', 5],
      ['"\u0001"', 0],
      ['nul', 0],
      ['[1 2]', 3],
    ] as const) {
      assert.throws(
        () => parseExactJson(text),
        (e: unknown) => e instanceof JsonSyntaxError && e.position === position,
        text,
      );
    }
  });
});
