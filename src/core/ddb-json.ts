/**
 * DynamoDB JSON as AWS exports, the CLI and Lambda stream events write it: every value is an object
 * with one type key, numbers are strings, binary is base64. Reading is strict: anything DynamoDB would
 * not store is rejected with an InvalidDataError naming where it is (`line 7: item.tags.SS[2]: ...`),
 * so a corrupt backup or a malformed event is caught before it is written anywhere.
 */
import { InvalidDataError } from './errors.js';
import { numberIdentity, numberProblem } from './decimal.js';
import { mapAttributes } from './attribute-map.js';
import type { AttributeValue, Item } from './types.js';

/** The ten DynamoDB type descriptors. */
export const TYPE_KEYS: ReadonlySet<string> = new Set([
  'S',
  'N',
  'B',
  'SS',
  'NS',
  'BS',
  'M',
  'L',
  'NULL',
  'BOOL',
]);

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function fromBase64(text: string, where: string): Uint8Array {
  if (!BASE64.test(text)) fail(where, `"${preview(text)}" is not base64`);
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/**
 * InvalidDataError unless `v` is an object (what the type checks of a value need). An undefined
 * value comes e.g. from an SDK client that drops `__proto__` (see dynamodb/attribute-names.ts).
 */
export function assertValueObject(v: unknown): asserts v is object {
  if (typeof v !== 'object' || v === null) {
    throw new InvalidDataError(`not an attribute value: ${v === null ? 'null' : typeof v}`);
  }
}

export function valueToDynamoJson(v: AttributeValue): unknown {
  assertValueObject(v);
  if ('B' in v) return { B: toBase64(v.B) };
  if ('BS' in v) return { BS: v.BS.map(toBase64) };
  if ('M' in v) return { M: toDynamoJson(v.M) };
  if ('L' in v) return { L: v.L.map(valueToDynamoJson) };
  if ('SS' in v) return { SS: [...v.SS] };
  if ('NS' in v) return { NS: [...v.NS] };
  return { ...v };
}

export function toDynamoJson(item: Item): Record<string, unknown> {
  return mapAttributes(item, valueToDynamoJson);
}

/** Parses one DynamoDB JSON value. `context` (e.g. `export.json line 7`) prefixes error messages. */
export function valueFromDynamoJson(v: unknown, context?: string): AttributeValue {
  return parseValue(v, context ? `${context}: value` : 'value');
}

/** Parses a DynamoDB JSON item (attribute name -> typed value). */
export function fromDynamoJson(value: unknown, context?: string): Item {
  return parseMap(value, context ? `${context}: item` : 'item');
}

function fail(where: string, problem: string): never {
  throw new InvalidDataError(`${where}: ${problem}`);
}

function preview(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string "${preview(v)}"`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function child(where: string, name: string): string {
  return IDENTIFIER.test(name) ? `${where}.${name}` : `${where}[${JSON.stringify(name)}]`;
}

function parseMap(v: unknown, where: string): Record<string, AttributeValue> {
  if (!isPlainObject(v)) fail(where, `expected an object of attributes, got ${describe(v)}`);
  return mapAttributes(v, (value, name) => parseValue(value, child(where, name)));
}

function parseString(v: unknown, where: string): string {
  if (typeof v !== 'string') fail(where, `expected a string, got ${describe(v)}`);
  return v;
}

function parseNumber(v: unknown, where: string): string {
  if (typeof v !== 'string') fail(where, `N must be a string, got ${describe(v)}`);
  const problem = numberProblem(v);
  if (problem) fail(where, problem);
  return v;
}

function parseSet<T>(
  v: unknown,
  where: string,
  member: (m: unknown, where: string) => T,
  identity: (m: T) => string,
): T[] {
  if (!Array.isArray(v)) fail(where, `a set must be an array, got ${describe(v)}`);
  if (v.length === 0) fail(where, 'a set must not be empty');
  const seen = new Set<string>();
  return v.map((m, i) => {
    const parsed = member(m, `${where}[${i}]`);
    const id = identity(parsed);
    if (seen.has(id)) fail(`${where}[${i}]`, 'duplicate set member');
    seen.add(id);
    return parsed;
  });
}

function parseValue(v: unknown, where: string): AttributeValue {
  if (!isPlainObject(v)) fail(where, `expected an object with one type key, got ${describe(v)}`);
  const keys = Object.keys(v);
  if (keys.length !== 1) {
    fail(
      where,
      `expected exactly one type key (S, N, B, SS, NS, BS, M, L, NULL, BOOL), got ${keys.length}: ${keys.join(', ')}`,
    );
  }
  const type = keys[0] as string;
  const inner = v[type];
  // Paths name attributes and positions only (`item.attrs.list[2]`), not the type keys between them.
  switch (type) {
    case 'S':
      return { S: parseString(inner, where) };
    case 'N':
      return { N: parseNumber(inner, where) };
    case 'B':
      return { B: fromBase64(parseString(inner, where), where) };
    case 'SS':
      return { SS: parseSet(inner, where, parseString, (s) => s) };
    case 'NS':
      // Duplicates are by value: DynamoDB rejects {"NS":["1","1.0"]}.
      return { NS: parseSet(inner, where, parseNumber, (n) => numberIdentity(n) ?? n) };
    case 'BS':
      return { BS: parseSet(inner, where, (m, w) => fromBase64(parseString(m, w), w), toBase64) };
    case 'M':
      return { M: parseMap(inner, where) };
    case 'L':
      if (!Array.isArray(inner)) fail(where, `L must be an array, got ${describe(inner)}`);
      return { L: inner.map((m, i) => parseValue(m, `${where}[${i}]`)) };
    case 'NULL':
      if (inner !== true) fail(where, `NULL must be true, got ${describe(inner)}`);
      return { NULL: true };
    case 'BOOL':
      if (typeof inner !== 'boolean') fail(where, `BOOL must be true or false, got ${describe(inner)}`);
      return { BOOL: inner };
    default:
      return fail(where, `unknown type key "${type}" (expected S, N, B, SS, NS, BS, M, L, NULL or BOOL)`);
  }
}
