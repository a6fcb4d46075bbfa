/**
 * A JSON parser that keeps every number's source text. `JSON.parse` turns
 * 12345678901234567890123456789 into 1.2345678901234568e+28, and Node 20 has no reviver with source
 * access, so user-typed keys are parsed here to keep all 38 digits a DynamoDB number can have.
 */

/** A JSON number exactly as written. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export type ExactJson = null | boolean | string | JsonNumber | ExactJson[] | { [name: string]: ExactJson };

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at position ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// A JSON string token: escapes and any character except quote, backslash and control characters.
// eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const WHITESPACE = /[ \t\n\r]*/y;

/** Parses JSON text; numbers become JsonNumber. Duplicate object names are an error, not "last wins". */
export function parseExactJson(text: string): ExactJson {
  let pos = 0;

  const skip = (): void => {
    WHITESPACE.lastIndex = pos;
    WHITESPACE.exec(text);
    pos = WHITESPACE.lastIndex;
  };
  const fail = (message: string): never => {
    throw new JsonSyntaxError(message, pos);
  };
  const expect = (ch: string): void => {
    if (text[pos] !== ch)
      fail(pos >= text.length ? `expected "${ch}" but the text ended` : `expected "${ch}"`);
    pos++;
  };
  const readString = (): string => {
    STRING.lastIndex = pos;
    const m = STRING.exec(text);
    if (!m) return fail('invalid string');
    pos = STRING.lastIndex;
    return JSON.parse(m[0]) as string;
  };

  const value = (): ExactJson => {
    skip();
    const ch = text[pos];
    if (ch === '{') {
      pos++;
      const obj: { [name: string]: ExactJson } = {};
      skip();
      if (text[pos] === '}') {
        pos++;
        return obj;
      }
      for (;;) {
        skip();
        if (text[pos] !== '"') fail('expected a quoted name');
        const at = pos;
        const name = readString();
        if (Object.hasOwn(obj, name)) throw new JsonSyntaxError(`duplicate name "${name}"`, at);
        skip();
        expect(':');
        Object.defineProperty(obj, name, {
          value: value(),
          enumerable: true,
          writable: true,
          configurable: true,
        });
        skip();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        expect('}');
        return obj;
      }
    }
    if (ch === '[') {
      pos++;
      const arr: ExactJson[] = [];
      skip();
      if (text[pos] === ']') {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        skip();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        expect(']');
        return arr;
      }
    }
    if (ch === '"') return readString();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (m) {
      pos = NUMBER.lastIndex;
      return new JsonNumber(m[0]);
    }
    return fail(pos >= text.length ? 'unexpected end of text' : `unexpected character "${ch}"`);
  };

  const result = value();
  skip();
  if (pos < text.length) fail('unexpected text after the JSON value');
  return result;
}
