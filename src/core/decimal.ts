/**
 * Exact decimal arithmetic on DynamoDB number strings. DynamoDB numbers carry up to 38 significant
 * digits and exponents from -130 to +125, far beyond what a JavaScript `Number` holds, so they are
 * never converted: they are parsed into sign, significant digits and exponent and compared as text.
 */

/** Syntax DynamoDB accepts for a number (Java BigDecimal's): optional sign, digits, point, exponent. */
const NUMBER_SYNTAX = /^([+-]?)(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?$/;

/** DynamoDB's documented limits for the N type. */
export const MAX_NUMBER_DIGITS = 38;
/** Smallest positive magnitude is 1E-130, so the leading digit sits at most 130 places after the point. */
const MIN_EXPONENT = -129;
/** Largest magnitude is 9.99...E+125, so the leading digit sits at most 126 places before the point. */
const MAX_EXPONENT = 126;

/**
 * A number as sign, significant digits and exponent: value = sign * 0.<digits> * 10^exponent.
 * `digits` has no leading or trailing zeros; zero is `{ sign: 0, digits: '', exponent: 0 }`, so two
 * decimals are equal exactly when their fields are equal.
 */
export interface Decimal {
  readonly sign: -1 | 0 | 1;
  readonly digits: string;
  readonly exponent: number;
}

const ZERO: Decimal = { sign: 0, digits: '', exponent: 0 };

/** Parses number syntax exactly; undefined when `text` is not a number at all. */
export function parseDecimal(text: string): Decimal | undefined {
  const m = NUMBER_SYNTAX.exec(text);
  if (!m) return undefined;
  const [, signText, intPart = '', fracPartA, fracPartB, expText] = m;
  const fracPart = fracPartA ?? fracPartB ?? '';
  const all = intPart + fracPart;
  const lead = all.search(/[1-9]/);
  if (lead < 0) return ZERO;
  const digits = all.slice(lead).replace(/0+$/, '');
  // An exponent too long for a safe integer is far out of DynamoDB's range either way; clamping it
  // keeps comparisons right (it still dwarfs every other exponent) without BigInt on the hot path.
  let exp = expText === undefined ? 0 : Number(expText);
  if (!Number.isSafeInteger(exp)) exp = exp < 0 ? -Number.MAX_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
  return { sign: signText === '-' ? -1 : 1, digits, exponent: exp + intPart.length - lead };
}

/** Why `text` is not a number DynamoDB would store, or undefined when it is valid. */
export function numberProblem(text: string): string | undefined {
  const d = parseDecimal(text);
  if (!d) return `"${text}" is not a number`;
  if (d.digits.length > MAX_NUMBER_DIGITS) {
    return `"${text}" has ${d.digits.length} significant digits (DynamoDB keeps at most ${MAX_NUMBER_DIGITS})`;
  }
  if (d.sign !== 0 && (d.exponent > MAX_EXPONENT || d.exponent < MIN_EXPONENT)) {
    return `"${text}" is out of DynamoDB's range (magnitude 1E-130 to 9.9999999999999999999999999999999999999E+125)`;
  }
  return undefined;
}

export function isValidNumber(text: string): boolean {
  return numberProblem(text) === undefined;
}

/** Exact comparison of two parsed decimals: -1, 0 or 1. */
export function compareDecimals(a: Decimal, b: Decimal): number {
  if (a.sign !== b.sign) return a.sign < b.sign ? -1 : 1;
  if (a.sign === 0) return 0;
  let magnitude: number;
  if (a.exponent !== b.exponent) magnitude = a.exponent < b.exponent ? -1 : 1;
  else magnitude = a.digits === b.digits ? 0 : a.digits < b.digits ? -1 : 1;
  // Digit strings without trailing zeros compare correctly as text: a proper prefix is the smaller.
  return magnitude === 0 ? 0 : magnitude * a.sign;
}

/** Canonical text of a decimal for hashing or display: "0", or "-0.123E5" style. */
export function formatDecimal(d: Decimal): string {
  if (d.sign === 0) return '0';
  return `${d.sign < 0 ? '-' : ''}0.${d.digits}E${d.exponent}`;
}

/** One text per numeric value ("1.50", "15E-1" and "1.5" give the same), or undefined for a non-number. */
export function numberIdentity(text: string): string | undefined {
  const d = parseDecimal(text);
  return d && formatDecimal(d);
}
