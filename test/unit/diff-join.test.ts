import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KeyJoin, type JoinCandidate, type Side } from '../../src/diff/join.js';

function key(i: number): string {
  return `{"id":{"S":"k${i}"}}`;
}

async function drain(join: KeyJoin): Promise<JoinCandidate[]> {
  const out: JoinCandidate[] = [];
  for await (const c of join.finish()) out.push(c);
  return out;
}

/**
 * Primary has 0..n-1, replica has 10..n+9; keys 20..29 differ. Expected: 0..9 primary only,
 * n..n+9 replica only, 20..29 on both with different fingerprints, everything else matched.
 */
async function scenario(maxInMemory: number, order: 'aligned' | 'reversed', tempDir?: string) {
  const n = 1000;
  const join = new KeyJoin({ maxInMemory, ...(tempDir ? { tempDir } : {}) });
  const primary: Array<[Side, number, string]> = [];
  const replica: Array<[Side, number, string]> = [];
  for (let i = 0; i < n; i++) primary.push(['primary', i, 'fp' + i]);
  for (let i = 10; i < n + 10; i++) replica.push(['replica', i, i >= 20 && i < 30 ? 'other' : 'fp' + i]);
  if (order === 'reversed') replica.reverse();
  const found: JoinCandidate[] = [];
  for (let i = 0; i < Math.max(primary.length, replica.length); i++) {
    for (const list of [primary, replica]) {
      const e = list[i];
      if (!e) continue;
      const c = join.add(e[0], key(e[1]), e[2]);
      if (c) found.push(c);
    }
  }
  found.push(...(await drain(join)));
  return { join, found };
}

function summarize(found: JoinCandidate[]) {
  const byKey = new Map<string, string>();
  for (const c of found) {
    assert.equal(byKey.has(c.key), false, `${c.key} reported twice`);
    byKey.set(c.key, c.inPrimary && c.inReplica ? 'both' : c.inPrimary ? 'primary' : 'replica');
  }
  return byKey;
}

function expected() {
  const m = new Map<string, string>();
  for (let i = 0; i < 10; i++) m.set(key(i), 'primary');
  for (let i = 20; i < 30; i++) m.set(key(i), 'both');
  for (let i = 1000; i < 1010; i++) m.set(key(i), 'replica');
  return m;
}

test('aligned scans resolve in memory and yield each unresolved key once', async () => {
  const { join, found } = await scenario(100_000, 'aligned');
  assert.deepEqual(new Map([...summarize(found)].sort()), new Map([...expected()].sort()));
  assert.equal(join.stats.matched, 980);
  assert.equal(join.stats.spilled, 0);
  assert.ok(join.stats.peakWaiting <= 20, `peak ${join.stats.peakWaiting}`);
});

test('misaligned scans spill to partition files and give the same result', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'join-test-'));
  const { join, found } = await scenario(50, 'reversed', dir);
  assert.deepEqual(new Map([...summarize(found)].sort()), new Map([...expected()].sort()));
  assert.equal(join.stats.matched, 980);
  assert.ok(join.stats.spilled > 0);
  assert.ok(join.stats.peakWaiting <= 50);
  assert.deepEqual(readdirSync(dir), [], 'spill files removed');
});

test('oversized partitions are split again on the next keyId digit', async () => {
  // 2 entries in memory and ~80 bytes each: every partition of ~125 lines is split, some twice.
  const { join, found } = await scenario(2, 'reversed');
  assert.deepEqual(new Map([...summarize(found)].sort()), new Map([...expected()].sort()));
  assert.equal(join.stats.matched, 980);
  assert.ok(join.stats.spilled > 2000, `spilled ${join.stats.spilled}`);
});

test('close removes spill files after a failed scan', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'join-test-'));
  const join = new KeyJoin({ maxInMemory: 2, tempDir: dir });
  for (let i = 0; i < 10; i++) join.add('primary', key(i), 'x');
  assert.equal(readdirSync(dir).length, 1);
  join.close();
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(existsSync(dir), true);
});
