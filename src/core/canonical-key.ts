/**
 * The one name of an item. Every component that names an item (logs, S3 object names, diff reports,
 * error messages) uses `canonicalKey`/`keyId`, so the same item always gets the same name whatever
 * attribute order its key arrived in. Values are the exact wire values: a number is kept as the
 * string DynamoDB stores, never normalised, and binary is base64.
 */
import { createHash } from 'node:crypto';
import { ownAttribute, setAttribute } from './attribute-map.js';
import { toBase64 } from './ddb-json.js';
import { InvalidDataError } from './errors.js';
import type { AttributeValue, Item, Key, KeySchema, KeyType } from './types.js';

/** The scalar type of a key attribute value, or undefined when it is not S, N or B. */
export function scalarType(value: AttributeValue | undefined): KeyType | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if ('S' in value && typeof value.S === 'string') return 'S';
  if ('N' in value && typeof value.N === 'string') return 'N';
  if ('B' in value && value.B instanceof Uint8Array) return 'B';
  return undefined;
}

function typeName(value: AttributeValue): string {
  const keys = Object.keys(value);
  return keys.length === 1 ? (keys[0] as string) : `{${keys.join(',')}}`;
}

/** The key attributes of `item` per `schema`; InvalidDataError naming the attribute when absent or not the schema's type. */
export function keyOf(item: Item, schema: KeySchema): Key {
  const key: Key = {};
  for (const attr of schema.range ? [schema.hash, schema.range] : [schema.hash]) {
    const value = ownAttribute(item, attr.name);
    if (value === undefined) {
      throw new InvalidDataError(`item has no key attribute "${attr.name}" (expected type ${attr.type})`);
    }
    const type = scalarType(value);
    if (type !== attr.type) {
      throw new InvalidDataError(
        `key attribute "${attr.name}" has type ${typeName(value)}, expected ${attr.type}`,
      );
    }
    setAttribute(key, attr.name, value);
  }
  return key;
}

/** `{"S":"..."}` etc., exactly as JSON.stringify would write the one-type object. */
function canonicalValue(name: string, value: AttributeValue): string {
  if ('S' in value && typeof value.S === 'string') return `{"S":${JSON.stringify(value.S)}}`;
  if ('N' in value && typeof value.N === 'string') return `{"N":${JSON.stringify(value.N)}}`;
  if ('B' in value && value.B instanceof Uint8Array) return `{"B":"${toBase64(value.B)}"}`;
  throw new InvalidDataError(`key attribute "${name}" has type ${typeName(value)}; keys are S, N or B`);
}

/**
 * JSON text of a key with attribute names sorted by code unit and DynamoDB-JSON values, e.g.
 * `{"id":{"S":"a"},"n":{"N":"1.50"}}`.
 */
export function canonicalKey(key: Key): string {
  const names = Object.keys(key);
  // Keys have one or two attributes: sorting them by hand saves an array sort per item.
  if (names.length === 2 && (names[0] as string) > (names[1] as string)) names.reverse();
  else if (names.length > 2) names.sort();
  let out = '{';
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (i > 0) out += ',';
    out += `${JSON.stringify(name)}:${canonicalValue(name, key[name] as AttributeValue)}`;
  }
  return out + '}';
}

/** SHA-256 hex digest of the canonical key: a fixed-length, path-safe item name. */
export function keyId(key: Key): string {
  return keyIdOfCanonical(canonicalKey(key));
}

/** keyId of a key already in canonical text (its binary values are base64 there, not bytes). */
export function keyIdOfCanonical(canonical: string): string {
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}
