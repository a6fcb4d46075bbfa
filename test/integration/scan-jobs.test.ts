import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openExport } from '../../src/backup/export-layout.js';
import { backupTable } from '../../src/backup/full-backup.js';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import type { JobEnvironment } from '../../src/jobs/kind.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { cachedJobEnvironment } from '../../src/jobs/environment.js';
import { mergeJob, planJob, runTaskSlice } from '../../src/jobs/tasks.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
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
    } finally {
      env.close();
    }
  });
}
