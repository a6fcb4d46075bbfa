import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvalidDataError } from '../../src/core/errors.js';
import { estimateCopy } from '../../src/replicate/backfill.js';
import {
  CheckpointWriter,
  FileCheckpointStore,
  type CheckpointState,
  type CheckpointStore,
} from '../../src/replicate/checkpoint.js';
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
