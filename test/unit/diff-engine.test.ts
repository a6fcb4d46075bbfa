/**
 * The diff engine against in-memory sides (the DiffSide interface, not the AWS SDK): exact kinds,
 * each key once, shares that cover every key once even when the two sides assign keys to different
 * segments, spilling, settling, and repairs through the RepairTarget interface.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalKey, keyOf } from '../../src/core/canonical-key.js';
import type { Item, Key, KeySchema } from '../../src/core/types.js';
import { diffTables, type Discrepancy } from '../../src/diff/diff-tables.js';
import type { DiffSide, RepairTarget } from '../../src/diff/side.js';
import { snapshotSide } from '../../src/diff/backup-side.js';
import type { WriteRequest } from '../../src/dynamodb/writer.js';

const SCHEMA: KeySchema = { hash: { name: 'id', type: 'S' } };

/** An in-memory side; `salt` changes which segment a key falls in, to model misaligned tables. */
class MemorySide implements DiffSide {
  readonly keySchema = SCHEMA;
  readonly items = new Map<string, Item>();
  reads = 0;
  constructor(
    readonly label: string,
    items: readonly Item[],
    private readonly salt = '',
    private readonly pageSize = 7,
  ) {
    for (const item of items) this.items.set(canonicalKey(keyOf(item, SCHEMA)), item);
  }
  private segmentOf(key: string, total: number): number {
    return (
      createHash('md5')
        .update(this.salt + key)
        .digest()
        .readUInt32BE(0) % total
    );
  }
  async *scanSegment(segment: number, total: number): AsyncIterable<Item[]> {
    const mine = [...this.items].filter(([k]) => this.segmentOf(k, total) === segment).map(([, v]) => v);
    for (let i = 0; i < mine.length; i += this.pageSize) {
      await new Promise((r) => setImmediate(r));
      yield mine.slice(i, i + this.pageSize);
    }
  }
  async getItems(keys: readonly Key[]): Promise<Item[]> {
    this.reads += keys.length;
    return keys.map((k) => this.items.get(canonicalKey(k))).filter((i): i is Item => i !== undefined);
  }
  target(): RepairTarget & { batches: number } {
    const self = {
      label: this.label,
      batches: 0,
      write: async (requests: AsyncIterable<WriteRequest> | Iterable<WriteRequest>) => {
        let written = 0;
        for await (const r of requests) {
          if ('put' in r) this.items.set(canonicalKey(keyOf(r.put, SCHEMA)), r.put);
          else this.items.delete(canonicalKey(r.delete));
          written++;
        }
        return { written, retries: 0, consumedCapacity: 0 };
      },
    };
    return self;
  }
}

const item = (id: string, v: string): Item => ({ id: { S: id }, v: { S: v } });

/** 500 keys: k0..k49 missing, k50..k99 different, x0..x49 extraneous, the rest equal. */
function fixture(replicaSalt = '', pageSize = 7) {
  const p: Item[] = [];
  const r: Item[] = [];
  for (let i = 0; i < 500; i++) {
    p.push(item(`k${i}`, 'a'));
    if (i >= 50) r.push(item(`k${i}`, i < 100 ? 'b' : 'a'));
  }
  for (let i = 0; i < 50; i++) r.push(item(`x${i}`, 'z'));
  return {
    primary: new MemorySide('p', p, '', pageSize),
    replica: new MemorySide('r', r, replicaSalt, pageSize),
  };
}

function kinds(found: Discrepancy[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const d of found) {
    assert.equal(m.has(d.keyText), false, `${d.keyText} reported twice`);
    m.set(d.keyText, d.kind);
  }
  return m;
}

function expectedKinds(): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < 50; i++) m.set(canonicalKey({ id: { S: `k${i}` } }), 'missing');
  for (let i = 50; i < 100; i++) m.set(canonicalKey({ id: { S: `k${i}` } }), 'different');
  for (let i = 0; i < 50; i++) m.set(canonicalKey({ id: { S: `x${i}` } }), 'extraneous');
  return m;
}

test('whole-table diff: each discrepancy once with its kind; only unmatched keys are re-read', async () => {
  const { primary, replica } = fixture();
  const found: Discrepancy[] = [];
  const result = await diffTables(primary, replica, {
    parallel: 3,
    onDiscrepancy: (d) => void found.push(d),
  });
  assert.deepEqual(kinds(found), expectedKinds());
  assert.deepEqual(result.discrepancies, { missing: 50, different: 50, extraneous: 50, total: 150 });
  assert.deepEqual(result.scanned, { primary: 500, replica: 500 });
  assert.equal(result.rechecked, 150);
  assert.equal(primary.reads, 150);
  assert.equal(result.join.matched, 400);
  const d = found.find((x) => x.kind === 'different');
  assert.equal(d?.primary?.v && 'S' in d.primary.v ? d.primary.v.S : undefined, 'a');
  assert.equal(d?.replica?.v && 'S' in d.replica.v ? d.replica.v.S : undefined, 'b');
});

test('misaligned segments and a tiny memory limit: same result, spilled to disk', async () => {
  const { primary, replica } = fixture('other-salt');
  const found: Discrepancy[] = [];
  const result = await diffTables(primary, replica, {
    parallel: 4,
    maxInMemory: 20,
    onDiscrepancy: (d) => void found.push(d),
  });
  assert.deepEqual(kinds(found), expectedKinds());
  assert.ok(result.join.spilled > 0);
  assert.ok(result.join.peakWaiting <= 20);
});

test('shares cover every key exactly once, even when the sides put keys in different segments', async () => {
  for (const salt of ['', 'misaligned']) {
    const { primary, replica } = fixture(salt);
    const found: Discrepancy[] = [];
    let scanned = 0;
    for (let segment = 0; segment < 4; segment++) {
      const r = await diffTables(primary, replica, {
        share: { segment, segments: 4 },
        onDiscrepancy: (d) => void found.push(d),
      });
      assert.ok(r.scanned.primary > 0 && r.scanned.primary < 500);
      scanned += r.scanned.primary;
    }
    assert.equal(scanned, 500);
    assert.deepEqual(kinds(found), expectedKinds(), `salt "${salt}"`);
  }
});

test('repair puts the primary image for missing and different keys and deletes extraneous ones', async () => {
  const { primary, replica } = fixture();
  const target = replica.target();
  const result = await diffTables(primary, replica, { repair: target });
  assert.equal(result.repaired?.written, 150);
  assert.deepEqual([...replica.items].sort(), [...primary.items].sort());
  const again = await diffTables(primary, replica, {});
  assert.equal(again.discrepancies.total, 0);
});

test('without a repair target nothing is written', async () => {
  const { primary, replica } = fixture();
  const before = [...replica.items];
  await diffTables(primary, replica, {});
  assert.deepEqual([...replica.items], before);
});

test('--settle: a difference that resolves within the delay is not reported', async () => {
  const { primary, replica } = fixture();
  // Model replication in flight: everything missing/different arrives 100 ms after the first re-read.
  let fixed = false;
  const original = replica.getItems.bind(replica);
  replica.getItems = async (keys) => {
    const out = await original(keys);
    if (!fixed) {
      fixed = true;
      setTimeout(() => {
        for (const [k, v] of primary.items) replica.items.set(k, v);
      }, 100);
    }
    return out;
  };
  const found: Discrepancy[] = [];
  const result = await diffTables(primary, replica, {
    settleMs: 300,
    onDiscrepancy: (d) => void found.push(d),
  });
  // Only the extraneous keys remain after settling; the 100 missing/different ones caught up.
  assert.deepEqual(new Set(found.map((d) => d.kind)), new Set(['extraneous']));
  assert.equal(found.length, 50);
  assert.equal(result.settled, 100);
});

test('different key schemas are refused before any scan', async () => {
  const { primary } = fixture();
  const other = new MemorySide('other', []);
  Object.assign(other, { keySchema: { hash: { name: 'id', type: 'N' } } });
  let scanned = false;
  other.scanSegment = async function* () {
    scanned = true;
    yield [];
  };
  await assert.rejects(
    diffTables(primary, other, {}),
    /Key schemas differ: p has hash id \(S\).*other has hash id \(N\)/,
  );
  assert.equal(scanned, false);
});

test('a snapshot side (a backup: one stream, no lookups) is judged by its scanned fingerprints', async () => {
  const { primary, replica } = fixture();
  const backup = snapshotSide(
    {
      label: 'backup',
      itemCount: replica.items.size,
      async *items() {
        yield* replica.items.values();
      },
    },
    SCHEMA,
  );
  const found: Discrepancy[] = [];
  const result = await diffTables(primary, backup, {
    parallel: 4,
    maxInMemory: 64,
    onDiscrepancy: (d) => void found.push(d),
  });
  assert.deepEqual(kinds(found), expectedKinds());
  assert.equal(replica.reads, 0, 'the backup is never read by key');
  assert.equal(primary.reads, 150);
  assert.ok(result.join.spilled > 0);
  await assert.rejects(
    diffTables(primary, backup, { share: { segment: 0, segments: 2 } }),
    /cannot be split into shares/,
  );
});

test('--settle: a key whose primary keeps changing is re-checked up to 5 times, then reported once', async () => {
  const { primary, replica } = fixture();
  const k60 = canonicalKey({ id: { S: 'k60' } });
  let n = 0;
  const timer = setInterval(() => primary.items.set(k60, item('k60', `v${n++}`)), 5);
  let k60Reads = 0;
  const read = primary.getItems.bind(primary);
  primary.getItems = (keys) => {
    k60Reads += keys.filter((k) => canonicalKey(k) === k60).length;
    return read(keys);
  };
  const found: Discrepancy[] = [];
  try {
    const result = await diffTables(primary, replica, {
      settleMs: 40,
      recheckBatchSize: 7,
      onDiscrepancy: (d) => void found.push(d),
    });
    assert.deepEqual(kinds(found), expectedKinds());
    assert.equal(result.discrepancies.total, 150);
  } finally {
    clearInterval(timer);
  }
  // The first re-read, then five settle rounds that each saw a new primary image.
  assert.equal(k60Reads, 6);
});
