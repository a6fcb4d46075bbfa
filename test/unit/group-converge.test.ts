// The multi-active decision rules (src/replicate/group-decide.ts) run against an in-memory model of
// DynamoDB: tables with conditional puts, streams that record every change with old and new images
// (and none for a write that changes nothing), and one forwarder per direction with its own memory.
// Random interleavings of application writes and deliveries, duplicate deliveries (a direction read
// again from an earlier record, with its memory rebuilt from the stream as after a retry or a
// restart) must end with every member holding the same data, and every conflict the writes
// provoked logged once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Change } from '../../src/core/change.js';
import { seededRandom } from '../harness/fault-proxy.js';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item, KeySchema } from '../../src/core/types.js';
import {
  decideRecord,
  handledBy,
  refusalOf,
  type Conflict,
  type GroupContext,
  type LocalMemo,
} from '../../src/replicate/group-decide.js';
import {
  dataOf,
  DEFAULT_GROUP_METADATA,
  isTombstone,
  stampOf,
  type Stamp,
} from '../../src/replicate/group-stamp.js';

const NAMES = DEFAULT_GROUP_METADATA;
const SCHEMA: KeySchema = { hash: { name: 'id', type: 'S' } };
const MEMBERS = ['a', 'b', 'c'];
const TTL = 86_400_000;

class Member {
  readonly table = new Map<string, Item>();
  readonly stream: Change[] = [];
  private seq = 1000;
  constructor(
    readonly id: string,
    private readonly clock: () => number,
  ) {}

  /** A write as DynamoDB does it: a stream record unless nothing changed. */
  write(id: string, next: Item | undefined): void {
    const old = this.table.get(id);
    if (next === undefined && old === undefined) return;
    if (next !== undefined && old !== undefined && itemsEqual(old, next)) return;
    if (next === undefined) this.table.delete(id);
    else this.table.set(id, next);
    this.stream.push({
      eventName: next === undefined ? 'REMOVE' : old === undefined ? 'INSERT' : 'MODIFY',
      keys: { id: { S: id } },
      ...(next ? { newImage: next } : {}),
      ...(old ? { oldImage: old } : {}),
      sequenceNumber: String(this.seq++),
      // DynamoDB Local's stream times are whole minutes: versions of one minute must still order.
      approximateCreationTime: Math.floor(this.clock() / 60_000) * 60_000,
      streamViewType: 'NEW_AND_OLD_IMAGES',
    });
  }

  /** PutItem with `attribute_not_exists(#s) OR #s < :s`. */
  conditionalPut(item: Item): { ok: true } | { ok: false; stored: Item | undefined } {
    const id = (item.id as { S: string }).S;
    const stored = this.table.get(id);
    const held = stored?.[NAMES.stamp];
    const sent = (item[NAMES.stamp] as { S: string }).S;
    if (held && 'S' in held && held.S >= sent) return { ok: false, stored };
    this.write(id, item);
    return { ok: true };
  }

  /** What applications see: tombstones are deleted items, metadata is not data. */
  view(): Map<string, Item> {
    const out = new Map<string, Item>();
    for (const [id, item] of this.table) if (!isTombstone(item, NAMES)) out.set(id, dataOf(item, NAMES));
    return out;
  }
}

class Direction {
  cursor = 0;
  memo = new Map<string, LocalMemo>();
  constructor(
    readonly from: Member,
    readonly to: Member,
  ) {}

  get ctx(): GroupContext {
    return { self: this.from.id, names: NAMES, keySchema: SCHEMA, tombstoneTtlMs: TTL };
  }

  /** Reads the memory again from the stream up to the cursor, as a restarted runner does. */
  rebuild(): void {
    this.memo = new Map();
    for (const record of this.from.stream.slice(0, this.cursor)) this.remember(record);
  }

  private remember(record: Change): ReturnType<typeof decideRecord> {
    const key = (record.keys.id as { S: string }).S;
    const plan = decideRecord(record, this.memo.get(`{"id":{"S":${JSON.stringify(key)}}}`), this.ctx);
    if (plan.kind === 'local') this.memo.set(plan.canonical, plan.memo);
    if (plan.kind === 'expired') this.memo.delete(plan.canonical);
    return plan;
  }

  /** Processes the next record; false when there is none. */
  step(log: Map<string, Conflict>): boolean {
    const record = this.from.stream[this.cursor];
    if (!record) return false;
    this.cursor++;
    const plan = this.remember(record);
    const note = (c: Conflict): void => {
      if (!log.has(`${c.key} ${c.loser}`)) log.set(`${c.key} ${c.loser}`, c);
    };
    const refused = (target: Member, sent: Stamp, item: Item, stored: Item | undefined): void => {
      const r = refusalOf(sent, isTombstone(item, NAMES), stored, plan.canonical, target.id, NAMES);
      if (r.kind === 'conflict') note(r.conflict);
    };
    if (plan.kind === 'local') {
      const result = this.to.conditionalPut(plan.send);
      if (!result.ok) refused(this.to, plan.stamp, plan.send, result.stored);
    } else if (handledBy(plan, this.to.id, this.from.id, MEMBERS)) {
      if (plan.conflict) note(plan.conflict);
      if (plan.repair) {
        const result = this.from.conditionalPut(plan.repair.item);
        if (!result.ok) refused(this.from, plan.repair.stamp, plan.repair.item, result.stored);
      }
    }
    return true;
  }
}

interface World {
  readonly members: Member[];
  readonly directions: Direction[];
  readonly log: Map<string, Conflict>;
  readonly random: () => number;
  now: number;
}

function world(seed: number): World {
  const w: World = {
    members: [],
    directions: [],
    log: new Map(),
    random: seededRandom(seed),
    now: 1_764_000_000_000,
  };
  for (const id of MEMBERS) w.members.push(new Member(id, () => w.now));
  for (const from of w.members)
    for (const to of w.members) if (from !== to) w.directions.push(new Direction(from, to));
  return w;
}

function pick<T>(w: World, list: readonly T[]): T {
  return list[Math.floor(w.random() * list.length)] as T;
}

/** Delivery steps in random order, with rewinds (duplicates), until every direction is done. */
function deliver(w: World, steps: number): void {
  for (let i = 0; i < steps; i++) {
    const d = pick(w, w.directions);
    const r = w.random();
    if (r < 0.04) {
      // A retry or a restart: the memory is what the records before the position make of it.
      d.cursor = Math.max(0, d.cursor - 1 - Math.floor(w.random() * 6));
      d.rebuild();
    } else d.step(w.log);
  }
}

function settle(w: World): void {
  for (let progress = true; progress;) {
    progress = false;
    for (const d of w.directions) while (d.step(w.log)) progress = true;
  }
}

function assertConverged(w: World, label: string): void {
  const [first, ...rest] = w.members.map((m) => m.view());
  for (const [i, view] of rest.entries()) {
    assert.deepEqual(
      [...view.keys()].sort(),
      [...(first as Map<string, Item>).keys()].sort(),
      `${label}: member ${MEMBERS[i + 1]} keys`,
    );
    for (const [id, item] of view)
      assert.ok(itemsEqual(item, (first as Map<string, Item>).get(id)), `${label}: ${id} differs`);
  }
}

test('fresh keys written once on several members: one conflict per losing write, the highest version everywhere', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const w = world(seed);
    const writers = new Map<string, { member: string; value: string }[]>();
    for (let round = 0; round < 40; round++) {
      w.now += Math.floor(w.random() * 3_000);
      if (w.random() < 0.6) {
        const id = `k${Math.floor(w.random() * 12)}`;
        const m = pick(w, w.members);
        // The writer's condition: the key is new on this member (no copy arrived yet).
        if (!m.table.has(id)) {
          const value = `${m.id}-${round}`;
          m.write(id, { id: { S: id }, v: { S: value } });
          writers.set(id, [...(writers.get(id) ?? []), { member: m.id, value }]);
        }
      } else deliver(w, 1 + Math.floor(w.random() * 4));
    }
    settle(w);
    assertConverged(w, `seed ${seed}`);
    const expected = [...writers.values()].reduce((n, list) => n + list.length - 1, 0);
    assert.equal(w.log.size, expected, `seed ${seed}: conflicts logged`);
    // Every member holds the highest version; the losers are exactly the other writes.
    for (const [id] of writers) {
      const stamps = w.members.map((m) => stampOf(m.table.get(id), NAMES)?.version).filter(Boolean);
      const winners = [...w.log.values()]
        .filter((c) => c.key === `{"id":{"S":"${id}"}}`)
        .map((c) => c.winner);
      const winner = winners.sort().at(-1);
      if (winner)
        assert.ok(
          stamps.every((s) => s === undefined || s <= winner),
          `seed ${seed}: ${id}`,
        );
    }
  }
});

export function trace(w: World): string {
  return w.members
    .map(
      (m) =>
        m.id +
        ':\n' +
        m.stream
          .map(
            (r) =>
              `  ${r.sequenceNumber} ${r.eventName} ${JSON.stringify(r.oldImage ?? null)} -> ${JSON.stringify(r.newImage ?? null)}`,
          )
          .join('\n'),
    )
    .join('\n');
}

test('puts, updates that keep stale metadata, put-backs of old copies and deletes converge under any interleaving', async () => {
  for (let seed = 1; seed <= 400; seed++) {
    const w = world(1000 + seed);
    const copies: Item[] = [];
    for (let round = 0; round < 60; round++) {
      w.now += Math.floor(w.random() * 2_000);
      const r = w.random();
      const m = pick(w, w.members);
      const id = `k${Math.floor(w.random() * 5)}`;
      const current = m.table.get(id);
      const live = current && !isTombstone(current, NAMES) ? current : undefined;
      if (r < 0.2) m.write(id, { id: { S: id }, v: { S: `put-${m.id}-${round}` } });
      else if (r < 0.35 && live)
        m.write(id, { ...live, n: { N: String(round) } }); // UpdateItem
      else if (r < 0.45 && live) copies.push(live);
      else if (r < 0.5 && copies.length) {
        const copy = pick(w, copies);
        m.write((copy.id as { S: string }).S, copy); // a PutItem of an item read earlier
      } else if (r < 0.6 && current) m.write(id, undefined);
      else deliver(w, 1 + Math.floor(w.random() * 6));
    }
    settle(w);
    if (process.env.TRACE === String(1000 + seed))
      (await import('node:fs')).writeFileSync('/tmp/multi-trace.txt', trace(w));
    assertConverged(w, `seed ${1000 + seed}`);
  }
});

test('a causal chain across members is never a conflict; a concurrent pair is one', () => {
  const w = world(7);
  const [a, b, c] = w.members as [Member, Member, Member];
  a.write('x', { id: { S: 'x' }, v: { S: '1' } });
  settle(w);
  w.now += 1_000;
  b.write('x', { ...(b.table.get('x') as Item), v: { S: '2' } }); // UpdateItem on B, after A's write
  settle(w);
  w.now += 1_000;
  c.write('x', { id: { S: 'x' }, v: { S: '3' } }); // PutItem on C, after both
  settle(w);
  assert.equal(w.log.size, 0);
  assertConverged(w, 'chain');
  assert.deepEqual(dataOf(a.table.get('x') as Item, NAMES), { id: { S: 'x' }, v: { S: '3' } });
  // Concurrent: a delete on A and an update on B before either is delivered.
  w.now += 1_000;
  a.write('x', undefined);
  w.now += 500;
  b.write('x', { ...(b.table.get('x') as Item), v: { S: '4' } });
  settle(w);
  assertConverged(w, 'delete vs update');
  assert.equal(w.log.size, 1);
  const conflict = [...w.log.values()][0] as Conflict;
  // Both were written on top of C's version: the same hybrid time, so the member id decides (b > a).
  assert.equal(conflict.loserDeleted, true);
  assert.equal(conflict.winnerDeleted, false);
  assert.ok(conflict.loser.endsWith('.a') && conflict.winner.endsWith('.b'));
  assert.equal(conflict.loser.slice(0, 13), conflict.winner.slice(0, 13));
  for (const m of w.members) assert.deepEqual(m.view().get('x'), { id: { S: 'x' }, v: { S: '4' } });
});
