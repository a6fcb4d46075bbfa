import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Change } from '../../src/core/change.js';
import { applyChanges } from '../../src/replicate/engine.js';
import { PageWindow, type WindowPage } from '../../src/replicate/page-window.js';

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

/** A window whose offered pages start by recording them; the test completes them by hand. */
function coalescing(options: { maxApplying?: number; fullPage?: number; maxRecords?: number } = {}) {
  const committed: string[] = [];
  const completed: string[] = [];
  const started: WindowPage<string>[] = [];
  const w = new PageWindow<string>(
    options.maxApplying ?? 4,
    (changes) => committed.push(...changes.map((c) => c.sequenceNumber)),
    (event) => completed.push(event),
    {
      start: (p) => started.push(p),
      fullPage: options.fullPage ?? 25,
      maxRecords: options.maxRecords ?? 1000,
    },
  );
  const sizes = () => started.map((p) => p.changes.length);
  return { w, committed, completed, started, sizes };
}

/** `count` pages of `size` records with keys of their own, sequence numbers from `first` on. */
function pages(first: number, count: number, size: number): Change[][] {
  return Array.from({ length: count }, (_, p) =>
    page(
      first + p * size,
      Array.from({ length: size }, (_, i) => `k${first + p * size + i}`),
    ),
  );
}

test('offer: small pages read while a page is written wait for it and are joined, contiguous, in stream order', async () => {
  const { w, started, sizes, committed, completed } = coalescing();
  // Ten pages of 2 records: the first starts at once; the next nine wait while it is written.
  const read = pages(1, 10, 2);
  for (const p of read) await w.offer(p, keysOf(p));
  assert.deepEqual(sizes(), [2]);
  assert.equal(w.size, 2); // one applying, one waiting
  w.completed(started[0] as WindowPage<string>, 'first');
  assert.deepEqual(sizes(), [2, 18]);
  assert.deepEqual(
    (started[1] as WindowPage<string>).changes.map((c) => c.sequenceNumber),
    Array.from({ length: 18 }, (_, i) => String(3 + i)),
  );
  assert.deepEqual(
    [...(started[1] as WindowPage<string>).keys].sort(),
    [...keysOf(read.slice(1).flat())].sort(),
  );
  w.completed(started[1] as WindowPage<string>, 'joined');
  assert.deepEqual(completed, ['first', 'joined']);
  assert.equal(committed.length, 20);
  assert.equal(w.size, 0);
});

test('offer: a waiting page that reaches a full request starts while the earlier page is still written', async () => {
  const { w, started, sizes } = coalescing({ fullPage: 25 });
  for (const p of pages(1, 1, 5)) await w.offer(p, keysOf(p));
  // 5 records each: 4 pages make 20 (wait), the 5th makes 25 and starts beside the first.
  for (const p of pages(6, 5, 5)) await w.offer(p, keysOf(p));
  assert.deepEqual(sizes(), [5, 25]);
  for (const p of pages(31, 1, 5)) await w.offer(p, keysOf(p));
  assert.deepEqual(sizes(), [5, 25]);
  w.completed(started[0] as WindowPage<string>, 'first');
  assert.deepEqual(sizes(), [5, 25], 'still one page being written: the small one keeps waiting');
  w.completed(started[1] as WindowPage<string>, 'second');
  assert.deepEqual(sizes(), [5, 25, 5]);
});

test('offer: a page whose part failed (retrying after a backoff) no longer holds small pages back', async () => {
  const { w, started, sizes, committed } = coalescing();
  const [p1, p2] = pages(1, 2, 3) as [Change[], Change[]];
  await w.offer(p1, keysOf(p1));
  await w.offer(p2, keysOf(p2));
  assert.deepEqual(sizes(), [3]);
  w.durable(started[0] as WindowPage<string>, 1);
  assert.deepEqual(sizes(), [3, 3]);
  w.completed(started[1] as WindowPage<string>, 'second');
  assert.deepEqual(committed, ['1'], 'the second page waits for the first in the checkpoint');
});

test('offer: a page that cannot start (window full, or a key being written) takes in the pages read after it', async () => {
  const { w, started, sizes } = coalescing({ maxApplying: 1, fullPage: 2 });
  const [p1, p2, p3] = [page(1, ['a', 'b']), page(3, ['c', 'b']), page(5, ['d', 'e'])];
  await w.offer(p1, keysOf(p1));
  await w.offer(p2, keysOf(p2));
  await w.offer(p3, keysOf(p3));
  assert.deepEqual(sizes(), [2]);
  w.completed(started[0] as WindowPage<string>, 'first');
  assert.deepEqual(sizes(), [2, 4]);
  assert.deepEqual(
    (started[1] as WindowPage<string>).changes.map((c) => c.sequenceNumber),
    ['3', '4', '5', '6'],
  );
});

test('offer: the waiting page grows to maxRecords at most; the next offer waits for it to start', async () => {
  const { w, started, sizes } = coalescing({ maxRecords: 6 });
  const [p1, p2, p3, p4] = pages(1, 4, 3) as [Change[], Change[], Change[], Change[]];
  await w.offer(p1, keysOf(p1));
  await w.offer(p2, keysOf(p2));
  await w.offer(p3, keysOf(p3));
  const fourth = w.offer(p4, keysOf(p4));
  assert.equal(await settled(fourth), false);
  w.completed(started[0] as WindowPage<string>, 'first');
  assert.equal(await settled(fourth), true);
  assert.deepEqual(sizes(), [3, 6]);
  assert.equal(w.size, 2);
});

test('offer: a joined page that fails halfway commits its durable part only; nothing after it, even durable, is committed', async () => {
  const { w, started, committed, completed } = coalescing();
  const read = pages(1, 4, 3); // sequence numbers 1..12: [1-3] starts, [4-6]+[7-9]+[10-12] join
  for (const p of read) await w.offer(p, keysOf(p));
  w.completed(started[0] as WindowPage<string>, 'first');
  const joined = started[1] as WindowPage<string>;
  assert.equal(joined.changes.length, 9);
  // Records 4..7 of the joined page are durable (its first page and one record of its second).
  w.durable(joined, 4);
  const later = page(13, ['z']);
  await w.offer(later, keysOf(later));
  w.completed(started[2] as WindowPage<string>, 'later');
  w.abandon(joined); // a stop or a failure while it retried
  assert.deepEqual(committed, ['1', '2', '3', '4', '5', '6', '7']);
  assert.deepEqual(completed, ['first']);
  await w.drain();
  assert.deepEqual(committed, ['1', '2', '3', '4', '5', '6', '7']);
});

test('offer: pages started after a stop are abandoned by the runner and never committed; drain waits for the waiting page', async () => {
  const committed: string[] = [];
  let stopped = false;
  const started: WindowPage<string>[] = [];
  const w: PageWindow<string> = new PageWindow<string>(
    4,
    (changes) => committed.push(...changes.map((c) => c.sequenceNumber)),
    () => {},
    {
      start: (p) => (stopped ? w.abandon(p) : started.push(p)),
      fullPage: 25,
      maxRecords: 1000,
    },
  );
  const [p1, p2] = pages(1, 2, 2) as [Change[], Change[]];
  await w.offer(p1, keysOf(p1));
  await w.offer(p2, keysOf(p2));
  const drained = w.drain();
  stopped = true;
  w.completed(started[0] as WindowPage<string>, 'first');
  assert.equal(await settled(drained), true);
  assert.deepEqual(committed, ['1', '2']);
  assert.equal(started.length, 1);
});

test('offer with the apply engine: 21 pages of 5 records read while the first is written make 5 BatchWriteItem requests (no network)', async () => {
  const requests: number[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const handler = {
    handle: async (request: { body: string | Uint8Array }) => {
      const b = request.body;
      const text =
        typeof b === 'string' ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
      requests.push((JSON.parse(text) as { RequestItems: { t: unknown[] } }).RequestItems.t.length);
      await gate;
      return { response: { statusCode: 200, headers: {}, body: Readable.from([Buffer.from('{}')]) } };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: 'http://localhost:1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    requestHandler: handler as never,
  });
  const committed: string[] = [];
  const applies: Promise<void>[] = [];
  const w: PageWindow<string> = new PageWindow<string>(
    4,
    (changes) => committed.push(...changes.map((c) => c.sequenceNumber)),
    () => {},
    {
      start: (p) =>
        applies.push(
          applyChanges(p.changes, {
            replicas: [{ client, table: 't' }],
            keySchema: { hash: { name: 'id', type: 'S' } },
          }).then((result) => {
            assert.equal(result.failed.length, 0);
            w.completed(p, 'applied');
          }),
        ),
      fullPage: 25,
      maxRecords: 1000,
    },
  );
  const withImages = (p: Change[]) => p.map((c) => ({ ...c, newImage: c.keys }));
  for (const p of pages(1, 21, 5).map(withImages)) {
    await w.offer(p, keysOf(p));
    await new Promise((resolve) => setImmediate(resolve));
  }
  // Let the started pages' requests reach the handler (a few turns of the SDK's middleware).
  for (let i = 0; i < 100 && requests.length < 4; i++) await new Promise((resolve) => setImmediate(resolve));
  // The first page (5) is sent at once; then 4 full requests of 25 records, 3 of them beside it
  // (the window holds 4 pages) and the last once the gate opens.
  assert.deepEqual(requests, [5, 25, 25, 25]);
  release();
  await w.drain();
  await Promise.all(applies);
  client.destroy();
  assert.deepEqual(requests, [5, 25, 25, 25, 25]);
  assert.deepEqual(
    committed,
    Array.from({ length: 105 }, (_, i) => String(i + 1)),
  );
});
