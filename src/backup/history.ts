/**
 * Item-level views of a change log: every version of one item, its latest backed-up state, and a
 * synthetic change recording an item's current state (`incremental-backup-record`).
 *
 * Finding one key reads the segments of the requested time range (the log is organised by time,
 * not by key); narrow it with `since`/`until` on a long log.
 */
import { canonicalKey, keyId, keyOf, scalarType } from '../core/canonical-key.js';
import { NotFoundError } from '../core/errors.js';
import type { Change } from '../core/change.js';
import type { Item, Key, KeySchema } from '../core/types.js';
import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import {
  compareLogged,
  readChanges,
  SYNTHETIC_SHARD_PREFIX,
  writeChangeBatch,
  type LoggedBatch,
  type LoggedChange,
} from './change-log.js';
import { checkedLogOwner, claimLog, segmentCheck, type LogClaim } from './log-identity.js';
import type { TimeRange } from './log-manifest.js';
import { listSnapshots, openSnapshot, snapshotStore, type SnapshotInfo } from './point-in-time.js';

/** One version of an item: what happened, when, and the item after it (absent after a REMOVE). */
export interface ItemVersion {
  readonly time: number;
  readonly eventName: Change['eventName'];
  readonly sequenceNumber: string;
  readonly shardId: string;
  /** Written by `incremental-backup-record` rather than read from the stream. */
  readonly synthetic: boolean;
  readonly image?: Item;
  readonly oldImage?: Item;
}

function toVersion(c: LoggedChange): ItemVersion {
  return {
    time: c.approximateCreationTime,
    eventName: c.eventName,
    sequenceNumber: c.sequenceNumber,
    shardId: c.shardId,
    synthetic: c.shardId.startsWith(SYNTHETIC_SHARD_PREFIX),
    ...(c.newImage && c.eventName !== 'REMOVE' ? { image: c.newImage } : {}),
    ...(c.oldImage ? { oldImage: c.oldImage } : {}),
  };
}

/**
 * Every logged version of the item with `key` in `range`, oldest first, re-delivered copies dropped.
 * A log holding parts of another table is refused (LogIdentityError).
 *
 * @example
 * for (const v of await recordHistory(openObjectStore('s3://my-logs/users'), { id: { S: 'u1' } })) {
 *   console.log(new Date(v.time).toISOString(), v.eventName, JSON.stringify(v.image));
 * }
 */
export async function recordHistory(
  logStore: ObjectStore,
  key: Key,
  range: TimeRange = {},
): Promise<ItemVersion[]> {
  const where = formatStoreLocation(logStore.location);
  const check = segmentCheck(await checkedLogOwner(logStore, where), where);
  const id = keyId(key);
  const seen = new Set<string>();
  const found: LoggedChange[] = [];
  for await (const change of readChanges(logStore, range, { check })) {
    if (keyId(change.keys) !== id) continue;
    const identity = `${change.shardId}/${change.sequenceNumber}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    found.push(change);
  }
  return found.sort(compareLogged).map(toVersion);
}

/** Where the latest backed-up state of an item came from. */
export type LatestState =
  | { readonly source: 'log'; readonly version: ItemVersion }
  | { readonly source: 'snapshot'; readonly snapshot: SnapshotInfo; readonly item: Item }
  | { readonly source: 'none' };

/**
 * The item's latest state in the backup: its last logged change, or (if the log never saw it
 * change) its item in the newest snapshot holding it, or none.
 */
export async function latestBackedUpState(
  logStore: ObjectStore,
  key: Key,
  schema: KeySchema,
): Promise<LatestState> {
  const history = await recordHistory(logStore, key);
  const last = history[history.length - 1];
  if (last) return { source: 'log', version: last };
  const id = keyId(key);
  const snapshots = await listSnapshots(logStore);
  for (const info of [...snapshots].reverse()) {
    const reader = await openSnapshot(snapshotStore(logStore, info), info);
    for await (const item of reader.items())
      if (keyId(keyOf(item, schema)) === id) return { source: 'snapshot', snapshot: info, item };
  }
  return { source: 'none' };
}

/**
 * Records an item's current state as a synthetic change: MODIFY with the item, or REMOVE when it
 * does not exist. Its shard is `record-<key id>` and its sequence number the time, so the object
 * name is deterministic per key and moment and it never collides with stream records. With
 * `owner` (the item's table and key schema), a log of another table is refused before anything is
 * written (LogIdentityError).
 *
 * @example
 * const key = { id: { S: 'u1' } };
 * const { items } = await batchGetAll(client, { users: { keys: [key], consistentRead: true } });
 * await backupRecord(logStore, key, items.users?.[0]);
 */
export async function backupRecord(
  logStore: ObjectStore,
  key: Key,
  item: Item | undefined,
  now: number = Date.now(),
  owner?: LogClaim,
): Promise<LoggedBatch & { readonly change: Change }> {
  if (owner) await claimLog(logStore, owner, formatStoreLocation(logStore.location));
  const change: Change = {
    eventName: item ? 'MODIFY' : 'REMOVE',
    keys: key,
    ...(item ? { newImage: item } : {}),
    sequenceNumber: String(now),
    shardId: `${SYNTHETIC_SHARD_PREFIX}${keyId(key).slice(0, 16)}`,
    approximateCreationTime: now,
  };
  const result = await writeChangeBatch(logStore, [change], {
    now,
    ...(owner ? { table: owner.table } : {}),
  });
  const failure = result.failed[0];
  if (failure) throw failure.error;
  return { ...result, change };
}

/** A key for messages: its canonical JSON. */
export function describeKey(key: Key): string {
  return canonicalKey(key);
}

/**
 * The key schema of a logged table: from the log's identity (log.json, or its snapshots' table
 * descriptions), else from the key attributes of the first logged change (their names and scalar
 * types). A log holding parts of another table is refused (LogIdentityError).
 */
export async function logKeySchema(logStore: ObjectStore, where: string): Promise<KeySchema> {
  const owner = await checkedLogOwner(logStore, where);
  if (owner?.keySchema) return owner.keySchema;
  for await (const change of readChanges(logStore, {}, { check: segmentCheck(owner, where) })) {
    const [hash, range] = Object.entries(change.keys).map(([name, value]) => ({
      name,
      type: scalarType(value) ?? 'S',
    }));
    if (hash) return range ? { hash, range } : { hash };
  }
  throw new NotFoundError(
    `${where} holds no snapshot and no change: it is not a change log (or it is empty)`,
  );
}
