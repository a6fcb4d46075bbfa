import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openExport } from '../../src/backup/export-layout.js';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { assertTablesEqual } from '../harness/table-load.js';
import { awkwardItems, loadItems, sortById } from '../harness/backup-fixtures.js';

function dir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** The scan-task test hook: a worker SIGKILLs itself after this many scanned pages (mid-slice). */
const KILL_AFTER_PAGES = 'DYNAMODB_REPLICATOR_TEST_KILL_AFTER_PAGES';

test('copy --work --workers 2 runs the tasks in two child processes and merges the totals', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  await loadItems(client, source, awkwardItems(500));
  const target = uniqueName('workers');
  const work = dir('scan-work-');
  const args = ['copy', `${endpoint}/${source}`, `${endpoint}/${target}`, '--create'];
  // A write budget far above what the copy needs: split over the workers, it must not change the result.
  const job = [
    '--work',
    work,
    '--job',
    'copy-w',
    '--workers',
    '2',
    '--segments',
    '4',
    '--item-budget',
    '60',
    '--write-budget',
    '100000',
  ];
  const out = await runCliCapture([...args, ...job, '--json']);
  assert.equal(out.code, 0, out.stderr);
  const result = JSON.parse(out.stdout) as Record<string, unknown>;
  assert.equal(result.jobId, 'copy-w');
  assert.equal(result.items, 500);
  assert.equal(result.scanned, 500);
  assert.match(out.stderr, /scan job copy-w \(copy, 4 segments\) in .*: started/);
  assert.equal(await assertTablesEqual(client, source, client, target), 500);
  // Run again: the job is done, so it only merges again, to the same totals.
  const again = await runCliCapture([...args, ...job, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { items: number }).items, 500);
  assert.match(again.stderr, /resumed/);
});

test('backup-table --work --workers 2: workers SIGKILLed mid-segment, then re-run, leave no duplicate or missing item', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  const items = awkwardItems(600);
  await loadItems(client, source, items);
  const work = dir('scan-work-');
  const backup = dir('scan-backup-');
  const argv = [
    'backup-table',
    `${endpoint}/${source}`,
    backup,
    '--work',
    work,
    '--job',
    'kill-1',
    '--workers',
    '2',
  ];
  const budget = ['--segments', '4', '--item-budget', '40'];
  // Each worker kills itself after 2 pages (an item budget also caps the page: 40 items), that is
  // after its first segment committed one slice, in the middle of the second slice.
  const killed = await runCliCapture([...argv, ...budget, '--json'], {
    env: { ...process.env, [KILL_AFTER_PAGES]: '2' },
  });
  assert.equal(killed.code, 2, killed.stderr);
  assert.match(killed.stderr, /worker 0 was killed \(SIGKILL\)/);
  assert.match(killed.stderr, /worker 1 was killed \(SIGKILL\)/);
  assert.match(killed.stderr, /run the same command again to resume/);
  // The committed slice survived the kill; the killed slice left its claim (of a dead process).
  const states = readdirSync(path.join(work, 'kill-1', 'segments', '000000')).sort();
  assert.deepEqual(states, ['claim-00000001.json', 'state-00000001.json']);

  const resumed = await runCliCapture([...argv, ...budget, '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const result = JSON.parse(resumed.stdout) as { itemCount: number; files: number };
  assert.equal(result.itemCount, 600);
  const reader = await openExport(openObjectStore(backup).at('AWSDynamoDB/kill-1'));
  assert.equal(reader.itemCount, 600);
  assert.equal(reader.files.length, result.files);
  const exported: Item[] = [];
  for await (const item of reader.items()) exported.push(item);
  const want = sortById(items);
  const got = sortById(exported);
  assert.equal(got.length, 600);
  got.forEach((item, i) => assert.ok(itemsEqual(item, want[i]!), `item ${i} differs`));
  // Every data file in the folder is one the manifest lists (the killed runs' partial files are gone).
  assert.equal(readdirSync(path.join(backup, 'AWSDynamoDB', 'kill-1', 'data')).length, result.files);
});

test('a job folder holding another job is refused with exit 2, naming both', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  await loadItems(client, source, awkwardItems(10));
  const work = dir('scan-work-');
  const first = await runCliCapture([
    'copy',
    `${endpoint}/${source}`,
    `${endpoint}/${uniqueName('a')}`,
    '--create',
    '--work',
    work,
    '--job',
    'same',
  ]);
  assert.equal(first.code, 0, first.stderr);
  const other = await runCliCapture([
    'backup-table',
    `${endpoint}/${source}`,
    dir('b-'),
    '--work',
    work,
    '--job',
    'same',
  ]);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /holds job same: copy .* this run asks for backup/);
  // A complete backup under the same id is never taken over by a job (its merge would rewrite it).
  const backup = dir('b-');
  const made = await runCliCapture(['backup-table', `${endpoint}/${source}`, backup, '--jobid', 'taken']);
  assert.equal(made.code, 0, made.stderr);
  const over = await runCliCapture([
    'backup-table',
    `${endpoint}/${source}`,
    backup,
    '--work',
    work,
    '--job',
    'taken',
  ]);
  assert.equal(over.code, 2);
  assert.match(over.stderr, /already holds a backup .*; use another --job \(nothing was written\)/);
  assert.equal(readdirSync(work).includes('taken'), false);
  const task = await runCliCapture(['scan-task', '--work', work, '--job', 'nope']);
  assert.equal(task.code, 2);
  assert.match(task.stderr, /holds no scan job \(no job\.json\)/);
  const stray = await runCliCapture(['copy', `${endpoint}/${source}`, `${endpoint}/x`, '--workers', '2']);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /--workers needs --work/);
});

test('diff-tables --work prints each discrepancy and the summary, writes --report, exits 1; restore --work restores', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const primary = await createTestTable(client);
  const replica = await createTestTable(client);
  const items = awkwardItems(120);
  await loadItems(client, primary, items);
  await loadItems(client, replica, items.slice(3)); // 3 missing
  const work = dir('scan-work-');
  const report = path.join(dir('scan-report-'), 'diff.jsonl');
  const diff = await runCliCapture([
    'diff-tables',
    `${endpoint}/${primary}`,
    `${endpoint}/${replica}`,
    '--work',
    work,
    '--segments',
    '3',
    '--item-budget',
    '25',
    '--report',
    report,
  ]);
  assert.equal(diff.code, 1, diff.stderr);
  const lines = diff.stdout.split('\n').filter((l) => l.startsWith('missing'));
  assert.equal(lines.length, 3);
  assert.match(diff.stdout, /discrepancies: 3 \(missing 3, different 0, extraneous 0\)/);
  const reported = readFileSync(report, 'utf8').split('\n').filter(Boolean);
  assert.deepEqual(reported.map((l) => (JSON.parse(l) as { key: { id: { S: string } } }).key.id.S).sort(), [
    'item-000000',
    'item-000001',
    'item-000002',
  ]);

  const backup = dir('scan-backup-');
  const made = await runCliCapture([
    'backup-table',
    `${endpoint}/${primary}`,
    backup,
    '--jobid',
    'b1',
    '--items-per-file',
    '40',
  ]);
  assert.equal(made.code, 0, made.stderr);
  const target = uniqueName('restored');
  const restored = await runCliCapture([
    'restore',
    backup,
    `${endpoint}/${target}`,
    '--create',
    '--work',
    work,
    '--workers',
    '2',
    '--item-budget',
    '30',
    '--json',
  ]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal((JSON.parse(restored.stdout) as { items: number }).items, 120);
  assert.equal(await assertTablesEqual(client, primary, client, target), 120);
  // Into a table that now has items, a restore job is refused (it would have to delete): exit 2.
  const again = await runCliCapture(['restore', backup, `${endpoint}/${target}`, '--work', work]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /is not empty: a restore job only puts items/);
});
