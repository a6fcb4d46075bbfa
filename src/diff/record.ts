/**
 * Single-item checks and fixes: `diff-record` (both images and whether they are equal) and
 * `replicate-record` (copy one item from the primary, or delete it from the replica when the primary
 * has none). Both read strongly consistently.
 */
import { assertSameKeySchema } from '../dynamodb/tables.js';
import type { Item, Key } from '../core/types.js';
import { classify, lookupOf, type DiscrepancyKind } from './diff-tables.js';
import type { DiffSide, RepairTarget } from './side.js';

export interface RecordDiff {
  readonly key: Key;
  readonly primary?: Item;
  readonly replica?: Item;
  /** undefined when the two sides are equal (including both absent). */
  readonly kind?: DiscrepancyKind;
}

/**
 * Reads one key from both sides (strongly consistent) and says how they differ: `kind` is absent
 * when they are equal, including both absent.
 *
 * @example
 * const d = await diffRecord(primary, replica, { id: { S: 'u1' } });
 * console.log(d.kind ?? 'equal'); // 'missing' | 'different' | 'extraneous' | 'equal'
 */
export async function diffRecord(primary: DiffSide, replica: DiffSide, key: Key): Promise<RecordDiff> {
  assertSameKeySchema(primary.keySchema, replica.keySchema, [primary.label, replica.label]);
  const [[p], [r]] = await Promise.all([lookupOf(primary)([key]), lookupOf(replica)([key])]);
  const kind = classify(p, r);
  return { key, ...(p ? { primary: p } : {}), ...(r ? { replica: r } : {}), ...(kind ? { kind } : {}) };
}

export interface RecordReplication {
  readonly key: Key;
  /** `put` when the primary has the item, `delete` when it does not. */
  readonly action: 'put' | 'delete';
  readonly item?: Item;
}

/**
 * Makes the replica hold the primary's current version of one item: a put, or a delete when the
 * primary has none.
 *
 * @example
 * const r = await replicateRecord(primary, tableTarget(replicaClient, 'users', { keySchema }), { id: { S: 'u1' } });
 * console.log(r.action); // 'put', or 'delete' when the primary has no such item
 */
export async function replicateRecord(
  primary: DiffSide,
  target: RepairTarget,
  key: Key,
): Promise<RecordReplication> {
  const [item] = await lookupOf(primary)([key]);
  await target.write([item ? { put: item } : { delete: key }]);
  return { key, action: item ? 'put' : 'delete', ...(item ? { item } : {}) };
}
