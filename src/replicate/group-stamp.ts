/**
 * The metadata a multi-active group keeps in items (docs/multi-active.md). One string attribute,
 * the stamp, says which version of the item a member holds:
 *
 *     <version> <base> <hash>      e.g. "1764664000123.eu 1764663990000.us q3Zx9aB0cD1e"
 *
 * - version: `<13-digit epoch ms>.<member id>`, a hybrid logical clock with the member id as the
 *   tie-break. Versions (and so stamps) compare as plain strings, the way a DynamoDB condition
 *   `#stamp < :stamp` compares them: the space separator sorts below every id character, so string
 *   order is (time, member id) order.
 * - base: the version the writer's member held when the write was made (empty: none), which tells a
 *   concurrent write (a conflict) from one made on top of the other.
 * - hash: 72 bits of the item's data (everything but the metadata). An application write that leaves
 *   the stamp in place (UpdateItem, or a PutItem of an item read earlier) changes the data but not the
 *   hash, so the stamp no longer matches: the item holds a local write, not the stamped version.
 *
 * Deleted items are tombstones on the members the delete was replicated to: key + stamp + the
 * expiry attribute (epoch seconds, for DynamoDB TTL). Local writes stay unstamped at their origin;
 * only the copies on the other members carry the stamp, so replication writes each change once per
 * member, like one-way replication.
 */
import { ownAttribute, setAttribute } from '../core/attribute-map.js';
import { UsageError } from '../core/errors.js';
import type { AttributeValue, Item, KeySchema } from '../core/types.js';
import { itemFingerprint } from '../diff/fingerprint.js';

export interface GroupMetadataNames {
  /** The stamp (S). */
  readonly stamp: string;
  /** A tombstone's expiry, epoch seconds (N); enable DynamoDB TTL on it. Its presence marks a tombstone. */
  readonly expires: string;
}

export const DEFAULT_GROUP_METADATA: GroupMetadataNames = { stamp: 'rep:v', expires: 'rep:ttl' };

/** How long a tombstone stays before TTL may remove it: 2 days. */
export const DEFAULT_TOMBSTONE_TTL_MS = 2 * 86_400_000;

/**
 * `STAMP,EXPIRES` as the CLI option and the Lambda variable spell it; undefined -> the defaults. A
 * bad value gives the problem, for the caller's own error.
 */
export function parseGroupMetadataNames(text: string | undefined): GroupMetadataNames | { problem: string } {
  if (text === undefined) return DEFAULT_GROUP_METADATA;
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length !== 2 || parts.some((p) => p === '') || parts[0] === parts[1])
    return { problem: `must be two different names, STAMP,EXPIRES, got "${text}"` };
  return { stamp: parts[0] as string, expires: parts[1] as string };
}

/** Member ids: short, ASCII, no space (they end every version in every item). */
const MEMBER_ID = /^[A-Za-z0-9._-]{1,40}$/;
const VERSION = /^(\d{13})\.([A-Za-z0-9._-]{1,40})$/;
const HASH_LENGTH = 12;

export interface Stamp {
  readonly version: string;
  /** The version the writer held; undefined: none (a new item, or a member that never got one). */
  readonly base?: string;
  readonly hash: string;
}

export function checkMemberId(id: string): string {
  if (!MEMBER_ID.test(id))
    throw new UsageError(
      `member id "${id}" is not usable: 1 to 40 characters of A-Z a-z 0-9 . _ - (it is part of every stamp)`,
    );
  return id;
}

export function formatVersion(time: number, member: string): string {
  return `${String(Math.max(0, Math.floor(time))).padStart(13, '0')}.${member}`;
}

export function versionTime(version: string): number {
  return Number(version.slice(0, 13));
}

export function versionMember(version: string): string {
  return version.slice(14);
}

/** -1, 0, 1 in the group's total order; undefined (no version) sorts below every version. */
export function compareVersions(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return a < b ? -1 : 1;
}

export function maxVersion(a: string | undefined, b: string | undefined): string | undefined {
  return compareVersions(a, b) >= 0 ? a : b;
}

export function formatStamp(stamp: Stamp): string {
  return `${stamp.version} ${stamp.base ?? ''} ${stamp.hash}`;
}

export function parseStampText(text: string): Stamp | undefined {
  const parts = text.split(' ');
  if (parts.length !== 3) return undefined;
  const [version, base, hash] = parts as [string, string, string];
  if (!VERSION.test(version) || (base !== '' && !VERSION.test(base)) || hash.length !== HASH_LENGTH)
    return undefined;
  return { version, ...(base ? { base } : {}), hash };
}

/** The stamp an item carries, whether or not it still matches the data; undefined without one. */
export function stampOf(item: Item | undefined, names: GroupMetadataNames): Stamp | undefined {
  if (!item) return undefined;
  const value = ownAttribute(item, names.stamp);
  return value && 'S' in value ? parseStampText(value.S) : undefined;
}

/** The item without the group's metadata: what applications wrote. */
export function dataOf(item: Item, names: GroupMetadataNames): Item {
  const out: Item = {};
  for (const name of Object.keys(item)) {
    if (name === names.stamp || name === names.expires) continue;
    setAttribute(out, name, item[name] as AttributeValue);
  }
  return out;
}

export function dataHash(data: Item): string {
  return itemFingerprint(data).slice(0, HASH_LENGTH);
}

/**
 * The stamp of an item that still holds the stamped version (its data hashes to the stamp's hash);
 * undefined when the item has no stamp or holds a local write made over a stamped one.
 */
export function validStamp(
  item: Item | undefined,
  names: GroupMetadataNames = DEFAULT_GROUP_METADATA,
): Stamp | undefined {
  const stamp = stampOf(item, names);
  return stamp && stamp.hash === dataHash(dataOf(item as Item, names)) ? stamp : undefined;
}

/** A stamped tombstone: the key, the stamp and the expiry, nothing else. */
export function isTombstone(
  item: Item | undefined,
  names: GroupMetadataNames = DEFAULT_GROUP_METADATA,
): boolean {
  return (
    item !== undefined &&
    ownAttribute(item, names.expires) !== undefined &&
    validStamp(item, names) !== undefined
  );
}

/** `data` carrying `stamp`: what a member is sent. */
export function stampedItem(data: Item, stamp: Stamp, names: GroupMetadataNames): Item {
  const out = dataOf(data, names);
  setAttribute<AttributeValue>(out, names.stamp, { S: formatStamp(stamp) });
  return out;
}

export function tombstoneItem(
  key: Item,
  stamp: Stamp,
  expiresAtSeconds: number,
  names: GroupMetadataNames,
): Item {
  const out = stampedItem(key, stamp, names);
  setAttribute<AttributeValue>(out, names.expires, { N: String(Math.floor(expiresAtSeconds)) });
  return out;
}

/**
 * The smallest aid for applications that write back items they read earlier: without the metadata,
 * the write is always recognised as local (a copy that keeps a stamp may be taken for a replicated
 * write; see docs/multi-active.md, "ambiguous records").
 *
 * @example
 * const { Item } = await client.send(new GetItemCommand({ TableName: 'users', Key: key }));
 * await client.send(new PutItemCommand({ TableName: 'users', Item: withoutGroupMetadata({ ...Item, name: { S: 'new' } }) }));
 */
export function withoutGroupMetadata(item: Item, names: GroupMetadataNames = DEFAULT_GROUP_METADATA): Item {
  return dataOf(item, names);
}

/** Metadata names must differ from each other and from the key attributes; UsageError otherwise. */
export function checkMetadataNames(names: GroupMetadataNames, keySchema: KeySchema): void {
  if (!names.stamp || !names.expires || names.stamp === names.expires)
    throw new UsageError(
      `the group's metadata attributes must be two different non-empty names, got "${names.stamp}" and "${names.expires}"`,
    );
  for (const attr of [keySchema.hash, keySchema.range]) {
    if (attr && (attr.name === names.stamp || attr.name === names.expires))
      throw new UsageError(
        `the metadata attribute "${attr.name}" is a key attribute of the tables; choose other names with --metadata-attributes`,
      );
  }
}

/** An item's metadata that is not the group's (an application attribute of the same name). */
export function foreignMetadata(item: Item, names: GroupMetadataNames): string | undefined {
  const stamp = ownAttribute(item, names.stamp);
  if (stamp !== undefined && !('S' in stamp && parseStampText(stamp.S)))
    return `${names.stamp} = ${JSON.stringify(stamp).slice(0, 60)}`;
  const expires = ownAttribute(item, names.expires);
  if (expires !== undefined && !('N' in expires && stamp !== undefined))
    return `${names.expires} = ${JSON.stringify(expires).slice(0, 60)}`;
  return undefined;
}
