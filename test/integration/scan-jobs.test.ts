import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { openExport } from '../../src/backup/export-layout.js';
import { backupTable } from '../../src/backup/full-backup.js';
import { copyIntoTable } from '../../src/dynamodb/copy-table.js';
import { describeTable } from '../../src/dynamodb/tables.js';
import { diffTables, type Discrepancy } from '../../src/diff/diff-tables.js';
import { reportLine } from '../../src/diff/report.js';
import { tableSide } from '../../src/diff/side.js';
import { JobFolder, SegmentBusyError } from '../../src/jobs/job-folder.js';
import { REPORT_FILE } from '../../src/jobs/diff-kind.js';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import type { JobEnvironment } from '../../src/jobs/kind.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { cachedJobEnvironment } from '../../src/jobs/environment.js';
import {
  mergeJob,
  planJob,
  runTaskSlice,
  type MergeJobOutput,
  type PlanJobOutput,
  type TaskSliceOutput,
} from '../../src/jobs/tasks.js';
import { createScanJobHandler } from '../../src/lambda/scan-job.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { assertTablesEqual } from '../harness/table-load.js';
import { createPair, putItems, row } from './diff-fixtures.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { STORE_BACKENDS } from '../harness/backup-stores.js';
import { awkwardItems, loadItems, sortById } from '../harness/backup-fixtures.js';

/** The environment with `url` opening the test's own store (its S3 endpoint and keys). */
function withStore(env: JobEnvironment, url: string, store: ObjectStore): JobEnvironment {
  return { openTable: (l) => env.openTable(l), openStore: (l) => (l === url ? store : env.openStore(l)) };
}

async function exportItems(store: ObjectStore, jobId: string): Promise<Item[]> {
  const reader = await openExport(store.at(`AWSDynamoDB/${jobId}`));
  const items: Item[] = [];
  for await (const item of reader.items()) items.push(item);
  return sortById(items);
}

/** Both lists hold the same items (by value: sets unordered, numbers by value, attribute order free). */
function assertSameItems(actual: readonly Item[], expected: readonly Item[]): void {
  assert.equal(actual.length, expected.length);
  const a = sortById(actual);
  const e = sortById(expected);
  a.forEach((item, i) => assert.ok(itemsEqual(item, e[i]!), `item ${i} differs`));
}

function workDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'scan-job-'));
}

/** Runs every segment slice by slice, round robin, until all are done; returns the slices run. */
async function runAllSlices(
  env: JobEnvironment,
  work: string,
  jobId: string,
  segments: number,
  items: number,
): Promise<number> {
  let slices = 0;
  const pending = new Set(Array.from({ length: segments }, (_, s) => s));
  while (pending.size > 0) {
    for (const segment of [...pending]) {
      const out = await runTaskSlice({ work, jobId, segment, budget: { items } }, { env });
      slices++;
      if (out.done) pending.delete(segment);
    }
  }
  return slices;
}

for (const backend of STORE_BACKENDS) {
  test(`backup job with forced stops merges to the one-process backup's items (${backend.name})`, async () => {
    const endpoint = await dynamoEndpoint();
    const client = dynamoClient(endpoint);
    const source = await createTestTable(client);
    const items = awkwardItems(700);
    await loadItems(client, source, items);
    const { url, store } = await backend.root();
    const env = cachedJobEnvironment();
    try {
      const work = workDir();
      const plan = await planJob(
        {
          work,
          kind: 'backup',
          segments: 4,
          jobId: 'job-s',
          params: { table: `${endpoint}/${source}`, backup: url, pageSize: 25 },
        },
        { env: withStore(env, url, store) },
      );
      assert.equal(plan.tasks.length, 4);
      const slices = await runAllSlices(withStore(env, url, store), work, 'job-s', 4, 50);
      assert.ok(slices >= 14, `700 items in slices of 50 take at least 14 slices, ran ${slices}`);
      const merged = await mergeJob({ work, jobId: 'job-s' }, { env: withStore(env, url, store) });
      assert.equal(merged.done, true);
      assert.equal(merged.totals.items, 700);

      await backupTable(client, store, { table: source, jobId: 'job-one' });
      const one = await openExport(store.at('AWSDynamoDB/job-one'));
      const split = await openExport(store.at('AWSDynamoDB/job-s'));
      assert.equal(split.itemCount, one.itemCount);
      assert.equal(split.itemCount, 700);

      assertSameItems(await exportItems(store, 'job-s'), items);
      assertSameItems(await exportItems(store, 'job-s'), await exportItems(store, 'job-one'));

      // Restore from it as a job too (3 segments over its data files, stops every 60 items).
      const target = uniqueName('restored');
      await planJob(
        {
          work,
          kind: 'restore',
          segments: 3,
          jobId: 'job-r',
          params: { backup: url, exportId: 'job-s', target: `${endpoint}/${target}`, create: true },
        },
        { env: withStore(env, url, store) },
      );
      const restoreSlices = await runAllSlices(withStore(env, url, store), work, 'job-r', 3, 60);
      assert.ok(
        restoreSlices >= 12,
        `700 items in slices of 60 take at least 12 slices, ran ${restoreSlices}`,
      );
      const restored = await mergeJob({ work, jobId: 'job-r' }, { env: withStore(env, url, store) });
      assert.equal(restored.done, true);
      assert.equal(restored.totals.items, 700);
      assert.equal(await assertTablesEqual(client, source, client, target), 700);
    } finally {
      env.close();
    }
  });
}

test('copy job with forced stops copies exactly what a one-process copy does (totals and content)', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  await loadItems(client, source, awkwardItems(640));
  const env = cachedJobEnvironment();
  try {
    const work = workDir();
    const target = uniqueName('copy-job');
    await planJob(
      {
        work,
        kind: 'copy',
        segments: 5,
        jobId: 'copy-1',
        params: {
          source: `${endpoint}/${source}`,
          target: `${endpoint}/${target}`,
          create: true,
          pageSize: 20,
        },
      },
      { env },
    );
    const slices = await runAllSlices(env, work, 'copy-1', 5, 40);
    assert.ok(slices >= 16, `640 items in slices of 40 take at least 16 slices, ran ${slices}`);
    const merged = await mergeJob({ work, jobId: 'copy-1' }, { env });
    assert.equal(merged.done, true);
    assert.deepEqual(
      { ...(merged.result as object) },
      {
        source: `${endpoint}/${source}`,
        target: `${endpoint}/${target}`,
        items: 640,
        scanned: 640,
        retries: 0,
      },
    );
    const one = await copyIntoTable({
      source: { client, table: source },
      target: { client, table: uniqueName('copy-one') },
      create: true,
    });
    assert.equal((merged.result as { items: number }).items, one.items);
    assert.equal(await assertTablesEqual(client, source, client, target), 640);
  } finally {
    env.close();
  }
});

test('diff job with forced stops reports exactly what diffTables does, and repairs the replica', async () => {
  const pair = await createPair();
  const rows = Array.from({ length: 400 }, (_, i) => row(`r${String(i).padStart(4, '0')}`, { N: String(i) }));
  await putItems(pair.primaryClient, pair.primary, rows);
  // Replica: 6 missing, 5 different, 4 extraneous.
  const replicaRows = rows
    .filter((_, i) => i % 67 !== 3)
    .map((r, i) => (i % 80 === 7 ? { ...r, other: { N: '-1' } } : r));
  const extra = [0, 1, 2, 3].map((i) => row(`x${i}`, { S: 'only in replica' }));
  await putItems(pair.replicaClient, pair.replica, [...replicaRows, ...extra]);
  const { keySchema } = await describeTable(pair.primaryClient, pair.primary);

  const found: Discrepancy[] = [];
  const one = await diffTables(
    tableSide(pair.primaryClient, pair.primary, keySchema),
    tableSide(pair.replicaClient, pair.replica, keySchema),
    { onDiscrepancy: (d) => void found.push(d) },
  );
  assert.deepEqual(one.discrepancies, { missing: 6, different: 5, extraneous: 4, total: 15 });

  const env = cachedJobEnvironment();
  try {
    const work = workDir();
    const params = { primary: pair.primaryLocation, replica: pair.replicaLocation, pageSize: 15 };
    await planJob({ work, kind: 'diff', segments: 4, jobId: 'diff-1', params }, { env });
    const slices = await runAllSlices(env, work, 'diff-1', 4, 30);
    assert.ok(slices >= 26, `800 items in slices of 30 take at least 26 slices, ran ${slices}`);
    const merged = await mergeJob({ work, jobId: 'diff-1' }, { env });
    const result = merged.result as { discrepancies: unknown; scanned: unknown };
    assert.deepEqual(result.discrepancies, one.discrepancies);
    assert.deepEqual(result.scanned, { primary: 400, replica: 398 });
    const report = (await JobFolder.of(openObjectStore(work), 'diff-1').store.get(REPORT_FILE)).toString(
      'utf8',
    );
    assert.deepEqual(
      report.split('\n').filter(Boolean).sort(),
      found.map((d) => reportLine(d, false).trim()).sort(),
    );

    // The same pair with repair, then a plain job proves the replica equal.
    await planJob(
      { work, kind: 'diff', segments: 3, jobId: 'diff-2', params: { ...params, repair: true } },
      { env },
    );
    await runAllSlices(env, work, 'diff-2', 3, 50);
    const repaired = await mergeJob({ work, jobId: 'diff-2' }, { env });
    assert.deepEqual((repaired.result as { repaired: unknown }).repaired, { written: 15 });
    await planJob({ work, kind: 'diff', segments: 2, jobId: 'diff-3', params }, { env });
    await runAllSlices(env, work, 'diff-3', 2, 1000);
    const after = await mergeJob({ work, jobId: 'diff-3' }, { env });
    assert.deepEqual((after.result as { discrepancies: unknown }).discrepancies, {
      missing: 0,
      different: 0,
      extraneous: 0,
      total: 0,
    });
  } finally {
    env.close();
  }
});

test('1,000 small segments with forced stops and resumes merge to an exact backup', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  const items = awkwardItems(300);
  await loadItems(client, source, items);
  const env = cachedJobEnvironment();
  try {
    const work = workDir();
    const backup = workDir();
    await planJob(
      {
        work,
        kind: 'backup',
        segments: 1000,
        jobId: 'many',
        params: { table: `${endpoint}/${source}`, backup, pageSize: 1 },
      },
      { env },
    );
    // Every slice stops after one item: a segment holding k items takes k + 1 slices.
    const slices = await runAllSlices(env, work, 'many', 1000, 1);
    assert.equal(slices, 1000 + 300);
    const merged = await mergeJob({ work, jobId: 'many' }, { env });
    assert.equal(merged.done, true);
    assert.equal((merged.result as { itemCount: number }).itemCount, 300);
    assertSameItems(await exportItems(openObjectStore(backup), 'many'), items);
  } finally {
    env.close();
  }
});

test('two runs of one segment: the second is refused while the first holds it; a dropped run commits nothing', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  await loadItems(client, source, awkwardItems(50));
  const env = cachedJobEnvironment();
  try {
    const work = workDir();
    const target = uniqueName('busy');
    await planJob(
      {
        work,
        kind: 'copy',
        segments: 1,
        jobId: 'busy',
        params: {
          source: `${endpoint}/${source}`,
          target: `${endpoint}/${target}`,
          create: true,
          pageSize: 10,
        },
      },
      { env },
    );
    const folder = JobFolder.of(openObjectStore(work), 'busy');
    const job = await folder.read();
    const state = await folder.state(job, 0);
    // Another live owner (this very process, under another name) holds slice 1.
    await folder.claim(state, { owner: 'other', host: 'elsewhere', pid: 1 }, 60_000, Date.now());
    await assert.rejects(runTaskSlice({ work, jobId: 'busy', segment: 0 }, { env }), SegmentBusyError);
    // Its claim expired: this run takes over and commits slice 1; the other's late commit is refused.
    const out = await runTaskSlice(
      { work, jobId: 'busy', segment: 0, budget: { items: 20 } },
      { env, now: () => Date.now() + 120_000 },
    );
    assert.equal(out.slice, 1);
    await assert.rejects(
      folder.commit({ ...state, slice: 1, done: true, totals: { written: 999 } }),
      SegmentBusyError,
    );
    await runTaskSlice({ work, jobId: 'busy', segment: 0 }, { env });
    const merged = await mergeJob({ work, jobId: 'busy' }, { env });
    assert.equal((merged.result as { items: number }).items, 50);
  } finally {
    env.close();
  }
});

test('a slice that fails gives up its claim, so the retry runs at once and commits', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  await loadItems(client, source, awkwardItems(30));
  const env = cachedJobEnvironment();
  try {
    const work = workDir();
    const target = uniqueName('gone');
    const params = { source: `${endpoint}/${source}`, target: `${endpoint}/${target}`, create: true };
    await planJob({ work, kind: 'copy', segments: 1, jobId: 'fails', params }, { env });
    await client.send(new DeleteTableCommand({ TableName: target }));
    await assert.rejects(
      runTaskSlice({ work, jobId: 'fails', segment: 0 }, { env }),
      /does not exist|not found/i,
    );
    const folder = JobFolder.of(openObjectStore(work), 'fails');
    assert.equal(await folder.store.exists('segments/000000/claim-00000000.json'), false);
    await createTestTable(client, { name: target });
    const out = await runTaskSlice({ work, jobId: 'fails', segment: 0 }, { env });
    assert.deepEqual(
      { done: out.done, slice: out.slice, written: out.totals.written },
      { done: true, slice: 1, written: 30 },
    );
  } finally {
    env.close();
  }
});

test('the scanJob Lambda handler drives plan, slices and merge with the task API JSON', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  await loadItems(client, source, awkwardItems(90));
  const env = cachedJobEnvironment();
  try {
    const handler = createScanJobHandler(env);
    const work = workDir();
    const target = uniqueName('lambda');
    const params = { source: `${endpoint}/${source}`, target: `${endpoint}/${target}`, create: true };
    const plan = (await handler({
      action: 'plan',
      work,
      kind: 'copy',
      params,
      segments: 3,
      jobId: 'lj',
    })) as PlanJobOutput;
    assert.deepEqual(
      plan.tasks,
      [0, 1, 2].map((segment) => ({ work, jobId: 'lj', segment })),
    );
    // Plenty of time left in the invocation: the item budget is what stops each slice.
    const context = { getRemainingTimeInMillis: () => 600_000 };
    let invocations = 0;
    for (const task of plan.tasks) {
      for (;;) {
        invocations++;
        const out = (await handler(
          { action: 'slice', ...task, budget: { items: 20 } },
          context,
        )) as TaskSliceOutput;
        if (out.done) break;
      }
    }
    assert.ok(
      invocations >= 6,
      `90 items in slices of 20 over 3 segments take at least 6 slices, ran ${invocations}`,
    );
    const merged = (await handler({ action: 'merge', work, jobId: 'lj' })) as MergeJobOutput;
    assert.equal(merged.done, true);
    assert.equal((merged.result as { items: number }).items, 90);
    await assert.rejects(
      handler({ action: 'explode' }),
      /action must be plan, slice or merge, got "explode"/,
    );
    await assert.rejects(
      handler({ action: 'slice', work, jobId: 'lj', segment: 0, budget: { readUnitsPerSecond: 5 } }),
      /capacity goes in "capacity"/,
    );
  } finally {
    env.close();
  }
});
