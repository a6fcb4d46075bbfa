/**
 * Attribute names are data. `__proto__`, `constructor`, `toString` and `hasOwnProperty` are legal
 * DynamoDB attribute names, and plain JavaScript objects get them wrong: `obj[name] = v` with
 * `__proto__` replaces the prototype instead of adding a field, and `obj[name]` or `name in obj`
 * with `constructor` finds Object.prototype's when the item has no such attribute.
 *
 * Items stay ordinary objects (the AWS SDK takes and returns them so), but every attribute the
 * project builds is an own data property made by `setAttribute` (define semantics, never
 * assignment), and every attribute it looks up by name is read by `ownAttribute`.
 */

/** Adds (or replaces) attribute `name` of `map` as an own property, whatever the name. */
export function setAttribute<T>(map: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(map, name, { value, writable: true, enumerable: true, configurable: true });
}

/** The attribute `name` of `map` when `map` has it itself; never anything inherited. */
export function ownAttribute<T>(map: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(map, name) ? map[name] : undefined;
}

/** A new map with `fn` applied to every attribute value, names kept exactly. */
export function mapAttributes<T, U>(
  map: Readonly<Record<string, T>>,
  fn: (value: T, name: string) => U,
): Record<string, U> {
  const out: Record<string, U> = {};
  for (const [name, value] of Object.entries(map)) setAttribute(out, name, fn(value, name));
  return out;
}
