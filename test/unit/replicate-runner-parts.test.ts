import { test } from 'node:test';
import assert from 'node:assert/strict';
import { virtualClock } from '../harness/virtual-clock.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { InvalidDataError } from '../../src/core/errors.js';
import { estimateCopy } from '../../src/replicate/backfill.js';
import {
  CheckpointWriter,
  FileCheckpointStore,
  type CheckpointState,
  type CheckpointStore,
} from '../../src/replicate/checkpoint.js';
import { CheckpointLeaseHeldError, CheckpointLeaseLostError } from '../../src/replicate/lease.js';
import { prometheusText } from '../../src/replicate/metrics.js';
import { parentFirstOrder } from '../../src/streams/reader.js';

test('parentFirstOrder puts every parent before its children; a parent no longer listed does not block', () => {
  const order = parentFirstOrder([
    { shardId: 'c2', parentShardId: 'c1' },
    { shardId: 'c1', parentShardId: 'root' },
    { shardId: 'orphan', parentShardId: 'trimmed' },
    { shardId: 'root' },
    { shardId: 'c1b', parentShardId: 'root' },
  ]).map((s) => s.shardId);
  assert.deepEqual(order, ['root', 'c1', 'c2', 'orphan', 'c1b']);
  // A malformed loop terminates and lists each shard once.
  const loop = parentFirstOrder([
    { shardId: 'a', parentShardId: 'b' },
    { shardId: 'b', parentShardId: 'a' },
  ]).map((s) => s.shardId);
  assert.deepEqual([...loop].sort(), ['a', 'b']);
});

test('CheckpointWriter: commits arriving during a save share the next save; each resolves once durable', async () => {
  const saved: CheckpointState[] = [];
  let release: (() => void) | undefined;
  const store: CheckpointStore = {
    description: 'slow store',
    load: () => Promise.resolve(undefined),
    save: (state) =>
      new Promise<void>((resolve) => {
        release = () => {
          saved.push(state);
          resolve();
        };
      }),
  };
  const writer = new CheckpointWriter(store, 'arn:stream');
  const order: string[] = [];
  const a = writer.commit('s1', { sequenceNumber: '100' }).then(() => order.push('a'));
  await new Promise((r) => setImmediate(r));
  const b = writer.commit('s1', { sequenceNumber: '200' }).then(() => order.push('b'));
  const c = writer.commit('s2', { sequenceNumber: '300' }).then(() => order.push('c'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'nothing resolves before its save completes');
  release?.();
  await a;
  assert.deepEqual(order, ['a']);
  assert.equal(saved[0]?.shards.s1?.sequenceNumber, '100');
  await new Promise((r) => setImmediate(r));
  release?.();
  await Promise.all([b, c]);
  assert.equal(saved.length, 2, 'b and c were saved together');
  assert.deepEqual(saved[1]?.shards, { s1: { sequenceNumber: '200' }, s2: { sequenceNumber: '300' } });
  assert.equal(writer.saveCount, 2);
});

test('CheckpointWriter with a save interval: saves start the interval apart; commits during the wait share one save', async () => {
  const clock = virtualClock(1000);
  const starts: number[] = [];
  const saved: CheckpointState[] = [];
  const store: CheckpointStore = {
    description: 'instant store',
    load: () => Promise.resolve(undefined),
    save: (state) => {
      starts.push(clock.now());
      saved.push(state);
      return Promise.resolve();
    },
  };
  const writer = new CheckpointWriter(store, 'arn:stream', undefined, { minIntervalMs: 50, clock });
  await writer.commit('s1', { sequenceNumber: '100' });
  const b = writer.commit('s1', { sequenceNumber: '200' });
  for (let i = 0; i < 5; i++) await Promise.resolve();
  assert.equal(saved.length, 1, 'the second save waits for the interval');
  const c = writer.commit('s1', { sequenceNumber: '300' });
  await Promise.all([b, c]);
  assert.equal(saved.length, 2, 'b and c share the save after the interval');
  assert.equal(saved[1]?.shards.s1?.sequenceNumber, '300');
  assert.deepEqual(starts, [1000, 1050]);
});

test('CheckpointWriter: a failing save rejects the commits waiting for it', async () => {
  const store: CheckpointStore = {
    description: 'broken store',
    load: () => Promise.resolve(undefined),
    save: () => Promise.reject(new Error('disk full')),
  };
  const writer = new CheckpointWriter(store, 'arn:stream');
  await assert.rejects(writer.commit('s1', { sequenceNumber: '1' }), /disk full/);
});

test('FileCheckpointStore: atomic round trip, no temporary file left, corrupt file named', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'checkpoint-'));
  const file = path.join(dir, 'nested', 'cp.json');
  const store = new FileCheckpointStore(file);
  assert.equal(await store.load(), undefined);
  const state: CheckpointState = {
    version: 1,
    streamArn: 'arn:aws:dynamodb:us-east-1:1:table/t/stream/x',
    shards: { a: { sequenceNumber: '000000000000000000123' }, b: { finished: true } },
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
  await store.save(state);
  await store.save({ ...state, shards: { a: { sequenceNumber: '000000000000000000456' } } });
  assert.deepEqual((await store.load())?.shards, { a: { sequenceNumber: '000000000000000000456' } });
  assert.deepEqual(await readdir(path.dirname(file)), ['cp.json']);
  await writeFile(file, '{"version":1,"stre');
  await assert.rejects(
    store.load(),
    (e: unknown) => e instanceof InvalidDataError && /not valid JSON/.test(e.message),
  );
  await writeFile(file, '{"hello":1}');
  await assert.rejects(store.load(), /not a dynamodb-replicator checkpoint/);
});

test('estimateCopy: refuses at 24 h of copying, warns from 12 h', () => {
  assert.equal(estimateCopy(1_000_000, 1000).verdict, 'ok'); // ~17 minutes
  assert.equal(estimateCopy(50_000_000, 1000).verdict, 'warn'); // ~13.9 h
  assert.equal(estimateCopy(86_400_000, 1000).verdict, 'refuse'); // exactly 24 h
  assert.equal(estimateCopy(86_399_000, 1000).verdict, 'warn');
  assert.equal(estimateCopy(3600, 1).seconds, 3600);
});

test('prometheusText exposes counters and per-shard lag', () => {
  const text = prometheusText({
    streamArn: 'arn:s"1',
    uptimeMs: 1500,
    records: 42,
    applied: 40,
    skipped: 2,
    rejected: 3,
    failedAttempts: 1,
    checkpoints: 7,
    lagMs: 120,
    shards: [
      { shardId: 'shard-1', state: 'reading', records: 42, lagMs: 120, caughtUp: false },
      { shardId: 'shard-0', state: 'finished', records: 0, lagMs: 0, caughtUp: true },
    ],
  });
  assert.match(text, /^dynamodb_replicator_records_total\{stream="arn:s\\"1"\} 42$/m);
  assert.match(text, /^dynamodb_replicator_lag_milliseconds\{stream="arn:s\\"1",shard="shard-1"\} 120$/m);
  assert.match(text, /^dynamodb_replicator_shards\{stream="arn:s\\"1",state="finished"\} 1$/m);
  assert.match(text, /^# TYPE dynamodb_replicator_failed_attempts_total counter$/m);
  assert.match(text, /^dynamodb_replicator_rejected_total\{stream="arn:s\\"1"\} 3$/m);
  assert.match(text, /^dynamodb_replicator_uptime_seconds\{stream="arn:s\\"1"\} 1.5$/m);
});

/** A checkpoint file in a new directory, its store (standby polls every 20 ms) and lock file writer. */
async function lockedCheckpoint() {
  const dir = await mkdtemp(path.join(tmpdir(), 'lease-'));
  const file = path.join(dir, 'checkpoint.json');
  const lock = `${file}.lock`;
  return {
    file,
    lock,
    store: new FileCheckpointStore(file, { pollMs: 20 }),
    writeLock: (info: Record<string, unknown>) =>
      writeFile(lock, JSON.stringify({ since: '2026-01-01T00:00:00.000Z', nonce: 'theirs', ...info })),
  };
}

const stateAt = (sequenceNumber: string): CheckpointState => ({
  version: 1,
  streamArn: 'arn:stream',
  shards: { s1: { sequenceNumber } },
  updatedAt: new Date(0).toISOString(),
});

test('file lease: a live holder is named; a dead or reused pid is stale; a lock from another host or not ours is never broken', async () => {
  const c = await lockedCheckpoint();
  const held = (pattern: RegExp) => (error: unknown) => {
    assert.ok(error instanceof CheckpointLeaseHeldError, String(error));
    assert.match(error.message, pattern);
    return true;
  };
  // Another live process on this host (the test runner that started this one).
  await c.writeLock({ pid: process.ppid, host: hostname() });
  await assert.rejects(
    c.store.lease(),
    held(
      new RegExp(
        `^The checkpoint file ${c.file} is held by pid ${process.ppid} on host ${hostname()} since 2026-01-01T00:00:00.000Z \\(lock file ${c.lock}\\)`,
      ),
    ),
  );
  await c.writeLock({ pid: process.ppid, host: 'elsewhere' });
  await assert.rejects(
    c.store.lease(),
    held(/lock is from another host; if that runner is gone, delete the lock file/),
  );
  await writeFile(c.lock, 'garbage');
  await assert.rejects(c.store.lease(), held(/is not a dynamodb-replicator lock \("garbage"\)/));

  // A process that has exited.
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  await c.writeLock({ pid: child.pid, host: hostname() });
  let lease = await c.store.lease();
  assert.equal(JSON.parse(await readFile(c.lock, 'utf8')).pid, process.pid);
  await lease.release();
  await assert.rejects(readFile(c.lock), { code: 'ENOENT' });

  // This process's pid with another start time: the pid was reused after the holder died (Linux).
  if (existsSync('/proc/self/stat')) {
    await c.writeLock({ pid: process.pid, host: hostname(), pidStart: '1' });
    lease = await c.store.lease();
    await lease.release();
  }
});

test('file lease: refused within the same process; a replaced lock file loses the lease and fences saves', async () => {
  const c = await lockedCheckpoint();
  const lease = await c.store.lease();
  await assert.rejects(c.store.lease(), CheckpointLeaseHeldError);
  await lease.store.save(stateAt('100'));
  await c.writeLock({ pid: process.ppid, host: hostname() });
  await assert.rejects(lease.store.save(stateAt('200')), (error: unknown) => {
    assert.ok(error instanceof CheckpointLeaseLostError, String(error));
    assert.match(
      error.message,
      new RegExp(`was removed or replaced; it is now held by pid ${process.ppid} on host `),
    );
    return true;
  });
  assert.equal(lease.signal.aborted, true);
  assert.throws(() => lease.check(), CheckpointLeaseLostError);
  assert.equal((await c.store.load())?.shards.s1?.sequenceNumber, '100');
  await lease.release();
  assert.equal(JSON.parse(await readFile(c.lock, 'utf8')).nonce, 'theirs', "another's lock is left alone");
});

test('file lease: a standby waits, names the holder once, and takes over on release; stopping it ends the wait', async () => {
  const c = await lockedCheckpoint();
  const holder = await c.store.lease();
  const waited: string[] = [];
  const standby = c.store.lease({ wait: true, onWait: (h) => waited.push(h) });
  while (waited.length === 0) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
  await holder.release();
  const taken = await standby;
  assert.deepEqual(waited, [holder.holder]);
  const stop = new AbortController();
  const second = c.store.lease({ wait: true, signal: stop.signal });
  stop.abort();
  await assert.rejects(second, { name: 'AbortError' });
  await taken.release();
});
