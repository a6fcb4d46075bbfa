/**
 * Planning a batch of changes, without I/O: group by canonical key, keep only the last change of each
 * key (stream order is the order given), and turn it into one write per key — INSERT/MODIFY put the
 * new image, REMOVE deletes the key, and with read-through an insert or update without an image reads
 * the current item from the source. An image whose key is not the record's key fails that key only.
 * A write DynamoDB would refuse whatever the moment (core/item-limits.ts: over 400 KB, nested deeper
 * than 32 levels, an empty attribute name, an empty or too long key value) rejects that key's records:
 * retrying cannot help, so the caller reports them and goes on. A batch that cannot be replicated at
 * all (records whose keys do not fit the key schema, a stream without new images and no read-through)
 * is refused whole.
 */
import { ownAttribute } from '../core/attribute-map.js';
import { canonicalKey, keyOf } from '../core/canonical-key.js';
import { compareSequenceNumbers, type Change } from '../core/change.js';
import { ItemLimitError, KeySchemaMismatchError, UsageError } from '../core/errors.js';
import { assertItemLimits, assertKeyLimits } from '../core/item-limits.js';
import type { Item, Key, KeySchema } from '../core/types.js';

export type PlannedAction =
  | { readonly kind: 'put'; readonly item: Item }
  | { readonly kind: 'delete' }
  /** Read-through: read the item from the source with a consistent read; put it, or delete if absent. */
  | { readonly kind: 'read' };

export interface PlannedWrite {
  /** The key attributes, in the schema's types. */
  readonly key: Key;
  /** canonicalKey(key). */
  readonly canonical: string;
  /** Lowest sequence number among the batch's records of this key: where a retry must start. */
  readonly firstSequenceNumber: string;
  /** How many records of the batch this one write stands for. */
  readonly records: number;
  readonly action: PlannedAction;
}

export interface PlanFailure {
  readonly key: Key;
  readonly canonical: string;
  readonly firstSequenceNumber: string;
  readonly records: number;
  readonly error: string;
}

export interface Plan {
  /** One entry per distinct key, in order of each key's first record. */
  readonly writes: readonly PlannedWrite[];
  readonly failures: readonly PlanFailure[];
  /** Keys whose write breaks one of DynamoDB's item limits: never written, never retried. */
  readonly rejected: readonly PlanFailure[];
}

export interface PlanOptions {
  readonly keySchema: KeySchema;
  /** Whether inserts/updates without a new image may be resolved by reading the source. */
  readonly readThrough?: boolean;
}

function schemaText(schema: KeySchema): string {
  const attr = (a: { name: string; type: string }, role: string): string => `${a.name} (${a.type}, ${role})`;
  return schema.range
    ? `${attr(schema.hash, 'hash')}, ${attr(schema.range, 'range')}`
    : attr(schema.hash, 'hash');
}

/**
 * The record's key in the schema's form. Keys that do not fit the schema mean the records come from
 * a table with another key schema: a configuration mistake, so the whole batch is refused.
 */
export function recordKey(change: Change, schema: KeySchema): Key {
  const expected = schema.range ? 2 : 1;
  let key: Key | undefined;
  try {
    key = keyOf(change.keys, schema);
  } catch {
    key = undefined;
  }
  if (key === undefined || Object.keys(change.keys).length !== expected) {
    throw new KeySchemaMismatchError(
      `stream record ${change.sequenceNumber} has key ${canonicalKey(change.keys)}, which does not fit the key schema ${schemaText(schema)}: the stream's table and the replica have different key schemas`,
    );
  }
  return key;
}

/** Refuses, before anything is written, a batch that needs new images the stream does not carry. */
export function assertImagesAvailable(changes: readonly Change[], readThrough: boolean): void {
  if (readThrough) return;
  for (const c of changes) {
    const noImages = c.streamViewType === 'KEYS_ONLY' || c.streamViewType === 'OLD_IMAGE';
    if (noImages || (c.eventName !== 'REMOVE' && c.newImage === undefined)) {
      const view = c.streamViewType ?? 'unknown';
      throw new UsageError(
        `stream record ${c.sequenceNumber} carries no new image (stream view type ${view}): replication needs a NEW_IMAGE or NEW_AND_OLD_IMAGES stream, or read-through (the Lambda variable ReadThrough, or --read-through for the runner) to read the current item from the source table`,
      );
    }
  }
}

interface Group {
  key: Key;
  canonical: string;
  first: string;
  records: number;
  last: Change;
}

/** Whether `image` holds exactly `key`'s values in its key attributes (cheaper than canonical keys). */
function imageHasKey(image: Item, key: Key, schema: KeySchema): boolean {
  for (const attr of schema.range ? [schema.hash, schema.range] : [schema.hash]) {
    const a = ownAttribute(image, attr.name) as Record<string, unknown> | undefined;
    const b = key[attr.name] as Record<string, unknown>;
    const x = a?.[attr.type];
    const y = b[attr.type];
    if (x === undefined) return false;
    if (typeof x === 'string' ? x !== y : !bytesEqual(x, y)) return false;
  }
  return true;
}

function bytesEqual(x: unknown, y: unknown): boolean {
  if (!(x instanceof Uint8Array) || !(y instanceof Uint8Array) || x.byteLength !== y.byteLength) return false;
  return Buffer.compare(x, y) === 0;
}

type Outcome = PlannedAction | string | { readonly rejected: string };

function withinLimits(check: () => void, action: PlannedAction): Outcome {
  try {
    check();
  } catch (error) {
    if (error instanceof ItemLimitError) return { rejected: error.message };
    throw error;
  }
  return action;
}

function actionFor(change: Change, group: Group, schema: KeySchema): Outcome {
  if (change.eventName === 'REMOVE')
    return withinLimits(() => assertKeyLimits(group.key, schema), { kind: 'delete' });
  const image = change.newImage;
  if (image === undefined) return withinLimits(() => assertKeyLimits(group.key, schema), { kind: 'read' });
  if (!imageHasKey(image, group.key, schema)) {
    let imageKey: string;
    try {
      imageKey = canonicalKey(keyOf(image, schema));
    } catch (error) {
      return `new image: ${(error as Error).message}`;
    }
    return `new image has key ${imageKey}, but the record's key is ${group.canonical}`;
  }
  return withinLimits(() => assertItemLimits(image, schema), { kind: 'put', item: image });
}

/** Plans one batch. Throws (nothing to write) on a key schema mismatch or missing images; see above. */
export function planChanges(changes: readonly Change[], options: PlanOptions): Plan {
  const schema = options.keySchema;
  assertImagesAvailable(changes, options.readThrough ?? false);
  const groups = new Map<string, Group>();
  for (const change of changes) {
    const key = recordKey(change, schema);
    const canonical = canonicalKey(key);
    const group = groups.get(canonical);
    if (group === undefined) {
      groups.set(canonical, { key, canonical, first: change.sequenceNumber, records: 1, last: change });
      continue;
    }
    group.records++;
    group.last = change;
    if (compareSequenceNumbers(change.sequenceNumber, group.first) < 0) group.first = change.sequenceNumber;
  }
  const writes: PlannedWrite[] = [];
  const failures: PlanFailure[] = [];
  const rejected: PlanFailure[] = [];
  for (const g of groups.values()) {
    const action = actionFor(g.last, g, schema);
    const base = { key: g.key, canonical: g.canonical, firstSequenceNumber: g.first, records: g.records };
    if (typeof action === 'string') failures.push({ ...base, error: action });
    else if ('rejected' in action) rejected.push({ ...base, error: action.rejected });
    else writes.push({ ...base, action });
  }
  return { writes, failures, rejected };
}
