/**
 * Equality of DynamoDB values as DynamoDB means it: types must match (S "1" is not N "1"), numbers
 * compare by exact value ("1.50" equals "1.5"), sets ignore order and duplicates, binary compares
 * bytes, maps ignore key order and lists keep theirs.
 */
import { toBase64 } from './ddb-json.js';
import { InvalidDataError } from './errors.js';
import { compareDecimals, numberIdentity, parseDecimal, type Decimal } from './decimal.js';
import type { AttributeValue, Item } from './types.js';

function decimalOf(text: string): Decimal {
  const d = parseDecimal(text);
  if (!d) throw new InvalidDataError(`"${text}" is not a number`);
  return d;
}

/** Exact decimal comparison of two DynamoDB number strings: -1, 0 or 1. InvalidDataError for non-numbers. */
export function compareNumberStrings(a: string, b: string): number {
  if (a === b) {
    decimalOf(a);
    return 0;
  }
  return compareDecimals(decimalOf(a), decimalOf(b));
}

export function numbersEqual(a: string, b: string): boolean {
  return a === b || compareNumberStrings(a, b) === 0;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  if (x.size !== y.size) return false;
  for (const v of x) if (!y.has(v)) return false;
  return true;
}

/** Type-aware, lossless equality of two attribute values. */
export function valuesEqual(a: AttributeValue, b: AttributeValue): boolean {
  if ('S' in a) return 'S' in b && a.S === b.S;
  if ('N' in a) return 'N' in b && numbersEqual(a.N, b.N);
  if ('B' in a) return 'B' in b && bytesEqual(a.B, b.B);
  if ('BOOL' in a) return 'BOOL' in b && a.BOOL === b.BOOL;
  if ('NULL' in a) return 'NULL' in b && a.NULL === b.NULL;
  if ('SS' in a) return 'SS' in b && sameMembers(a.SS, b.SS);
  if ('NS' in a) {
    // Members are compared by value, so each is reduced to its one canonical form first.
    return 'NS' in b && sameMembers(a.NS.map(canonicalNumber), b.NS.map(canonicalNumber));
  }
  if ('BS' in a) return 'BS' in b && sameMembers(a.BS.map(toBase64), b.BS.map(toBase64));
  if ('L' in a) {
    if (!('L' in b) || a.L.length !== b.L.length) return false;
    return a.L.every((v, i) => valuesEqual(v, b.L[i] as AttributeValue));
  }
  if ('M' in a) return 'M' in b && mapsEqual(a.M, b.M);
  throw new InvalidDataError(`not an attribute value: ${JSON.stringify(Object.keys(a))}`);
}

function canonicalNumber(text: string): string {
  const id = numberIdentity(text);
  if (id === undefined) throw new InvalidDataError(`"${text}" is not a number`);
  return id;
}

function mapsEqual(a: Record<string, AttributeValue>, b: Record<string, AttributeValue>): boolean {
  const names = Object.keys(a);
  if (names.length !== Object.keys(b).length) return false;
  for (const name of names) {
    if (!Object.hasOwn(b, name)) return false;
    if (!valuesEqual(a[name] as AttributeValue, b[name] as AttributeValue)) return false;
  }
  return true;
}

/** Two items are equal when both are absent, or both have the same attributes with equal values. */
export function itemsEqual(a: Item | undefined, b: Item | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return mapsEqual(a, b);
}
