/**
 * Native export runs over one log: the lease that keeps two incremental runs from exporting one
 * window twice (library, CLI, an expired lease taken over, two processes racing), and the finish
 * step verifying an export in slices (the same index however many slices; a corrupt file named).
 *
 * DynamoDB Local has no export API: the export stand-in (test/harness/export-stand-in.ts) answers
 * ExportTableToPointInTime and DescribeExport in front of DynamoDB Local and writes the documented
 * export layout into s3rver.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  checkNativeBackup,
  finishNativeBackup,
  finishNativeBackupSlice,
  NATIVE_LEASE_FOLDER,
  startNativeBackup,
  type NativeExportStarted,
  type NativeFinishStep,
} from '../../src/backup/native-backup.js';
import { InvalidDataError } from '../../src/core/errors.js';
import { currentLease, LeaseHeldError, LeaseLostError, takeLease } from '../../src/storage/object-lease.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { listKeys } from '../harness/backup-stores.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { startExportStandIn } from '../harness/export-stand-in.js';
import { startLocalS3 } from '../harness/s3.js';

// Set up at the top level: the harness stops its servers after the file, not after a hook.
const endpoint = await dynamoEndpoint();
const client: DynamoDBClient = dynamoClient(endpoint);
const s3 = await startLocalS3();
const bucket = await s3.createBucket();
const standIn = await startExportStandIn(endpoint, s3.client);
const viaStandIn = dynamoClient(standIn.endpoint);
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const s3Env = {
  S3_ENDPOINT: s3.endpoint,
  S3_ACCESS_KEY_ID: credentials.accessKeyId,
  S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
};
const cli = (...argv: string[]) => runCliCapture(argv, { env: { ...process.env, ...s3Env } });
const store = (url: string): ObjectStore =>
  openObjectStore(url, { s3: { endpoint: s3.endpoint, credentials } });
const at = (table: string) => `${standIn.endpoint}/${table}?region=us-east-1`;
const roundTrip = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

async function put(table: string, ids: readonly string[], v = 'a'): Promise<void> {
  for (const id of ids)
    await client.send(new PutItemCommand({ TableName: table, Item: { id: { S: id }, v: { S: v } } }));
}

/** Waits (polling the clock) until a new whole second has begun: the stand-in ends windows on whole seconds. */
async function nextSecond(): Promise<void> {
  const second = Math.ceil((Date.now() + 100) / 1000) * 1000;
  while (Date.now() < second + 20) await new Promise((r) => setTimeout(r, 10));
}

/** Checks the started export until DynamoDB (the stand-in) says COMPLETED. */
async function completed(started: NativeExportStarted): Promise<void> {
  for (let i = 0; i < 10; i++)
    if ((await checkNativeBackup(viaStandIn, started)).state === 'COMPLETED') return;
  assert.fail(`export ${started.exportArn} never completed`);
}

/** A table holding `count` items `<prefix><i>`, observed by the stand-in, and a fresh log. */
async function seeded(prefix: string, count: number): Promise<{ table: string; log: ObjectStore }> {
  const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
  await put(
    table,
    Array.from({ length: count }, (_, i) => `${prefix}${i}`),
  );
  await standIn.observe(table, count);
  return { table, log: store(`s3://${bucket}/${uniqueName(prefix)}`) };
}

/** A table with a base snapshot (a full native export) in a fresh log, and 3 changes after it. */
async function tableWithBase(name: string): Promise<{ table: string; location: string; log: ObjectStore }> {
  const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
  await put(table, ['a', 'b', 'c', 'd']);
  await standIn.observe(table, 4);
  const location = `s3://${bucket}/${uniqueName(name)}`;
  const r = await cli('backup-table', at(table), location, '--native', '--json');
  assert.equal(r.code, 0, r.stderr);
  await nextSecond();
  await put(table, ['a', 'e', 'f'], 'b');
  await standIn.observe(table, 3);
  await nextSecond();
  return { table, location, log: store(location) };
}

/** Every finish slice until done, with the given budget; the steps in order. */
async function finishInSlices(
  started: NativeExportStarted,
  log: ObjectStore,
  budgetMs: number,
): Promise<NativeFinishStep[]> {
  const steps: NativeFinishStep[] = [];
  for (let step: NativeFinishStep | undefined; !step?.done;) {
    const progress = step && !step.done ? roundTrip(step) : undefined;
    step = await finishNativeBackupSlice(viaStandIn, log, roundTrip(started), {
      budgetMs,
      ...(progress ? { progress } : {}),
    });
    steps.push(step);
  }
  return steps;
}

describe('the lease on incremental runs', () => {
  test('a second run while the first holds it is skipped, naming the first; after the first finishes the next runs', async () => {
    const { table, log } = await tableWithBase('lease');
    const first = await startNativeBackup(viaStandIn, log, { table, incremental: true, run: 'sched-1' });
    assert.equal(first.lease?.run, 'sched-1');
    assert.equal(first.lease?.generation, 1);
    const since = new Date(first.lease?.since ?? 0).toISOString();
    const exportsBefore = standIn.started.length;
    await assert.rejects(
      startNativeBackup(viaStandIn, log, { table, incremental: true, run: 'by-hand' }),
      (e: Error) =>
        e instanceof LeaseHeldError && e.message === `skipped: run sched-1 in progress since ${since}`,
    );
    // The skipped run started no export.
    assert.equal(standIn.started.length, exportsBefore);

    await completed(first);
    const result = await finishNativeBackup(viaStandIn, log, roundTrip(first));
    assert.equal(result.itemCount, 3);
    const released = await currentLease(log, NATIVE_LEASE_FOLDER);
    assert.equal(released?.run, 'sched-1');
    assert.equal(typeof released?.released, 'number');

    await nextSecond();
    const next = await startNativeBackup(viaStandIn, log, { table, incremental: true, run: 'sched-2' });
    assert.equal(next.lease?.generation, 2);
    assert.equal(next.window?.from, result.window?.to);
  });

  test('backup-table --native --incremental meanwhile: exit 2, "skipped: run <id> in progress since <time>", no export', async () => {
    const { table, location, log } = await tableWithBase('lease-cli');
    const first = await startNativeBackup(viaStandIn, log, { table, incremental: true, run: 'sched-7' });
    const exportsBefore = standIn.started.length;
    const r = await cli('backup-table', at(table), location, '--native', '--incremental');
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `skipped: run sched-7 in progress since ${new Date(first.lease?.since ?? 0).toISOString()}\n`,
    );
    assert.equal(r.stdout, '');
    assert.equal(standIn.started.length, exportsBefore);
    assert.equal((await listKeys(log)).filter((k) => k.startsWith('exports/')).length, 0);
  });

  test('an expired lease (a crashed run) is taken over; the crashed run can no longer index its export', async () => {
    const { table, log } = await tableWithBase('lease-expired');
    // A lease of 1 ms: expired by the time the next run looks, as a crashed run's would be.
    const crashed = await startNativeBackup(viaStandIn, log, {
      table,
      incremental: true,
      run: 'crashed',
      leaseMs: 1,
    });
    await new Promise((r) => setTimeout(r, 5));
    const taker = await startNativeBackup(viaStandIn, log, { table, incremental: true, run: 'taker' });
    assert.equal(taker.lease?.generation, 2);
    assert.equal(taker.window?.from, crashed.window?.from);
    await completed(crashed);
    await completed(taker);
    await assert.rejects(
      finishNativeBackup(viaStandIn, log, roundTrip(crashed)),
      (e: Error) =>
        e instanceof LeaseLostError &&
        /run crashed no longer holds the lease .*runs\/native-incremental: its lease expired and run taker in progress since/.test(
          e.message,
        ),
    );
    assert.equal((await listKeys(log)).filter((k) => k.startsWith('exports/')).length, 0);
    const result = await finishNativeBackup(viaStandIn, log, roundTrip(taker));
    assert.equal(result.itemCount, 3);
    const keys = await listKeys(log);
    assert.deepEqual(
      keys.filter((k) => k.startsWith('exports/')),
      [
        `exports/${String(result.window?.from).padStart(13, '0')}-${String(result.window?.to).padStart(13, '0')}-${result.exportId}.json`,
      ],
    );
  });

  test('two processes racing for the lease: exactly one takes it, the other is told who did (5 rounds, a free and an expired lease)', async () => {
    // A directory store: its create-only write is an atomic link. (s3rver ignores If-None-Match,
    // so a race on it would test the stand-in, not the lease; S3 itself refuses the loser with 412.)
    const dir = mkdtempSync(path.join(tmpdir(), 'lease-race-'));
    const script = `
      import { createInterface } from 'node:readline';
      import { takeLease } from './src/storage/object-lease.ts';
      import { openObjectStore } from './src/storage/open-store.ts';
      const [dir, run] = process.argv.slice(-2);
      const lines = createInterface({ input: process.stdin });
      process.stdout.write('ready\\n');
      for await (const folder of lines) {
        try {
          const lease = await takeLease(openObjectStore(dir), folder, { run, ttlMs: 60_000 });
          process.stdout.write(JSON.stringify({ won: lease.generation }) + '\\n');
        } catch (e) {
          process.stdout.write(JSON.stringify({ lost: e.constructor.name, message: e.message }) + '\\n');
        }
      }`;
    const racer = (run: string) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script, dir, run],
        {
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      const lines: string[] = [];
      let waiting: (() => void) | undefined;
      let buffer = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
          lines.push(buffer.slice(0, i));
          buffer = buffer.slice(i + 1);
        }
        waiting?.();
      });
      const line = async (n: number): Promise<string> => {
        while (lines.length <= n) await new Promise<void>((r) => (waiting = r));
        return lines[n] as string;
      };
      return { child, line };
    };
    const a = racer('racer-a');
    const b = racer('racer-b');
    try {
      assert.equal(await a.line(0), 'ready');
      assert.equal(await b.line(0), 'ready');
      const local = openObjectStore(dir);
      for (let round = 1; round <= 5; round++) {
        const folder = `round-${round}`;
        // Rounds 4 and 5 race to take over a lease that expired.
        if (round >= 4) await takeLease(local, folder, { run: 'crashed', ttlMs: 1, now: () => 0 });
        a.child.stdin.write(`${folder}\n`);
        b.child.stdin.write(`${folder}\n`);
        const results = [
          JSON.parse(await a.line(round)) as { won?: number; lost?: string; message?: string },
          JSON.parse(await b.line(round)) as { won?: number; lost?: string; message?: string },
        ];
        const winners = results.filter((r) => r.won !== undefined);
        assert.equal(winners.length, 1, `round ${round}: ${JSON.stringify(results)}`);
        assert.equal(winners[0]?.won, round >= 4 ? 2 : 1);
        const loser = results.find((r) => r.lost !== undefined);
        assert.equal(loser?.lost, 'LeaseHeldError');
        const holder = await currentLease(local, folder);
        assert.equal(holder?.generation, round >= 4 ? 2 : 1);
        assert.match(
          loser?.message ?? '',
          new RegExp(
            `^skipped: run ${holder?.run} in progress since ${new Date(holder?.since ?? 0).toISOString()}$`,
          ),
        );
      }
    } finally {
      a.child.stdin.end();
      b.child.stdin.end();
    }
  });
});

describe('finish in slices', () => {
  test('one file per slice gives the same index, byte for byte, as one slice (full and incremental)', async () => {
    const { table, log } = await seeded('s', 9);
    const full = await startNativeBackup(viaStandIn, log, { table });
    await completed(full);
    // The stand-in writes a full export as 3 data files (one empty): 3 slices with a zero budget.
    const steps = await finishInSlices(full, log, 0);
    assert.deepEqual(
      steps.map((s) =>
        s.done ? 'done' : `${s.filesVerified}/${s.filesTotal} files, ${s.itemsVerified} items`,
      ),
      ['1/3 files, 5 items', '2/3 files, 5 items', 'done'],
    );
    const indexKeys = (keys: string[]) =>
      keys.filter((k) => /snapshot\.json$|table-description\.(json|checksum)$|^exports\//.test(k)).sort();
    const read = async (keys: string[]) =>
      Promise.all(keys.map(async (k) => [k, (await log.get(k)).toString('utf8')] as const));
    const sliced = await read(indexKeys(await listKeys(log)));
    assert.equal(sliced.length, 3);
    for (const [key] of sliced) await log.delete(key);
    const whole = await finishInSlices(full, log, Infinity);
    assert.equal(whole.length, 1);
    assert.deepEqual(await read(indexKeys(await listKeys(log))), sliced);
    const { done: _a, ...slicedResult } = steps.at(-1) as NativeFinishStep & { done: true };
    const { done: _b, ...wholeResult } = whole[0] as NativeFinishStep & { done: true };
    assert.deepEqual(slicedResult, wholeResult);
    assert.equal(wholeResult.itemCount, 9);

    await nextSecond();
    await put(table, ['s1', 'n1', 'n2'], 'b');
    await standIn.observe(table, 3);
    await nextSecond();
    const incremental = await startNativeBackup(viaStandIn, log, { table, incremental: true });
    await completed(incremental);
    const incSteps = await finishInSlices(incremental, log, 0);
    assert.deepEqual(
      incSteps.map((s) =>
        s.done ? `done: ${s.itemCount} items` : `${s.filesVerified}/${s.filesTotal} files`,
      ),
      ['1/2 files', 'done: 3 items'],
    );
    const incIndex = await read(indexKeys(await listKeys(log)).filter((k) => k.startsWith('exports/')));
    assert.equal(incIndex.length, 1);
    await log.delete(incIndex[0]?.[0] as string);
    // Its lease was given up when it was indexed: the one-slice finish runs without it.
    const { lease: _lease, ...withoutLease } = incremental;
    const incWhole = await finishInSlices(withoutLease, log, Infinity);
    assert.equal(incWhole.length, 1);
    assert.deepEqual(
      await read(indexKeys(await listKeys(log)).filter((k) => k.startsWith('exports/'))),
      incIndex,
    );
  });

  test('a corrupt file in the third slice fails the finish naming the file; nothing indexed; a foreign progress is refused', async () => {
    const { table, log } = await seeded('c', 6);
    standIn.corruptNext(2);
    const started = await startNativeBackup(viaStandIn, log, { table });
    await completed(started);
    const first = await finishNativeBackupSlice(viaStandIn, log, started, { budgetMs: 0 });
    assert.equal(first.done, false);
    const second = await finishNativeBackupSlice(viaStandIn, log, started, {
      budgetMs: 0,
      ...(first.done ? {} : { progress: first }),
    });
    assert.equal(second.done ? 'done' : second.filesVerified, 2);
    const manifest = (await listKeys(log)).find((k) => k.endsWith('/manifest-files.json')) as string;
    const third = (await log.get(manifest)).toString('utf8').trim().split('\n')[2] as string;
    const dataKey = (JSON.parse(third) as { dataFileS3Key: string }).dataFileS3Key;
    const name = dataKey.slice(dataKey.indexOf('/data/') + 1);
    await assert.rejects(
      finishNativeBackupSlice(viaStandIn, log, started, {
        budgetMs: 0,
        ...(second.done ? {} : { progress: second }),
      }),
      (e: Error) =>
        e instanceof InvalidDataError &&
        e.message.includes(`/${name}: MD5 `) &&
        /does not match the manifest's .*: the file is corrupt or was replaced/.test(e.message),
    );
    assert.equal((await listKeys(log)).filter((k) => k.endsWith('snapshot.json')).length, 0);
    await assert.rejects(
      finishNativeBackupSlice(viaStandIn, log, started, {
        ...(second.done ? {} : { progress: { ...second, manifest: '0'.repeat(32) } }),
      }),
      (e: Error) =>
        e instanceof InvalidDataError &&
        /the finish progress given \(2\/3 files of .*\) is not of this export's manifest/.test(e.message),
    );
  });
});
