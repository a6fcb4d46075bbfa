/**
 * A short digest of an item's value, so the scan-time join keeps ~22 bytes per unmatched item instead
 * of the item. Two items equal under core/equality (sets unordered, numbers by value, binary by bytes,
 * map attributes in any order) get the same fingerprint. The fingerprint only filters: a key whose
 * fingerprints differ is re-read from both sides and judged by `itemsEqual` before anything is
 * reported, so the digest never decides a difference on its own.
 */
import { createHash } from 'node:crypto';
import { numberIdentity } from '../core/decimal.js';
import { toBase64 } from '../core/ddb-json.js';
import type { AttributeValue, Item } from '../core/types.js';

function number(text: string): string {
  // A non-number cannot come from DynamoDB; keep its text so the re-read decides.
  return numberIdentity(text) ?? text;
}

function sortedSet(members: readonly string[]): string {
  return JSON.stringify([...new Set(members)].sort());
}

function encode(value: AttributeValue): string {
  if ('S' in value) return 'S' + JSON.stringify(value.S);
  if ('N' in value) return 'N' + number(value.N);
  if ('B' in value) return 'B' + toBase64(value.B);
  if ('BOOL' in value) return value.BOOL ? 'T' : 'F';
  if ('NULL' in value) return 'Z';
  if ('SS' in value) return 'SS' + sortedSet(value.SS);
  if ('NS' in value) return 'NS' + sortedSet(value.NS.map(number));
  if ('BS' in value) return 'BS' + sortedSet(value.BS.map(toBase64));
  if ('L' in value) return 'L[' + value.L.map(encode).join(',') + ']';
  if ('M' in value) return 'M' + encodeMap(value.M);
  return '?' + JSON.stringify(Object.keys(value));
}

function encodeMap(map: Record<string, AttributeValue>): string {
  const names = Object.keys(map).sort();
  let out = '{';
  for (const name of names) out += JSON.stringify(name) + ':' + encode(map[name] as AttributeValue) + ',';
  return out + '}';
}

/** The canonical text the fingerprint is taken of; exported for tests. */
export function canonicalItemText(item: Item): string {
  return encodeMap(item);
}

/** 128-bit digest (base64, 22 characters) of the item's canonical text. */
export function itemFingerprint(item: Item): string {
  return createHash('sha256').update(encodeMap(item), 'utf8').digest('base64').slice(0, 22);
}
