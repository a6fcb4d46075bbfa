/**
 * What a member of a multi-active group does with each record of its own stream: pure functions over
 * the record, the member's memory of its own last local write of the key, and the group's settings.
 * The stream runner's directions and a Lambda handler per member stream take the same decisions
 * (docs/multi-active.md has the rules with their reasons).
 *
 * - A local write (an application's: no stamp, a stamp that no longer matches the data, or a stamp
 *   not newer than the one it replaced) gets a version derived from the record alone plus the memory:
 *   time = max(stream time, base time + 1, previous local version's time + 1). Reading the record
 *   again (a retry, a restart) gives the same version, so duplicates are recognised everywhere.
 * - A stamped write newer than the stamp it replaced is a replicated write (or a repair) arriving
 *   here: never sent on. When it replaced a different version, the two are compared: concurrent
 *   versions of different members are a conflict (logged), and when it replaced this member's own
 *   newer local write (which it could, since local writes leave the stored stamp stale), that write
 *   is restored (a repair: the only write a member makes to its own table).
 * - A REMOVE of a tombstone is its expiry; any other REMOVE is a local delete, sent as a tombstone.
 */
import { ownAttribute } from '../core/attribute-map.js';
import { canonicalKey, keyOf } from '../core/canonical-key.js';
import type { Change } from '../core/change.js';
import { InvalidDataError } from '../core/errors.js';
import type { Item, Key, KeySchema } from '../core/types.js';
import {
  compareVersions,
  dataHash,
  dataOf,
  formatVersion,
  isTombstone,
  maxVersion,
  stampedItem,
  stampOf,
  tombstoneItem,
  validStamp,
  versionMember,
  versionTime,
  type GroupMetadataNames,
  type Stamp,
} from './group-stamp.js';

/** This member's latest local write of one key, with the version it was given. */
export interface LocalMemo {
  readonly stamp: Stamp;
  readonly deleted: boolean;
}

export interface GroupContext {
  /** This member's id (the member whose stream the records come from). */
  readonly self: string;
  readonly names: GroupMetadataNames;
  readonly keySchema: KeySchema;
  /** How long tombstones live (their expiry = version time + this). */
  readonly tombstoneTtlMs: number;
}

/** A version that lost to a concurrent one. */
export interface Conflict {
  /** canonicalKey of the item. */
  readonly key: string;
  readonly winner: string;
  readonly loser: string;
  readonly winnerDeleted: boolean;
  readonly loserDeleted: boolean;
  /** The member where the two met. */
  readonly member: string;
}

/** Why the stream alone could not tell what a record was (counted, see docs/multi-active.md). */
export type AmbiguousReason =
  /** A stamped image over this member's own newer local write that carried no stamp: a replicated
   * write that overwrote it (restored), or an application putting back an older copy. */
  | 'stamped-copy-over-local'
  /** A stamped image over unstamped data whose local write is not in memory (older than the stream). */
  | 'unknown-local-version';

export type RecordPlan =
  | {
      readonly kind: 'local';
      readonly key: Key;
      readonly canonical: string;
      readonly stamp: Stamp;
      /** What the other members are sent: the stamped item, or a tombstone. */
      readonly send: Item;
      readonly memo: LocalMemo;
    }
  | {
      readonly kind: 'arrived';
      readonly key: Key;
      readonly canonical: string;
      readonly stamp: Stamp;
      /** The stamp's member; see handledBy for which direction acts on the record. */
      readonly handler: string;
      readonly conflict?: Conflict;
      /** Restore this member's own newer local write: put `item` here if its stamp is still older. */
      readonly repair?: { readonly item: Item; readonly stamp: Stamp };
      readonly ambiguous?: AmbiguousReason;
    }
  | { readonly kind: 'expired'; readonly key: Key; readonly canonical: string };

export type ArrivedPlan = Extract<RecordPlan, { readonly kind: 'arrived' }>;

interface Prior {
  readonly stamp: Stamp;
  /** This member's own local write (from memory), not a stamped item. */
  readonly own: boolean;
  readonly deleted: boolean;
}

/** Neither was written by a member that held the other (or a later version). */
export function concurrent(a: Stamp, b: Stamp): boolean {
  return compareVersions(a.base, b.version) < 0 && compareVersions(b.base, a.version) < 0;
}

/**
 * The version of a local write: later than what the member held (its stamp, even a stale one) and
 * than its previous local version of the key, and no earlier than the stream's time of the write.
 */
function localStamp(change: Change, memo: LocalMemo | undefined, ctx: GroupContext, data: Item): Stamp {
  const held = stampOf(change.oldImage, ctx.names)?.version;
  const base = maxVersion(held, memo?.stamp.base);
  const time = Math.max(
    change.approximateCreationTime ?? 0,
    base === undefined ? 0 : versionTime(base) + 1,
    memo === undefined ? 0 : versionTime(memo.stamp.version) + 1,
  );
  return {
    version: formatVersion(time, ctx.self),
    ...(base !== undefined ? { base } : {}),
    hash: dataHash(data),
  };
}

/** DynamoDB Local stamps stream records to the minute: an expiry may look up to that much early. */
const STREAM_TIME_SLACK_MS = 60_000;

/**
 * A REMOVE of a tombstone by TTL (at or after its expiry). An application's DeleteItem of a
 * tombstone before then is a local delete: it gets a version, so a later local write of the key is
 * ordered after the tombstone even though the member no longer holds it.
 */
function expiredTombstone(change: Change, names: GroupMetadataNames): boolean {
  if (!isTombstone(change.oldImage, names)) return false;
  const expires = ownAttribute(change.oldImage as Item, names.expires);
  const at = expires && 'N' in expires ? Number(expires.N) * 1000 : 0;
  return (change.approximateCreationTime ?? Infinity) >= at - STREAM_TIME_SLACK_MS;
}

/** What `change` (a record of `ctx.self`'s stream) means; `memo` is the member's memory of the key. */
export function decideRecord(change: Change, memo: LocalMemo | undefined, ctx: GroupContext): RecordPlan {
  const { names } = ctx;
  const key = keyOf(change.keys, ctx.keySchema);
  const canonical = canonicalKey(key);
  if (change.eventName === 'REMOVE') {
    if (expiredTombstone(change, names)) return { kind: 'expired', key, canonical };
    const stamp = localStamp(change, memo, ctx, key);
    const expires = (versionTime(stamp.version) + ctx.tombstoneTtlMs) / 1000;
    const send = tombstoneItem(key, stamp, expires, names);
    return { kind: 'local', key, canonical, stamp, send, memo: { stamp, deleted: true } };
  }
  const image = change.newImage;
  if (!image)
    throw new InvalidDataError(
      `a multi-active group needs NEW_AND_OLD_IMAGES streams: record ${change.sequenceNumber} has no new image`,
    );
  const incoming = validStamp(image, names);
  const held = stampOf(change.oldImage, names);
  if (incoming && compareVersions(incoming.version, held?.version) > 0)
    return arrived(change, memo, ctx, key, canonical, incoming);
  const data = dataOf(image, names);
  const stamp = localStamp(change, memo, ctx, data);
  const send = stampedItem(data, stamp, names);
  return { kind: 'local', key, canonical, stamp, send, memo: { stamp, deleted: false } };
}

function arrived(
  change: Change,
  memo: LocalMemo | undefined,
  ctx: GroupContext,
  key: Key,
  canonical: string,
  incoming: Stamp,
): RecordPlan {
  const member = versionMember(incoming.version);
  const base = { kind: 'arrived' as const, key, canonical, stamp: incoming, handler: member };
  const { prior, unknown } = priorOf(change, memo, ctx, incoming);
  if (unknown) return { ...base, ambiguous: 'unknown-local-version' };
  if (!prior) return base;
  const conflict =
    versionMember(prior.stamp.version) !== member && concurrent(prior.stamp, incoming)
      ? conflictOf(canonical, prior, incoming, change, ctx)
      : undefined;
  if (!prior.own || compareVersions(prior.stamp.version, incoming.version) <= 0)
    return { ...base, ...(conflict ? { conflict } : {}) };
  const item = prior.deleted
    ? tombstoneItem(
        key,
        prior.stamp,
        (versionTime(prior.stamp.version) + ctx.tombstoneTtlMs) / 1000,
        ctx.names,
      )
    : stampedItem(change.oldImage as Item, prior.stamp, ctx.names);
  const stampless = stampOf(change.oldImage, ctx.names) === undefined;
  return {
    ...base,
    ...(conflict ? { conflict } : {}),
    repair: { item, stamp: prior.stamp },
    ...(stampless ? { ambiguous: 'stamped-copy-over-local' as const } : {}),
  };
}

/**
 * Does the direction self -> target act on `plan`? Each arrived record has exactly one such
 * direction: the one towards the stamp's member, and for this member's own repairs the first other
 * member in `members` order.
 */
export function handledBy(
  plan: RecordPlan,
  target: string,
  self: string,
  members: readonly string[],
): plan is ArrivedPlan {
  if (plan.kind !== 'arrived') return false;
  if (plan.handler !== self) return plan.handler === target;
  return members.find((m) => m !== self) === target;
}

/** What the record replaced: a stamped version, this member's own remembered local write, or nothing. */
function priorOf(
  change: Change,
  memo: LocalMemo | undefined,
  ctx: GroupContext,
  incoming: Stamp,
): { prior?: Prior; unknown?: true } {
  const old = change.oldImage;
  if (old === undefined) {
    // After a local delete the item is gone here (tombstones live on the other members only).
    if (!memo?.deleted) return {};
    const age = versionTime(incoming.version) - versionTime(memo.stamp.version);
    return age > ctx.tombstoneTtlMs ? {} : { prior: { stamp: memo.stamp, own: true, deleted: true } };
  }
  const stamped = validStamp(old, ctx.names);
  // The member's latest local write holds the same data and is newer than the stamp the data
  // carries (an application put back a copy with its stamp): the item is that local write.
  const own =
    memo !== undefined &&
    !memo.deleted &&
    memo.stamp.hash === dataHash(dataOf(old, ctx.names)) &&
    compareVersions(memo.stamp.version, stamped?.version) > 0;
  if (own) return { prior: { stamp: memo.stamp, own: true, deleted: false } };
  if (stamped) return { prior: { stamp: stamped, own: false, deleted: isTombstone(old, ctx.names) } };
  return { unknown: true };
}

function conflictOf(
  canonical: string,
  prior: Prior,
  incoming: Stamp,
  change: Change,
  ctx: GroupContext,
): Conflict {
  const priorWins = compareVersions(prior.stamp.version, incoming.version) > 0;
  const incomingDeleted = isTombstone(change.newImage, ctx.names);
  return {
    key: canonical,
    winner: priorWins ? prior.stamp.version : incoming.version,
    loser: priorWins ? incoming.version : prior.stamp.version,
    winnerDeleted: priorWins ? prior.deleted : incomingDeleted,
    loserDeleted: priorWins ? incomingDeleted : prior.deleted,
    member: ctx.self,
  };
}

/** What a refused conditional write (a version sent, or a repair) means, given the stored item. */
export type Refusal =
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'superseded' }
  | { readonly kind: 'conflict'; readonly conflict: Conflict };

export function refusalOf(
  sent: Stamp,
  sentDeleted: boolean,
  stored: Item | undefined,
  canonical: string,
  member: string,
  names: GroupMetadataNames,
): Refusal {
  const held = stampOf(stored, names);
  if (!held || held.version === sent.version) return { kind: 'duplicate' };
  if (versionMember(held.version) === versionMember(sent.version) || !concurrent(sent, held))
    return { kind: 'superseded' };
  return {
    kind: 'conflict',
    conflict: {
      key: canonical,
      winner: held.version,
      loser: sent.version,
      winnerDeleted: isTombstone(stored, names),
      loserDeleted: sentDeleted,
      member,
    },
  };
}
