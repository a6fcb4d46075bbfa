/**
 * `diff-tables <table> <backup> --against-backup --work W`: the verify-backup scan job (digests per
 * bucket, then drill-down jobs for the buckets that differ) gives exactly the counts and report lines
 * of the one-process `diff-tables --against-backup` on the same data, for a full backup and a change
 * log (with an overlay of logged changes, latest and --at), through forced stops and killed workers;
 * bad input exits 2 and leaves no job behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { backupTable } from '../../src/backup/full-backup.js';
import { cachedJobEnvironment } from '../../src/jobs/environment.js';
import { runJobChain } from '../../src/jobs/tasks.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { assertSameAsOneProcess, createPair, outcome, putItems, row } from './diff-fixtures.js';

// Started at the file's level: the harness stops it after the file (one started in a test stops after the test).
await dynamoEndpoint();

function dir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** The scan-task test hook: a worker SIGKILLs itself after this many scanned pages (mid-slice). */
const KILL_AFTER_PAGES = 'DYNAMODB_REPLICATOR_TEST_KILL_AFTER_PAGES';

const items = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    row(`r${String(i).padStart(3, '0')}`, { M: { n: { N: `${i}.25` }, s: { SS: ['b', 'a'] } } }, `h${i % 9}`),
  );

test('a full backup: equal in one phase, then exactly the one-process discrepancies through drill-down', async () => {
  const pair = await createPair();
  await putItems(pair.primaryClient, pair.primary, items(250));
  const backup = dir('verify-backup-');
  await backupTable(pair.primaryClient, openObjectStore(backup), {
    table: pair.primary,
    maxItemsPerFile: 40,
  });
  const work = dir('verify-work-');
  const diff = (...args: string[]) =>
    runCliCapture(['diff-tables', pair.primaryLocation, backup, '--against-backup', '--work', work, ...args]);

  let r = await diff('--job', 'equal', '--segments', '3', '--json');
  assert.equal(r.code, 0, r.stderr);
  const equal = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(equal.jobs, ['equal']);
  assert.equal(equal.phase, 'hash');
  assert.equal(equal.differingBuckets, 0);
  assert.deepEqual(equal.scanned, { primary: 250, replica: 250 });
  assert.deepEqual(equal.discrepancies, { missing: 0, different: 0, extraneous: 0, total: 0 });
  assert.equal(equal.next, undefined);
  assert.match(r.stderr, /scan job equal \(verify-backup, 3 segments\)/);

  // After the backup: one new item, one changed, one deleted.
  await putItems(pair.primaryClient, pair.primary, [
    row('new', { S: 'x' }, 'h1'),
    row('r007', { M: { n: { N: '7.26' }, s: { SS: ['a', 'b'] } } }, 'h7'),
  ]);
  await pair.primaryClient.send(
    new DeleteItemCommand({ TableName: pair.primary, Key: { hash: { S: 'h3' }, range: { S: 'r012' } } }),
  );
  const viaJob = await assertSameAsOneProcess(pair.primaryLocation, backup, [
    '--work',
    work,
    '--job',
    'changed',
    '--segments',
    '4',
  ]);
  assert.equal(viaJob.code, 1);
  assert.deepEqual(viaJob.counts, { missing: 1, different: 1, extraneous: 1, total: 3 });
  assert.deepEqual(viaJob.scanned, { primary: 250, replica: 250 });
  const out = JSON.parse(viaJob.result.stdout) as { jobs: string[]; phase: string; differingBuckets: number };
  assert.deepEqual(out.jobs, ['changed', 'changed.drill-1']);
  assert.equal(out.phase, 'drill');
  assert.equal(out.differingBuckets, 3);

  // Text output: each discrepancy, then the one-process summary's lines.
  r = await diff('--job', 'changed');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /^different {2}\{"hash":\{"S":"h7"\},"range":\{"S":"r007"\}\}$/m);
  assert.match(r.stdout, /discrepancies: 3 \(missing 1, different 1, extraneous 1\)/);
  assert.match(r.stdout, /the backup does not hold the table's current state/);
});

test('many small segments with forced stops, and workers SIGKILLed mid-slice then re-run, give the same exact result', async () => {
  const pair = await createPair();
  await putItems(pair.primaryClient, pair.primary, items(120));
  const backup = dir('verify-backup-');
  await backupTable(pair.primaryClient, openObjectStore(backup), { table: pair.primary, maxItemsPerFile: 7 });
  await putItems(pair.primaryClient, pair.primary, [
    row('r005', { S: 'changed' }, 'h5'),
    row('zz', { S: 'new' }),
  ]);
  for (const [h, r] of [
    ['h1', 'r010'],
    ['h2', 'r020'],
  ])
    await pair.primaryClient.send(
      new DeleteItemCommand({
        TableName: pair.primary,
        Key: { hash: { S: h } as never, range: { S: r } as never },
      }),
    );
  const work = dir('verify-work-');
  const small = await assertSameAsOneProcess(pair.primaryLocation, backup, [
    '--work',
    work,
    '--job',
    'small',
    '--segments',
    '7',
    '--item-budget',
    '3',
  ]);
  assert.deepEqual(small.counts, { missing: 1, different: 1, extraneous: 2, total: 4 });
  const segment = readdirSync(path.join(work, 'small', 'segments', '000000'));
  // Forced stops: several slices committed digests, each its own object.
  assert.ok(segment.filter((f) => f.startsWith('digests-')).length >= 3, segment.join(' '));

  const argv = [
    'diff-tables',
    pair.primaryLocation,
    backup,
    '--against-backup',
    '--work',
    work,
    '--job',
    'killed',
    '--segments',
    '4',
    '--workers',
    '2',
    '--item-budget',
    '5',
  ];
  const killed = await runCliCapture(argv, { env: { ...process.env, [KILL_AFTER_PAGES]: '2' } });
  assert.equal(killed.code, 2, killed.stderr);
  assert.match(killed.stderr, /worker 0 was killed \(SIGKILL\)/);
  assert.match(killed.stderr, /run the same command again to resume/);
  const resumed = await outcome(argv);
  assert.equal(resumed.code, 1, resumed.result.stderr);
  assert.deepEqual(resumed.counts, small.counts);
  assert.deepEqual(resumed.scanned, small.scanned);
  assert.deepEqual(resumed.lines, small.lines);
});

test('bad input exits 2 and leaves no job: a foreign job folder, another key schema, no backup, --repair', async () => {
  const pair = await createPair();
  await putItems(pair.primaryClient, pair.primary, items(20));
  const backup = dir('verify-backup-');
  await backupTable(pair.primaryClient, openObjectStore(backup), { table: pair.primary });
  const work = dir('verify-work-');
  const copy = await runCliCapture([
    'copy',
    pair.primaryLocation,
    pair.replicaLocation,
    '--work',
    work,
    '--job',
    'taken',
  ]);
  assert.equal(copy.code, 0, copy.stderr);
  const verify = (table: string, location: string, ...args: string[]) =>
    runCliCapture(['diff-tables', table, location, '--against-backup', '--work', work, ...args]);
  let r = await verify(pair.primaryLocation, backup, '--job', 'taken');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: .* holds job taken: copy .* this run asks for verify-backup/);

  const client = dynamoClient(await dynamoEndpoint());
  const other = await createTestTable(client);
  await client.send(new PutItemCommand({ TableName: other, Item: { id: { S: 'a' } } }));
  r = await verify(`${pair.endpoint}/${other}`, backup, '--job', 'schema');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: .*key schema/i);
  r = await verify(pair.primaryLocation, path.join(backup, 'nothing-here'), '--job', 'none');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: nothing to restore at /);
  r = await verify(pair.primaryLocation, backup, '--job', 'repair', '--repair');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: --against-backup compares a table with a backup: --repair/);
  r = await verify(pair.primaryLocation, backup, '--job', 'settle', '--settle', '1s');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: --settle cannot be combined with --work/);
  assert.deepEqual(readdirSync(work), ['taken']);
});

test('drill-down in several jobs (at most 1 item each, through runJobChain): the counts and report parts add up to the one-process diff', async () => {
  const pair = await createPair();
  await putItems(pair.primaryClient, pair.primary, items(250));
  const backup = dir('verify-backup-');
  await backupTable(pair.primaryClient, openObjectStore(backup), {
    table: pair.primary,
    maxItemsPerFile: 30,
  });
  await putItems(pair.primaryClient, pair.primary, [row('r001', { S: 'x' }, 'h1'), row('zz', { S: 'new' })]);
  for (const [h, r] of [
    ['h2', 'r002'],
    ['h4', 'r004'],
  ])
    await pair.primaryClient.send(
      new DeleteItemCommand({
        TableName: pair.primary,
        Key: { hash: { S: h } as never, range: { S: r } as never },
      }),
    );
  const one = await outcome(['diff-tables', pair.primaryLocation, backup, '--against-backup']);
  assert.deepEqual(one.counts, { missing: 1, different: 1, extraneous: 2, total: 4 });
  const work = dir('verify-work-');
  const env = cachedJobEnvironment();
  try {
    const merged = await runJobChain(
      {
        work,
        kind: 'verify-backup',
        segments: 3,
        jobId: 'chain',
        params: { table: pair.primaryLocation, backup, drillItems: 1 },
        budget: { items: 10 },
      },
      { env },
    );
    const first = merged[0]?.result as { differingBuckets: number; batches: number[][] };
    // Every differing bucket holds at least one item, so each is a drill-down job of its own.
    assert.equal(first.differingBuckets, 4);
    assert.deepEqual(
      merged.map((m) => m.jobId),
      ['chain', 'chain.drill-1', 'chain.drill-2', 'chain.drill-3', 'chain.drill-4'],
    );
    const last = merged.at(-1)?.result as Record<string, unknown>;
    assert.deepEqual(last.discrepancies, one.counts);
    assert.deepEqual(last.scanned, one.scanned);
    assert.equal(last.rechecked, one.rechecked);
    assert.equal(last.next, undefined);
    const reports = last.reports as string[];
    assert.equal(reports.length, 4);
    const lines = reports
      .flatMap((key) => readFileSync(path.join(work, key), 'utf8').split('\n'))
      .filter(Boolean)
      .sort();
    assert.deepEqual(lines, one.lines);
  } finally {
    env.close();
  }
});
