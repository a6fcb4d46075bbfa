import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Change } from '../../src/core/change.js';
import { PageWindow } from '../../src/replicate/page-window.js';

function change(seq: number, key: string): Change {
  return { eventName: 'INSERT', keys: { id: { S: key } }, sequenceNumber: String(seq) };
}

function page(first: number, keys: string[]): Change[] {
  return keys.map((k, i) => change(first + i, k));
}

function window(maxApplying = 4) {
  const committed: string[] = [];
  const completed: string[] = [];
  const w = new PageWindow<string>(
    maxApplying,
    (changes) => committed.push(...changes.map((c) => c.sequenceNumber)),
    (event) => completed.push(event),
  );
  return { w, committed, completed };
}

const keysOf = (changes: readonly Change[]) => new Set(changes.map((c) => (c.keys.id as { S: string }).S));

/** Whether `promise` has settled after the pending callbacks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

test('a later page durable first is committed only after every earlier page is durable, in stream order', async () => {
  const { w, committed, completed } = window();
  const p1 = page(1, ['a', 'b']);
  const p2 = page(3, ['c', 'd']);
  const p3 = page(5, ['e']);
  const h1 = await w.admit(p1, keysOf(p1));
  const h2 = await w.admit(p2, keysOf(p2));
  const h3 = await w.admit(p3, keysOf(p3));
  assert.equal(w.size, 3);
  w.completed(h3, 'page 3');
  w.completed(h2, 'page 2');
  assert.deepEqual(committed, []);
  assert.deepEqual(completed, []);
  w.durable(h1, 1); // the first record of page 1 is durable, the second is being retried
  assert.deepEqual(committed, ['1']);
  w.completed(h1, 'page 1');
  assert.deepEqual(committed, ['1', '2', '3', '4', '5']);
  assert.deepEqual(completed, ['page 1', 'page 2', 'page 3']);
  assert.equal(w.size, 0);
});

test('a page sharing a key with a page being applied waits for it; a disjoint one does not', async () => {
  const { w } = window();
  const p1 = page(1, ['a', 'b']);
  const h1 = await w.admit(p1, keysOf(p1));
  const disjoint = page(3, ['c']);
  assert.equal(await settled(w.admit(disjoint, keysOf(disjoint))), true);
  const sharing = page(4, ['x', 'b']);
  const admitted = w.admit(sharing, keysOf(sharing));
  assert.equal(await settled(admitted), false);
  w.completed(h1, 'page 1');
  assert.equal(await settled(admitted), true);
});

test('at most maxApplying pages apply at once', async () => {
  const { w } = window(2);
  const h1 = await w.admit(page(1, ['a']), new Set(['a']));
  await w.admit(page(2, ['b']), new Set(['b']));
  const third = w.admit(page(3, ['c']), new Set(['c']));
  assert.equal(await settled(third), false);
  w.completed(h1, 'page 1');
  assert.equal(await settled(third), true);
});

test('an abandoned page frees its keys, keeps what it made durable, and nothing after it is committed', async () => {
  const { w, committed, completed } = window();
  const p1 = page(1, ['a', 'b', 'c']);
  const p2 = page(4, ['d']);
  const h1 = await w.admit(p1, keysOf(p1));
  const h2 = await w.admit(p2, keysOf(p2));
  w.durable(h1, 2);
  w.completed(h2, 'page 2');
  w.abandon(h1);
  assert.deepEqual(committed, ['1', '2']);
  assert.deepEqual(completed, []);
  const again = page(5, ['c']);
  assert.equal(await settled(w.admit(again, keysOf(again))), true);
  assert.deepEqual(committed, ['1', '2']);
});

test('drain resolves once no page is being applied', async () => {
  const { w } = window();
  const h1 = await w.admit(page(1, ['a']), new Set(['a']));
  const h2 = await w.admit(page(2, ['b']), new Set(['b']));
  const drained = w.drain();
  w.completed(h2, 'page 2');
  assert.equal(await settled(drained), false);
  w.abandon(h1);
  assert.equal(await settled(drained), true);
});
