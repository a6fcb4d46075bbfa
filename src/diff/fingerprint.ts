/**
 * A short digest of an item's value, so the scan-time join keeps ~22 bytes per unmatched item instead
 * of the item. Two items equal under core/equality (sets unordered, numbers by value, binary by bytes,
 * map attributes in any order) get the same fingerprint. The fingerprint only filters: a key whose
 * fingerprints differ is re-read from both sides and judged by `itemsEqual` before anything is
 * reported, so the digest never decides a difference on its own.
 */
import { hash } from 'node:crypto';
import { parseDecimal } from '../core/decimal.js';
import { toBase64 } from '../core/ddb-json.js';
import type { AttributeValue, Item } from '../core/types.js';

/**
 * Numbers as DynamoDB returns them (no exponent, no leading zeros, no trailing fraction zeros, no
 * "-0") already have one text per value; only other spellings pay for the exact decimal parse.
 */
const PLAIN_NUMBER = /^-?(?:[1-9]\d*(?:\.\d*[1-9])?|0\.\d*[1-9])$|^0$/;

function number(text: string): string {
  if (PLAIN_NUMBER.test(text)) return text;
  const d = parseDecimal(text);
  // A non-number cannot come from DynamoDB; keep its text so the re-read decides.
  if (!d) return '?' + text;
  if (d.sign === 0) return '0';
  // The same plain form for value 0.<digits> x 10^exponent.
  const { digits, exponent } = d;
  let plain: string;
  if (exponent <= 0) plain = '0.' + '0'.repeat(-exponent) + digits;
  else if (exponent >= digits.length) plain = digits + '0'.repeat(exponent - digits.length);
  else plain = digits.slice(0, exponent) + '.' + digits.slice(exponent);
  return (d.sign < 0 ? '-' : '') + plain;
}

/** Length-prefixed text: unambiguous without escaping. */
function str(text: string): string {
  return text.length + ':' + text;
}

function sortedSet(members: readonly string[]): string {
  const sorted = [...members].sort();
  let out = '';
  let count = 0;
  for (let i = 0; i < sorted.length; i++) {
    const m = sorted[i] as string;
    if (i > 0 && m === sorted[i - 1]) continue; // a set's members are unique; be safe anyway
    out += m.length + ':' + m;
    count++;
  }
  return count + '[' + out;
}

function encode(value: AttributeValue): string {
  if ('S' in value) return 'S' + str(value.S);
  if ('N' in value) return 'N' + str(number(value.N));
  if ('B' in value) return 'B' + str(toBase64(value.B));
  if ('BOOL' in value) return value.BOOL ? 'T' : 'F';
  if ('NULL' in value) return 'Z';
  if ('SS' in value) return 'SS' + sortedSet(value.SS);
  if ('NS' in value) return 'NS' + sortedSet(value.NS.map(number));
  if ('BS' in value) return 'BS' + sortedSet(value.BS.map(toBase64));
  if ('L' in value) {
    let out = 'L' + value.L.length + '[';
    for (const v of value.L) out += encode(v);
    return out;
  }
  if ('M' in value) return 'M' + encodeMap(value.M);
  return '?' + str(JSON.stringify(Object.keys(value)));
}

function encodeMap(map: Record<string, AttributeValue>): string {
  const names = Object.keys(map).sort();
  let out = names.length + '{';
  for (const name of names) out += str(name) + encode(map[name] as AttributeValue);
  return out;
}

/** The canonical text the fingerprint is taken of; exported for tests. */
export function canonicalItemText(item: Item): string {
  return encodeMap(item);
}

/** 128 bits (base64, 22 characters) of the SHA-256 of the item's canonical text. */
export function itemFingerprint(item: Item): string {
  return hash('sha256', encodeMap(item), 'base64').slice(0, 22);
}
