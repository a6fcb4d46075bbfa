/**
 * Order-independent digests of a set of items, split into buckets by key: two sides hold the same
 * items exactly when every bucket has the same count and the same sums (up to a collision of a
 * 128-bit hash), whatever order and however many tasks read them in. A bucket is a stable hash of
 * the item's key mod the bucket count, so the same key falls in the same bucket on both sides; an
 * item adds 1 to its bucket's count and its 128-bit digest (two 64-bit lanes) to the bucket's two
 * sums, mod 2^64 each. Digests of parts are added the same way, so partial digests written by many
 * slices merge into one. Pure: no I/O.
 */
import { hash } from 'node:crypto';
import { InvalidDataError } from './errors.js';

/** Buckets of a verify job: few enough to write per slice, enough to narrow a difference down. */
export const DEFAULT_BUCKETS = 4096;

const MASK = (1n << 64n) - 1n;

/** One bucket's digest: the item count and two lane sums mod 2^64. */
export interface BucketDigest {
  count: number;
  lo: bigint;
  hi: bigint;
}

/** The bucket of a key from its key id (the SHA-256 hex of its canonical text, core/canonical-key). */
export function bucketOfKeyId(keyId: string, buckets: number): number {
  return Number.parseInt(keyId.slice(0, 12), 16) % buckets;
}

/** The two 64-bit lanes of an item's digest: SHA-256 of its canonical key and its fingerprint. */
export function itemLanes(keyText: string, fingerprint: string): [bigint, bigint] {
  const h = hash('sha256', `${keyText}\n${fingerprint}`, 'hex');
  return [BigInt(`0x${h.slice(0, 16)}`), BigInt(`0x${h.slice(16, 32)}`)];
}

/** Digests of the buckets one side touched, by bucket number. */
export class BucketDigests {
  readonly buckets = new Map<number, BucketDigest>();

  /** Adds one item (its lanes) to its bucket. */
  add(bucket: number, lanes: readonly [bigint, bigint]): void {
    this.addDigest(bucket, { count: 1, lo: lanes[0], hi: lanes[1] });
  }

  addDigest(bucket: number, d: BucketDigest): void {
    const b = this.buckets.get(bucket);
    if (!b) {
      this.buckets.set(bucket, { count: d.count, lo: d.lo & MASK, hi: d.hi & MASK });
      return;
    }
    b.count += d.count;
    b.lo = (b.lo + d.lo) & MASK;
    b.hi = (b.hi + d.hi) & MASK;
  }

  /** Adds every bucket of `other`. */
  addAll(other: BucketDigests): void {
    for (const [bucket, d] of other.buckets) this.addDigest(bucket, d);
  }

  /** JSON: `{ "<bucket>": [count, "<lo hex>", "<hi hex>"] }`. */
  toJson(): Record<string, [number, string, string]> {
    const out: Record<string, [number, string, string]> = {};
    for (const [bucket, d] of [...this.buckets].sort((a, b) => a[0] - b[0]))
      out[String(bucket)] = [d.count, d.lo.toString(16), d.hi.toString(16)];
    return out;
  }

  static fromJson(v: unknown, buckets: number, where: string): BucketDigests {
    const out = new BucketDigests();
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw new InvalidDataError(`${where}: bucket digests must be an object`);
    for (const [name, d] of Object.entries(v as Record<string, unknown>)) {
      const bucket = Number(name);
      const ok =
        Number.isInteger(bucket) &&
        bucket >= 0 &&
        bucket < buckets &&
        Array.isArray(d) &&
        d.length === 3 &&
        Number.isSafeInteger(d[0]) &&
        (d[0] as number) >= 0 &&
        typeof d[1] === 'string' &&
        /^[0-9a-f]{1,16}$/.test(d[1]) &&
        typeof d[2] === 'string' &&
        /^[0-9a-f]{1,16}$/.test(d[2]);
      if (!ok) throw new InvalidDataError(`${where}: bucket ${name} is malformed`);
      const [count, lo, hi] = d as [number, string, string];
      out.addDigest(bucket, { count, lo: BigInt(`0x${lo}`), hi: BigInt(`0x${hi}`) });
    }
    return out;
  }
}

/** Buckets whose digests differ between two sides (ascending), with the larger side's count. */
export function differingBuckets(a: BucketDigests, b: BucketDigests): { bucket: number; items: number }[] {
  const out: { bucket: number; items: number }[] = [];
  const empty: BucketDigest = { count: 0, lo: 0n, hi: 0n };
  for (const bucket of new Set([...a.buckets.keys(), ...b.buckets.keys()])) {
    const x = a.buckets.get(bucket) ?? empty;
    const y = b.buckets.get(bucket) ?? empty;
    if (x.count !== y.count || x.lo !== y.lo || x.hi !== y.hi) out.push({ bucket, items: x.count + y.count });
  }
  return out.sort((p, q) => p.bucket - q.bucket);
}

/**
 * Differing buckets grouped so each group holds at most `maxItems` items over both sides (a group
 * of one bucket may hold more): what one drill-down job collects and joins in memory.
 */
export function bucketBatches(
  differing: readonly { bucket: number; items: number }[],
  maxItems: number,
): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let items = 0;
  for (const d of differing) {
    if (current.length > 0 && items + d.items > maxItems) {
      batches.push(current);
      current = [];
      items = 0;
    }
    current.push(d.bucket);
    items += d.items;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
