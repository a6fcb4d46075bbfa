/**
 * Keys typed on the command line, in either form the old tool accepted: plain JSON
 * `{"id":"abc","range":1}` or DynamoDB JSON `{"id":{"S":"abc"}}`. Numbers keep the exact digits typed.
 * The key must have exactly the table's key attributes with the table's types.
 */
import { mapAttributes, ownAttribute, setAttribute } from './attribute-map.js';
import { TYPE_KEYS, valueFromDynamoJson } from './ddb-json.js';
import { numberProblem } from './decimal.js';
import { UsageError } from './errors.js';
import { JsonNumber, JsonSyntaxError, parseExactJson, type ExactJson } from './exact-json.js';
import type { AttributeValue, Key, KeySchema, KeyType } from './types.js';

const TYPE_WORD: Record<KeyType, string> = { S: 'a string', N: 'a number', B: 'binary (base64 text)' };

function describeSchema(schema: KeySchema): string {
  const attrs = schema.range ? [schema.hash, schema.range] : [schema.hash];
  return attrs.map((a) => `"${a.name}" (${a.type})`).join(' and ');
}

function isObject(v: ExactJson | undefined): v is { [name: string]: ExactJson } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}

/** True when `v` looks like a DynamoDB JSON value: an object with exactly one known type key. */
function isTypedValue(v: ExactJson): boolean {
  if (!isObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && TYPE_KEYS.has(keys[0] as string);
}

/** ExactJson -> plain JSON value for the DynamoDB JSON reader; a bare number stays a number (and is rejected). */
function toPlain(v: ExactJson): unknown {
  if (v instanceof JsonNumber) return Number(v.text);
  if (Array.isArray(v)) return v.map(toPlain);
  if (isObject(v)) {
    return mapAttributes(v, toPlain);
  }
  return v;
}

function describe(v: ExactJson): string {
  if (v === null) return 'null';
  if (v instanceof JsonNumber) return `the number ${v.text}`;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return String(v);
}

function fromTyped(name: string, v: ExactJson): AttributeValue {
  const typed = v as { [type: string]: ExactJson };
  // `{"N": 5}` is what people type; the digits are exact either way.
  if (typed.N instanceof JsonNumber) return { N: typed.N.text };
  try {
    return valueFromDynamoJson(toPlain(v), `key attribute "${name}"`);
  } catch (e) {
    throw new UsageError((e as Error).message, { cause: e });
  }
}

function fromPlain(name: string, v: ExactJson, type: KeyType): AttributeValue {
  const wrong = (): never => {
    const hint = isObject(v) ? ' (DynamoDB JSON must type every attribute, e.g. {"id":{"S":"abc"}})' : '';
    throw new UsageError(
      `key attribute "${name}" must be ${TYPE_WORD[type]} (${type}), got ${describe(v)}${hint}`,
    );
  };
  if (type === 'N') {
    if (!(v instanceof JsonNumber)) return wrong();
    return { N: v.text };
  }
  if (typeof v !== 'string') return wrong();
  if (type === 'S') return { S: v };
  try {
    return valueFromDynamoJson({ B: v }, `key attribute "${name}"`);
  } catch (e) {
    throw new UsageError((e as Error).message, { cause: e });
  }
}

function checkValue(name: string, value: AttributeValue, type: KeyType): void {
  const actual = Object.keys(value)[0];
  if (actual !== type) {
    throw new UsageError(`key attribute "${name}" must be of type ${type}, got ${actual ?? 'nothing'}`);
  }
  if ('N' in value) {
    const problem = numberProblem(value.N);
    if (problem) throw new UsageError(`key attribute "${name}": ${problem}`);
  }
  if (('S' in value && value.S === '') || ('B' in value && value.B.byteLength === 0)) {
    throw new UsageError(`key attribute "${name}" must not be empty (DynamoDB rejects empty key values)`);
  }
}

/** Parses a key argument; UsageError naming the problem (invalid JSON, missing/extra attribute, wrong type). */
export function parseKeyArgument(text: string, schema: KeySchema): Key {
  let parsed: ExactJson;
  try {
    parsed = parseExactJson(text);
  } catch (e) {
    const detail = e instanceof JsonSyntaxError ? e.message : String(e);
    throw new UsageError(`key ${JSON.stringify(text)} is not valid JSON (${detail})`, { cause: e });
  }
  if (!isObject(parsed)) {
    throw new UsageError(
      `key must be a JSON object such as {"id":"abc"} or {"id":{"S":"abc"}}, got ${describe(parsed)}`,
    );
  }
  const attrs = schema.range ? [schema.hash, schema.range] : [schema.hash];
  const expected = new Set(attrs.map((a) => a.name));
  for (const name of Object.keys(parsed)) {
    if (!expected.has(name)) {
      throw new UsageError(
        `key has attribute "${name}", which is not part of the table's key ${describeSchema(schema)}`,
      );
    }
  }
  const values = Object.values(parsed);
  const dynamoJson = values.length > 0 && values.every(isTypedValue);
  const key: Key = {};
  for (const attr of attrs) {
    const v = ownAttribute(parsed, attr.name);
    if (v === undefined) {
      throw new UsageError(
        `key is missing attribute "${attr.name}" (${attr.type}); the table's key is ${describeSchema(schema)}`,
      );
    }
    const value = dynamoJson ? fromTyped(attr.name, v) : fromPlain(attr.name, v, attr.type);
    checkValue(attr.name, value, attr.type);
    setAttribute(key, attr.name, value);
  }
  return key;
}
