/**
 * The `replicate` command end to end against DynamoDB Local: as a child process killed with SIGKILL
 * and restarted, the backfill hand-off under concurrent writes, SIGTERM, metrics and bad input.
 * The source lives in "region" us-east-1 and the replicas in eu-west-1 of the same server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { compareSequenceNumbers } from '../../src/core/change.js';
import { freePort } from '../../src/embedded/dynamodb-local.js';
import type { CheckpointState } from '../../src/replicate/checkpoint.js';
import type { ReplicationStatus } from '../../src/replicate/status.js';
import { STATUS_PAGE_CSP } from '../../src/cli/status-server.js';
import { runCliCapture } from '../harness/cli.js';
import { jsonLines, spawnCli, waitFor } from '../harness/cli-process.js';
import { createTestTable, dynamoClient, dynamoEndpoint, streamsClient } from '../harness/dynamodb.js';
import { readStream } from '../harness/stream-capture.js';
import { scanAll } from '../harness/table-items.js';
import { assertTablesEqual, mutate, putItems } from '../harness/table-load.js';

interface Fixture {
  endpoint: string;
  source: DynamoDBClient;
  replica: DynamoDBClient;
  sourceTable: string;
  replicaTable: string;
  sourceLoc: string;
  replicaLoc: string;
  checkpoint: string;
  dir: string;
}

async function fixture(
  options: { stream?: 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY' | null } = {},
): Promise<Fixture> {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, 'us-east-1');
  const replica = dynamoClient(endpoint, 'eu-west-1');
  const stream = options.stream === undefined ? 'NEW_AND_OLD_IMAGES' : options.stream;
  const sourceTable = await createTestTable(source, stream ? { stream } : {});
  const replicaTable = await createTestTable(replica);
  const dir = await mkdtemp(path.join(tmpdir(), 'replicate-cli-'));
  return {
    endpoint,
    source,
    replica,
    sourceTable,
    replicaTable,
    sourceLoc: `${endpoint}/${sourceTable}?region=us-east-1`,
    replicaLoc: `${endpoint}/${replicaTable}?region=eu-west-1`,
    checkpoint: path.join(dir, 'checkpoint.json'),
    dir,
  };
}

/** `replicate` from the fixture's source to its replica with its checkpoint file, JSON output. */
function runnerArgs(f: Fixture): string[] {
  return ['replicate', f.sourceLoc, f.replicaLoc, '--checkpoint', f.checkpoint, '--json'];
}

const assertEqualTables = (f: Fixture): Promise<number> =>
  assertTablesEqual(f.source, f.sourceTable, f.replica, f.replicaTable);

async function readCheckpoint(file: string): Promise<CheckpointState | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as CheckpointState;
  } catch {
    return undefined;
  }
}

test('killed with SIGKILL mid-stream and restarted: converges and resumes after the checkpoint', async () => {
  const f = await fixture();
  await putItems(
    f.source,
    f.sourceTable,
    Array.from({ length: 1000 }, (_, i) => ({ id: { S: `k${i}` }, n: { N: String(i) } })),
  );
  const stop = { done: false };
  const load = mutate(f.source, f.sourceTable, 1000, stop);
  const first = spawnCli(runnerArgs(f));
  try {
    // Kill it once it has checkpointed some progress, while the writes are still flowing.
    await waitFor(
      async () => Object.keys((await readCheckpoint(f.checkpoint))?.shards ?? {}).length > 0,
      60_000,
      'a checkpoint',
    );
    await new Promise((r) => setTimeout(r, 500));
    first.child.kill('SIGKILL');
  } finally {
    first.child.kill('SIGKILL');
  }
  const killed = await first.output;
  assert.equal(killed.code, null, 'the first runner died from SIGKILL');
  // More changes after the crash.
  await new Promise((r) => setTimeout(r, 500));
  stop.done = true;
  await load;

  const saved = (await readCheckpoint(f.checkpoint)) as CheckpointState;
  const capture = await readStream(f.source, streamsClient(f.endpoint, 'us-east-1'), f.sourceTable, 0);
  const total = capture.records.length;
  const shards = Object.values(saved.shards);
  assert.equal(shards.length, 1, 'DynamoDB Local gives a new table one shard');
  const position = shards[0]?.sequenceNumber as string;
  const after = capture.records.filter(
    (r) => compareSequenceNumbers(r.dynamodb?.SequenceNumber ?? '', position) > 0,
  ).length;
  assert.ok(after > 0 && after < total, `the kill happened mid-stream (${after} of ${total} records left)`);

  const second = spawnCli([...runnerArgs(f), '--stop-when-idle', '1500ms']);
  const done = await second.output;
  assert.equal(done.code, 0, done.stderr);
  const summary = jsonLines(done.stdout).find((l) => l.event === 'stopped');
  assert.ok(summary, done.stdout);
  assert.equal(summary.reason, 'idle');
  assert.equal(
    summary.records,
    after,
    'the restart reads exactly the records after the checkpoint, not from the start',
  );
  await assertEqualTables(f);
});

test('--backfill: copy under concurrent puts, updates and deletes, then catch up -> replica equals source', async () => {
  const f = await fixture();
  await putItems(
    f.source,
    f.sourceTable,
    Array.from({ length: 3000 }, (_, i) => ({
      id: { S: `k${i}` },
      n: { N: `${i}.000000000000000000000000000001` },
      bin: { B: new Uint8Array([i % 256, 7]) },
    })),
  );
  const stop: { done: boolean; started?: number } = { done: false };
  const load = mutate(f.source, f.sourceTable, 3000, stop);
  // 1,000 items/s makes the copy last ~3 s, all of it under the write load.
  const run = runCliCapture([
    'replicate',
    f.sourceLoc,
    f.replicaLoc,
    '--backfill',
    '--items-per-second',
    '1000',
    '--checkpoint',
    f.checkpoint,
    '--json',
    '--stop-when-idle',
    '2s',
  ]);
  let copyDone = false;
  await waitFor(
    async () => {
      copyDone = (await readCheckpoint(f.checkpoint)) !== undefined;
      return copyDone;
    },
    120_000,
    'the copy to finish',
  );
  // The writes started while the copy ran: the hand-off really was under load.
  const duringCopy = stop.started ?? 0;
  await new Promise((r) => setTimeout(r, 1000));
  stop.done = true;
  const mutations = await load;
  const result = await run;
  assert.equal(result.code, 0, result.stderr);
  const lines = jsonLines(result.stdout);
  const copied = lines.find((l) => l.event === 'backfill-done');
  assert.ok(copied, result.stdout);
  assert.ok((copied.scanned as number) >= 2900, `the copy scanned the table (${String(copied.scanned)})`);
  const summary = lines.find((l) => l.event === 'stopped');
  assert.ok(
    summary && (summary.records as number) > 0,
    'the stream replay applied the changes made during the copy',
  );
  assert.ok(
    duringCopy > 0 && mutations >= duringCopy,
    `writes hit the source during the copy (${duringCopy})`,
  );
  await assertEqualTables(f);
});

test('SIGTERM finishes the batch, checkpoints and exits 0; --metrics-port serves the status page and Prometheus text', async () => {
  const f = await fixture();
  await putItems(
    f.source,
    f.sourceTable,
    Array.from({ length: 200 }, (_, i) => ({ id: { S: `k${i}` } })),
  );
  const port = await freePort();
  const run = runCliCapture([
    'replicate',
    f.sourceLoc,
    f.replicaLoc,
    '--checkpoint',
    f.checkpoint,
    '--metrics-port',
    String(port),
    '--json',
  ]);
  await waitFor(async () => (await scanAll(f.replica, f.replicaTable)).length === 200, 60_000, 'replication');
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(metrics, /^dynamodb_replicator_records_total\{stream="[^"]+"\} 200$/m);
  assert.match(metrics, /# TYPE dynamodb_replicator_lag_milliseconds gauge/);
  const base = `http://127.0.0.1:${port}`;
  const health = await fetch(`${base}/healthz`);
  assert.deepEqual([health.status, await health.text()], [200, 'ok\n']);
  const status = (await (await fetch(`${base}/status.json`)).json()) as ReplicationStatus;
  assert.deepEqual(
    [status.state, status.totals?.records, status.source.label],
    ['running', 200, f.sourceLoc],
  );
  const page = await fetch(`${base}/`);
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(page.headers.get('content-security-policy'), STATUS_PAGE_CSP);
  assert.match(await page.text(), /<script src="uPlot.iife.min.js" defer><\/script>/);
  process.emit('SIGTERM');
  const result = await run;
  assert.equal(result.code, 0, result.stderr);
  const summary = jsonLines(result.stdout).find((l) => l.event === 'stopped');
  assert.equal(summary?.reason, 'stopped');
  assert.equal(summary?.records, 200);
  const saved = (await readCheckpoint(f.checkpoint)) as CheckpointState;
  assert.ok(Object.values(saved.shards).some((c) => c.sequenceNumber));
});

test('--transform drops and rewrites; --turnover-role BEFORE with a past cut-over replicates nothing', async () => {
  const f = await fixture();
  const module = path.join(f.dir, 'transform.mjs');
  await writeFile(
    module,
    `export function transform(change) {
      if (change.keys.id.S.startsWith('drop')) return null;
      if (!change.newImage) return change;
      return { ...change, newImage: { ...change.newImage, tagged: { S: 'yes' } } };
    }\n`,
  );
  await putItems(f.source, f.sourceTable, [
    { id: { S: 'keep-1' }, v: { N: '1' } },
    { id: { S: 'drop-1' }, v: { N: '2' } },
  ]);
  const common = [f.sourceLoc, f.replicaLoc, '--json', '--stop-when-idle', '800ms'];
  const before = await runCliCapture([
    'replicate',
    ...common,
    '--checkpoint',
    path.join(f.dir, 'before.json'),
    '--turnover-role',
    'BEFORE',
    '--turnover-at',
    '1325376000000',
  ]);
  assert.equal(before.code, 0, before.stderr);
  assert.deepEqual(
    await scanAll(f.replica, f.replicaTable),
    [],
    'BEFORE keeps only records created before 2012-01-01',
  );
  const res = await runCliCapture([
    'replicate',
    ...common,
    '--checkpoint',
    f.checkpoint,
    '--transform',
    module,
  ]);
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), [
    { id: { S: 'keep-1' }, v: { N: '1' }, tagged: { S: 'yes' } },
  ]);
});

test('bad input: no stream, KEYS_ONLY without --read-through, missing replica, other key schema -> exit 2, nothing written', async () => {
  const noStream = await fixture({ stream: null });
  await putItems(noStream.source, noStream.sourceTable, [{ id: { S: 'a' } }]);
  let r = await runCliCapture([
    'replicate',
    noStream.sourceLoc,
    noStream.replicaLoc,
    '--checkpoint',
    noStream.checkpoint,
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /has no stream enabled/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');

  const keysOnly = await fixture({ stream: 'KEYS_ONLY' });
  await putItems(keysOnly.source, keysOnly.sourceTable, [{ id: { S: 'a' } }]);
  r = await runCliCapture([
    'replicate',
    keysOnly.sourceLoc,
    keysOnly.replicaLoc,
    '--checkpoint',
    keysOnly.checkpoint,
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /KEYS_ONLY/);
  assert.deepEqual(await scanAll(keysOnly.replica, keysOnly.replicaTable), []);

  const f = await fixture();
  await putItems(f.source, f.sourceTable, [{ id: { S: 'a' } }]);
  r = await runCliCapture([
    'replicate',
    f.sourceLoc,
    f.replicaLoc,
    `${f.endpoint}/no-such-table-xyz?region=eu-west-1`,
    '--checkpoint',
    f.checkpoint,
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no-such-table-xyz/);
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), [], 'the existing replica got nothing');

  const other = await createTestTable(f.replica, { hash: { name: 'pk', type: 'S' } });
  r = await runCliCapture([
    'replicate',
    f.sourceLoc,
    f.replicaLoc,
    `${f.endpoint}/${other}?region=eu-west-1`,
    '--checkpoint',
    f.checkpoint,
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /key schema/i);
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), []);
  assert.deepEqual(await scanAll(f.replica, other), []);
  assert.equal(await readCheckpoint(f.checkpoint), undefined, 'no checkpoint was written');

  r = await runCliCapture(['replicate', f.sourceLoc, f.replicaLoc, '--from', 'yesterday']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--from must be trim-horizon or latest/);
  r = await runCliCapture(['replicate', f.sourceLoc, f.replicaLoc, '--lease-duration', '5s']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--lease-duration applies to --checkpoint-table only/);
});

test('a gap (checkpointed shard no longer in the stream): exit 2 with advice, or --on-gap resync backfills', async () => {
  const f = await fixture();
  await putItems(
    f.source,
    f.sourceTable,
    Array.from({ length: 50 }, (_, i) => ({ id: { S: `k${i}` } })),
  );
  const capture = await readStream(f.source, streamsClient(f.endpoint, 'us-east-1'), f.sourceTable, 50);
  // A checkpoint as a runner would leave it after the stream trimmed a shard it had not finished.
  const stale: CheckpointState = {
    version: 1,
    streamArn: capture.streamArn,
    shards: { 'shardId-00000000000000000000-trimmed': { sequenceNumber: '000000000000000000001' } },
    updatedAt: new Date().toISOString(),
  };
  await writeFile(f.checkpoint, JSON.stringify(stale));
  const stopped = await runCliCapture(['replicate', f.sourceLoc, f.replicaLoc, '--checkpoint', f.checkpoint]);
  assert.equal(stopped.code, 2);
  assert.match(stopped.stderr, /no longer in the stream/);
  assert.match(stopped.stderr, /--backfill/);
  assert.deepEqual(await scanAll(f.replica, f.replicaTable), []);

  const resync = await runCliCapture([
    'replicate',
    f.sourceLoc,
    f.replicaLoc,
    '--checkpoint',
    f.checkpoint,
    '--on-gap',
    'resync',
    '--json',
    '--stop-when-idle',
    '800ms',
  ]);
  assert.equal(resync.code, 0, resync.stderr);
  const events = jsonLines(resync.stdout).map((l) => l.event);
  assert.ok(events.includes('gap') && events.includes('backfill-done'), events.join(','));
  assert.equal(await assertEqualTables(f), 50);
  const saved = (await readCheckpoint(f.checkpoint)) as CheckpointState;
  assert.equal(saved.shards['shardId-00000000000000000000-trimmed'], undefined, 'the stale shard is gone');
});

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The lock file of a checkpoint file, or undefined when there is none. */
async function readLockFile(checkpoint: string): Promise<{ pid: number; host: string } | undefined> {
  try {
    return JSON.parse(await readFile(`${checkpoint}.lock`, 'utf8')) as { pid: number; host: string };
  } catch {
    return undefined;
  }
}

/** The JSON lines a child process has written to stdout so far. */
function liveLines(child: ChildProcess): () => Record<string, unknown>[] {
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  return () => jsonLines(text.slice(0, text.lastIndexOf('\n') + 1));
}

test('a second runner on a checkpoint file exits 2 naming the holder and writes nothing; a SIGKILLed holder does not block the next', async (t) => {
  const f = await fixture();
  await putItems(
    f.source,
    f.sourceTable,
    Array.from({ length: 100 }, (_, i) => ({ id: { S: `k${i}` } })),
  );
  const other = await createTestTable(f.replica);
  const first = spawnCli(runnerArgs(f));
  try {
    await waitFor(
      async () =>
        (await scanAll(f.replica, f.replicaTable)).length === 100 &&
        (await readCheckpoint(f.checkpoint)) !== undefined,
      60_000,
      'the first runner to apply the items',
    );
    const lock = await readLockFile(f.checkpoint);
    assert.equal(lock?.pid, first.child.pid);
    assert.equal(lock?.host, hostname());
    const refusing = performance.now();
    const second = await runCliCapture([
      'replicate',
      f.sourceLoc,
      `${f.endpoint}/${other}?region=eu-west-1`,
      '--checkpoint',
      f.checkpoint,
      '--json',
      '--stop-when-idle',
      '1s',
    ]);
    t.diagnostic(`refused in ${Math.round(performance.now() - refusing)} ms`);
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        `^error: The checkpoint file ${escapeRegExp(f.checkpoint)} is held by pid ${first.child.pid} on host ` +
          `${escapeRegExp(hostname())} since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(lock file ${escapeRegExp(f.checkpoint)}\\.lock\\)`,
      ),
    );
    assert.match(second.stderr, /--wait-for-lease/);
    assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(await scanAll(f.replica, other), [], 'the refused runner wrote nothing');

    // The holder dies without releasing: its lock stays behind, and is stale.
    first.child.kill('SIGKILL');
    assert.equal((await first.output).signal, 'SIGKILL');
    assert.equal((await readLockFile(f.checkpoint))?.pid, first.child.pid);
    await putItems(
      f.source,
      f.sourceTable,
      Array.from({ length: 20 }, (_, i) => ({ id: { S: `new${i}` } })),
    );
    const next = await runCliCapture([...runnerArgs(f), '--stop-when-idle', '1500ms']);
    assert.equal(next.code, 0, next.stderr);
    assert.equal(jsonLines(next.stdout).find((l) => l.event === 'stopped')?.records, 20);
    assert.equal(await assertEqualTables(f), 120);
    assert.equal(await readLockFile(f.checkpoint), undefined, 'the lock is released when the runner stops');
  } finally {
    first.child.kill('SIGKILL');
  }
});

test('backup-only runner: a second one on the checkpoint is refused; SIGTERM releases the lock', async () => {
  const f = await fixture();
  await putItems(f.source, f.sourceTable, [{ id: { S: 'a' } }]);
  const common = ['replicate', f.sourceLoc, '--checkpoint', f.checkpoint, '--json'];
  const first = runCliCapture([...common, '--backup', path.join(f.dir, 'log-1')]);
  try {
    await waitFor(
      async () => (await readCheckpoint(f.checkpoint)) !== undefined,
      60_000,
      'the first checkpoint',
    );
    assert.equal((await readLockFile(f.checkpoint))?.pid, process.pid);
    const second = await runCliCapture([
      ...common,
      '--backup',
      path.join(f.dir, 'log-2'),
      '--stop-when-idle',
      '1s',
    ]);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`is held by pid ${process.pid} on host `));
    await assert.rejects(readdir(path.join(f.dir, 'log-2')), { code: 'ENOENT' });
  } finally {
    process.emit('SIGTERM');
  }
  assert.equal((await first).code, 0);
  assert.equal(await readLockFile(f.checkpoint), undefined, 'SIGTERM released the lock');
});

test('--wait-for-lease: a standby waits for the holder, takes over when it stops, and the replica ends exact', async () => {
  const f = await fixture();
  await putItems(
    f.source,
    f.sourceTable,
    Array.from({ length: 200 }, (_, i) => ({ id: { S: `k${i}` } })),
  );
  const stop = { done: false };
  const load = mutate(f.source, f.sourceTable, 200, stop);
  const args = runnerArgs(f);
  const first = spawnCli(args);
  let standby: ReturnType<typeof spawnCli> | undefined;
  try {
    await waitFor(
      async () => (await readLockFile(f.checkpoint))?.pid === first.child.pid,
      60_000,
      'the first runner to hold the lock',
    );
    standby = spawnCli([...args, '--wait-for-lease', '--stop-when-idle', '2s']);
    const lines = liveLines(standby.child);
    await waitFor(async () => lines().some((l) => l.event === 'lease-wait'), 60_000, 'the standby to wait');
    const waiting = lines().find((l) => l.event === 'lease-wait');
    assert.match(
      String(waiting?.holder),
      new RegExp(`^pid ${first.child.pid} on host ${escapeRegExp(hostname())} since `),
    );
    assert.equal(lines().filter((l) => l.event === 'lease-acquired').length, 0, 'nothing taken yet');
    // The holder stops while changes keep arriving: the standby takes over and continues.
    first.child.kill('SIGTERM');
    assert.equal((await first.output).code, 0);
    await waitFor(
      async () => lines().some((l) => l.event === 'lease-acquired'),
      60_000,
      'the standby to take over',
    );
    await new Promise((r) => setTimeout(r, 500));
    stop.done = true;
    assert.ok((await load) > 0);
    const done = await standby.output;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(jsonLines(done.stdout).find((l) => l.event === 'stopped')?.reason, 'idle');
    await assertEqualTables(f);
    assert.equal(await readLockFile(f.checkpoint), undefined);
  } finally {
    stop.done = true;
    first.child.kill('SIGKILL');
    standby?.child.kill('SIGKILL');
  }
});

test("--checkpoint-table: a second runner exits 2 naming the holder; a standby takes over once a killed holder's lease expires", async () => {
  const f = await fixture();
  const checkpointTable = await createTestTable(f.source);
  await putItems(
    f.source,
    f.sourceTable,
    Array.from({ length: 50 }, (_, i) => ({ id: { S: `k${i}` } })),
  );
  const args = [
    'replicate',
    f.sourceLoc,
    f.replicaLoc,
    '--checkpoint-table',
    `${f.endpoint}/${checkpointTable}?region=us-east-1`,
    '--lease-duration',
    '3s',
    '--json',
  ];
  const id = `${f.sourceLoc} -> ${f.replicaLoc}`;
  const item = async () =>
    (
      await f.source.send(
        new GetItemCommand({ TableName: checkpointTable, Key: { id: { S: id } }, ConsistentRead: true }),
      )
    ).Item;
  const first = spawnCli(args);
  let standby: ReturnType<typeof spawnCli> | undefined;
  try {
    await waitFor(
      async () =>
        (await scanAll(f.replica, f.replicaTable)).length === 50 && (await item())?.state !== undefined,
      60_000,
      'the first runner to apply the items',
    );
    const second = await runCliCapture([...args, '--stop-when-idle', '1s']);
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        `^error: The checkpoint item ${escapeRegExp(JSON.stringify(id))} of table ${checkpointTable} is held by ` +
          `pid ${first.child.pid} on host ${escapeRegExp(hostname())} since [^ ]+ \\(lease token 1, renewed until `,
      ),
    );

    standby = spawnCli([...args, '--wait-for-lease', '--stop-when-idle', '1500ms']);
    const lines = liveLines(standby.child);
    await waitFor(async () => lines().some((l) => l.event === 'lease-wait'), 60_000, 'the standby to wait');
    // Killed, the holder never releases its lease: the standby takes it when it expires.
    first.child.kill('SIGKILL');
    await first.output;
    await putItems(
      f.source,
      f.sourceTable,
      Array.from({ length: 30 }, (_, i) => ({ id: { S: `new${i}` } })),
    );
    const done = await standby.output;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(jsonLines(done.stdout).filter((l) => l.event === 'lease-acquired').length, 1);
    assert.equal(await assertEqualTables(f), 80);
    const after = await item();
    assert.equal(after?.leaseToken?.N, '2', 'the standby is the second owner');
    assert.equal(after?.leaseOwner, undefined, 'released when it stopped');
  } finally {
    first.child.kill('SIGKILL');
    standby?.child.kill('SIGKILL');
  }
});
