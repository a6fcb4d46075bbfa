/**
 * Per-bucket multiset digests (core/multiset-hash.ts), without a server: the same items in any order
 * and any split into parts give the same digests; one changed, missing or extra item changes exactly
 * its own bucket; digests survive their JSON form (lanes wrap mod 2^64); malformed JSON is refused;
 * differing buckets are grouped into drill-down batches of bounded size.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { canonicalKey, keyIdOfCanonical } from '../../src/core/canonical-key.js';
import { InvalidDataError } from '../../src/core/errors.js';
import {
  bucketBatches,
  bucketOfKeyId,
  BucketDigests,
  differingBuckets,
  itemLanes,
} from '../../src/core/multiset-hash.js';

const B = 64;
const key = (i: number) => canonicalKey({ id: { S: `k${i}` } });

function digest(entries: readonly [number, string][]): BucketDigests {
  const d = new BucketDigests();
  for (const [i, fp] of entries) d.add(bucketOfKeyId(keyIdOfCanonical(key(i)), B), itemLanes(key(i), fp));
  return d;
}

const items = Array.from({ length: 500 }, (_, i): [number, string] => [i, `fp${i}`]);

it('is independent of order and of how the items are split into parts', () => {
  const whole = digest(items);
  const parts = new BucketDigests();
  for (let p = 0; p < 7; p++) parts.addAll(digest(items.filter(([i]) => i % 7 === p).reverse()));
  assert.deepEqual(differingBuckets(whole, parts), []);
  assert.deepEqual(parts.toJson(), whole.toJson());
  const total = [...whole.buckets.values()].reduce((n, b) => n + b.count, 0);
  assert.equal(total, 500);
});

it('a changed, a missing and an extra item change exactly their own buckets', () => {
  const changed = items.map(([i, fp]): [number, string] => [i, i === 3 ? 'other' : fp]);
  const other = digest([...changed.filter(([i]) => i !== 10), [900, 'fp900']]);
  const bucket = (i: number) => bucketOfKeyId(keyIdOfCanonical(key(i)), B);
  const expected = [...new Set([bucket(3), bucket(10), bucket(900)])].sort((a, b) => a - b);
  assert.deepEqual(
    differingBuckets(digest(items), other).map((d) => d.bucket),
    expected,
  );
});

it('round-trips through JSON, sums wrapping mod 2^64; malformed digests are refused', () => {
  const d = new BucketDigests();
  const max = (1n << 64n) - 1n;
  d.addDigest(5, { count: 1, lo: max, hi: 1n });
  d.addDigest(5, { count: 2, lo: 2n, hi: max });
  assert.deepEqual(d.toJson(), { '5': [3, '1', '0'] });
  const back = BucketDigests.fromJson(JSON.parse(JSON.stringify(d.toJson())), B, 'test');
  assert.deepEqual(differingBuckets(d, back), []);
  for (const bad of [{ '64': [1, '0', '0'] }, { '1': [1, 'zz', '0'] }, { '1': [-1, '0', '0'] }, []])
    assert.throws(() => BucketDigests.fromJson(bad, B, 'part'), InvalidDataError);
});

it('groups differing buckets into batches of at most the given items (one big bucket alone)', () => {
  const differing = [
    { bucket: 1, items: 4 },
    { bucket: 2, items: 4 },
    { bucket: 3, items: 30 },
    { bucket: 7, items: 1 },
    { bucket: 9, items: 9 },
  ];
  assert.deepEqual(bucketBatches(differing, 10), [[1, 2], [3], [7, 9]]);
  assert.deepEqual(bucketBatches(differing, 1_000), [[1, 2, 3, 7, 9]]);
  assert.deepEqual(bucketBatches([], 10), []);
});
