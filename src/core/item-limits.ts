/**
 * DynamoDB's limits on one item, checked before anything is sent so a write the service would refuse
 * becomes an error naming the item (ItemLimitError) instead of an opaque ValidationException. The
 * rules, as DynamoDB Local enforces them (measured):
 * - nesting: the item is level 1 and every map or list one level deeper; a map or list below level 32
 *   is refused, even an empty one (so 31 maps or lists nested under an attribute is the most);
 * - attribute names, at the top and inside maps, are at least one character;
 * - key attribute values (S or B) are not empty; a partition key value is at most 2,048 bytes, a sort
 *   key value at most 1,024 bytes;
 * - the item is at most 400 KB (item-size.ts).
 * The structure is walked with an explicit stack that stops at the first map or list past the limit,
 * so an item nested 20,000 levels deep is reported, not a stack overflow.
 */
import { ItemLimitError } from './errors.js';
import { assertItemSize, itemKeyText, utf8Length } from './item-size.js';
import type { AttributeValue, Item, Key, KeySchema } from './types.js';

export const MAX_NESTING_LEVELS = 32;
export const MAX_PARTITION_KEY_BYTES = 2048;
export const MAX_SORT_KEY_BYTES = 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * Nesting and attribute-name problems of an item, typed or in DynamoDB JSON (both nest as
 * `{M: {...}}` and `{L: [...]}`); undefined when there are none. Safe on malformed input: anything
 * that is not a map or list is not descended into (the parsers report it).
 */
export function structureProblem(image: unknown): string | undefined {
  if (!isObject(image)) return undefined;
  // Only maps and lists go on the stack: scalars have nothing below them, and most items are flat.
  const stack: { children: Record<string, unknown> | unknown[]; level: number; attribute: string }[] = [];
  for (const [name, value] of Object.entries(image)) {
    if (name === '') return 'an attribute name is empty';
    const children = childrenOf(value);
    if (children !== undefined) stack.push({ children, level: 2, attribute: name });
  }
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { children, level, attribute } = top;
    if (level > MAX_NESTING_LEVELS) {
      return `attribute ${JSON.stringify(attribute)} nests deeper than DynamoDB's limit of ${MAX_NESTING_LEVELS} levels`;
    }
    if (Array.isArray(children)) {
      for (const e of children) {
        const below = childrenOf(e);
        if (below !== undefined) stack.push({ children: below, level: level + 1, attribute });
      }
      continue;
    }
    for (const [name, e] of Object.entries(children)) {
      if (name === '') return `attribute ${JSON.stringify(attribute)} holds a map with an empty key`;
      const below = childrenOf(e);
      if (below !== undefined) stack.push({ children: below, level: level + 1, attribute });
    }
  }
  return undefined;
}

/** The elements of a map or list value; undefined for anything else. */
function childrenOf(value: unknown): Record<string, unknown> | unknown[] | undefined {
  if (!isObject(value)) return undefined;
  return isObject(value.M) ? value.M : Array.isArray(value.L) ? value.L : undefined;
}

/**
 * Before a recursive parser sees an image (DynamoDB JSON from an event or a file): throws
 * ItemLimitError `${where}: <problem>` when it nests too deep or has an empty attribute name.
 */
export function assertStructure(image: unknown, where: string): void {
  const problem = structureProblem(image);
  if (problem !== undefined) throw new ItemLimitError(`${where}: ${problem}`, '');
}

function keyValueBytes(v: AttributeValue | undefined): number | undefined {
  if (v === undefined) return undefined;
  if ('S' in v) return utf8Length(v.S);
  if ('B' in v) return v.B.byteLength;
  return undefined; // N: at most 38 digits, never empty and never near the limits
}

/** Empty or over-long key values of an item or key; undefined when there are none. */
export function keyValueProblem(item: Item | Key, schema: KeySchema): string | undefined {
  const parts = [
    { attr: schema.hash, role: 'partition', max: MAX_PARTITION_KEY_BYTES },
    ...(schema.range ? [{ attr: schema.range, role: 'sort', max: MAX_SORT_KEY_BYTES }] : []),
  ];
  for (const { attr, role, max } of parts) {
    const bytes = keyValueBytes(item[attr.name]);
    if (bytes === 0) return `${role} key attribute "${attr.name}" is empty`;
    if (bytes !== undefined && bytes > max) {
      return `${role} key attribute "${attr.name}" is ${bytes} bytes, over DynamoDB's limit of ${max} bytes`;
    }
  }
  return undefined;
}

function limitError(item: Item | Key, schema: KeySchema | undefined, problem: string): ItemLimitError {
  const keyJson = itemKeyText(item, schema);
  return new ItemLimitError(`${keyJson ? `item ${keyJson}` : 'item'}: ${problem}`, keyJson);
}

/**
 * Checks every limit above (key values only when `schema` is given) and returns the item's size.
 * Throws ItemLimitError (ItemTooLargeError for the size) naming the item's key.
 */
export function assertItemLimits(item: Item, schema?: KeySchema): number {
  const problem = structureProblem(item) ?? (schema ? keyValueProblem(item, schema) : undefined);
  if (problem !== undefined) throw limitError(item, schema, problem);
  return assertItemSize(item, schema);
}

/** The key of a delete: key values within the limits (ItemLimitError otherwise). */
export function assertKeyLimits(key: Key, schema: KeySchema): void {
  const problem = keyValueProblem(key, schema);
  if (problem !== undefined) throw limitError(key, schema, problem);
}
