/**
 * Item size as DynamoDB computes it for the 400 KB limit and capacity units (the "Item sizes and
 * formats" page of the DynamoDB developer guide, made exact by measuring DynamoDB Local): UTF-8 bytes
 * of every attribute name plus its value; S is its UTF-8 bytes, N see numberSize, B its raw bytes,
 * BOOL and NULL 1 byte, M and L 3 bytes plus 1 per element plus the elements (map keys count like
 * attribute names), sets the sum of their members. Checking before sending turns DynamoDB's opaque
 * ValidationException into an error that names the item.
 */
import { canonicalKey, keyOf } from './canonical-key.js';
import { assertValueObject } from './ddb-json.js';
import { parseDecimal } from './decimal.js';
import { ItemTooLargeError } from './errors.js';
import type { AttributeValue, Item, KeySchema } from './types.js';

export const MAX_ITEM_BYTES = 409600;

const MAP_OR_LIST_OVERHEAD = 3;
const ELEMENT_OVERHEAD = 1;

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * The guide says "approximately 1 byte per two significant digits, plus 1". Measured against
 * DynamoDB Local, the exact rule is a base-100 encoding: digits are paired from the decimal point
 * (so 1.5 is "01|50", 2 bytes, while 15 is one byte), plus 1 byte of exponent, plus 1 more for a
 * negative number. That is never below the approximation, so an item that passes this check also
 * passes the service's.
 */
export function numberSize(text: string): number {
  const plain = plainNumberSize(text);
  if (plain !== undefined) return plain;
  const d = parseDecimal(text);
  if (!d) return Math.ceil(text.length / 2) + 1;
  if (d.sign === 0) return 1;
  // `exponent` counts the digits before the point; an odd count leaves a half-filled first pair.
  const alignedDigits = d.digits.length + (d.exponent % 2 === 0 ? 0 : 1);
  return Math.ceil(alignedDigits / 2) + 1 + (d.sign < 0 ? 1 : 0);
}

const ZERO_CODE = 48;
const NINE_CODE = 57;
const POINT_CODE = 46;
const MINUS_CODE = 45;

/**
 * numberSize of the common spelling `-?digits(.digits)?` in one pass over the characters, without
 * parseDecimal's regular expression and substrings (sizing every number of every copied item showed
 * in profiles); undefined for any other spelling (exponent, plus sign, leading point), which
 * numberSize then parses in full.
 */
function plainNumberSize(text: string): number | undefined {
  let i = text.charCodeAt(0) === MINUS_CODE ? 1 : 0;
  const negative = i === 1;
  const start = i;
  let point = -1;
  let firstNonZero = -1;
  let lastNonZero = -1;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === POINT_CODE) {
      if (point >= 0 || i === start) return undefined;
      point = i;
    } else if (c >= ZERO_CODE && c <= NINE_CODE) {
      if (c !== ZERO_CODE) {
        if (firstNonZero < 0) firstNonZero = i;
        lastNonZero = i;
      }
    } else return undefined;
  }
  if (i === start) return undefined;
  if (firstNonZero < 0) return 1;
  const pointAt = point < 0 ? text.length : point;
  // Digits from the first to the last non-zero one (the point not counted), and the exponent as
  // parseDecimal defines it: digits before the point, minus the leading zeros.
  const digits = lastNonZero - firstNonZero + 1 - (firstNonZero < pointAt && lastNonZero > pointAt ? 1 : 0);
  const exponent = firstNonZero < pointAt ? pointAt - firstNonZero : pointAt - firstNonZero + 1;
  const alignedDigits = digits + (exponent % 2 === 0 ? 0 : 1);
  return Math.ceil(alignedDigits / 2) + 1 + (negative ? 1 : 0);
}

/** Size of one value, without its attribute name. */
export function valueSize(v: AttributeValue): number {
  assertValueObject(v);
  if ('S' in v) return utf8Length(v.S);
  if ('N' in v) return numberSize(v.N);
  if ('B' in v) return v.B.byteLength;
  if ('BOOL' in v || 'NULL' in v) return 1;
  if ('SS' in v) return v.SS.reduce((sum, s) => sum + utf8Length(s), 0);
  if ('NS' in v) return v.NS.reduce((sum, n) => sum + numberSize(n), 0);
  if ('BS' in v) return v.BS.reduce((sum, b) => sum + b.byteLength, 0);
  if ('L' in v) {
    return v.L.reduce((sum, e) => sum + ELEMENT_OVERHEAD + valueSize(e), MAP_OR_LIST_OVERHEAD);
  }
  if ('M' in v) {
    let sum = MAP_OR_LIST_OVERHEAD;
    for (const [name, e] of Object.entries(v.M)) sum += ELEMENT_OVERHEAD + utf8Length(name) + valueSize(e);
    return sum;
  }
  return 0;
}

export function itemSize(item: Item): number {
  let sum = 0;
  for (const [name, v] of Object.entries(item)) sum += utf8Length(name) + valueSize(v);
  return sum;
}

/** The canonical key of an item for messages; '' without a schema or when a key attribute is missing. */
export function itemKeyText(item: Item, schema: KeySchema | undefined): string {
  if (!schema) return '';
  try {
    return canonicalKey(keyOf(item, schema));
  } catch {
    // The size or limit is the error being reported; a missing key attribute is reported when it is written.
    return '';
  }
}

/**
 * Throws ItemTooLargeError naming the item's key (when `schema` is given) and its size; returns the
 * size. item-limits.ts checks DynamoDB's other limits as well.
 */
export function assertItemSize(item: Item, schema?: KeySchema): number {
  const size = itemSize(item);
  if (size <= MAX_ITEM_BYTES) return size;
  const keyJson = itemKeyText(item, schema);
  const named = keyJson ? `item ${keyJson}` : 'item';
  throw new ItemTooLargeError(
    `${named} is ${size} bytes, over DynamoDB's limit of ${MAX_ITEM_BYTES} bytes (400 KB)`,
    keyJson,
    size,
  );
}
