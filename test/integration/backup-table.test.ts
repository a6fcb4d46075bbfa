import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { backupTable } from '../../src/backup/full-backup.js';
import { openExport } from '../../src/backup/export-layout.js';
import { itemsEqual } from '../../src/core/equality.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { scanAll } from '../harness/table-items.js';
import { STORE_BACKENDS, listKeys } from '../harness/backup-stores.js';
import { awkwardItems, loadItems, sortById } from '../harness/backup-fixtures.js';

/** Runs the real binary in a child process; resolves with its exit code and output. */
function runChild(
  argv: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...argv], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

for (const backend of STORE_BACKENDS) {
  test(`backup-table then restore --create gives back every value byte for byte (${backend.name})`, async () => {
    const endpoint = await dynamoEndpoint();
    const client = dynamoClient(endpoint);
    const source = await createTestTable(client);
    const items = awkwardItems(1234);
    await loadItems(client, source, items);
    const { url, store, env } = await backend.root();

    const backup = await runCliCapture(
      ['backup-table', `${endpoint}/${source}`, url, '--jobid', 'job-1', '--items-per-file', '500', '--json'],
      { env },
    );
    assert.equal(backup.code, 0, backup.stderr);
    const result = JSON.parse(backup.stdout);
    assert.equal(result.items, 1234);
    assert.equal(result.totalItems, 1234);
    assert.equal(result.complete, true);
    assert.equal(result.files, 3); // 500 + 500 + 234

    const keys = await listKeys(store, 'AWSDynamoDB/job-1');
    for (const k of ['manifest-summary.json', 'manifest-files.json', 'table-description.json', '_started'])
      assert.ok(keys.includes(`AWSDynamoDB/job-1/${k}`), k);
    assert.equal(keys.filter((k) => /\/data\/.+\.json\.gz$/.test(k)).length, 3);
    const reader = await openExport(store.at('AWSDynamoDB/job-1'));
    assert.equal(reader.itemCount, 1234);

    const target = uniqueName('restored');
    const restore = await runCliCapture(['restore', url, `${endpoint}/${target}`, '--create', '--json'], {
      env,
    });
    assert.equal(restore.code, 0, restore.stderr);
    const summary = JSON.parse(restore.stdout);
    assert.equal(summary.created, true);
    assert.equal(summary.puts, 1234);
    assert.equal(summary.written, 1234);
    // Exactly the same attribute values, 38-digit numbers, bytes and sets included.
    assert.deepEqual(sortById(await scanAll(client, target)), sortById(await scanAll(client, source)));
    // ... and equal by value to what was loaded (DynamoDB returns set members in its own order).
    const restored = sortById(await scanAll(client, target));
    sortById(items).forEach((item, i) => assert.ok(itemsEqual(item, restored[i]), `item ${i}`));
    client.destroy();
  });
}

test('backup-table with 2 segments from 2 processes forms one backup that restores to the full table', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  const items = awkwardItems(2000);
  await loadItems(client, source, items);
  const backend = STORE_BACKENDS.find((b) => b.name === 's3') ?? STORE_BACKENDS[0];
  const { url, store, env } = await (backend as (typeof STORE_BACKENDS)[number]).root();
  // The children reach s3rver through S3_* variables (DynamoDB Local keeps its own credentials).
  const childEnv = env;
  const args = (segment: number) => [
    'backup-table',
    `${endpoint}/${source}`,
    url,
    '--jobid',
    'two-processes',
    '--segment',
    String(segment),
    '--segments',
    '2',
    '--parallel',
    '2',
    '--json',
  ];
  const [first, second] = await Promise.all([runChild(args(0), childEnv), runChild(args(1), childEnv)]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(second.code, 0, second.stderr);
  const shares = [JSON.parse(first.stdout), JSON.parse(second.stdout)];
  assert.equal(shares[0].items + shares[1].items, 2000);
  assert.ok(shares[0].items > 0 && shares[1].items > 0);
  // At least the process that finished last saw both segments and completed the job.
  assert.ok(shares.some((s) => s.complete && s.totalItems === 2000));
  const reader = await openExport(store.at('AWSDynamoDB/two-processes'));
  assert.equal(reader.itemCount, 2000);
  assert.equal(reader.files.length, 2);

  const target = uniqueName('restored');
  const restore = await runCliCapture(['restore', url, `${endpoint}/${target}`, '--create', '--json'], {
    env,
  });
  assert.equal(restore.code, 0, restore.stderr);
  assert.deepEqual(sortById(await scanAll(client, target)), sortById(await scanAll(client, source)));
  client.destroy();
});

test('a job with a segment still missing is never restored', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  await loadItems(client, source, awkwardItems(300));
  const backend = STORE_BACKENDS[0] as (typeof STORE_BACKENDS)[number];
  const { url, store, env } = await backend.root();
  const half = await backupTable(client, store, {
    table: source,
    jobId: 'half',
    segment: 1,
    totalSegments: 2,
  });
  assert.deepEqual(half.missingSegments, [0]);
  assert.equal(half.summary, undefined);

  const target = uniqueName('never');
  const restore = await runCliCapture(['restore', url, `${endpoint}/${target}`, '--create'], { env });
  assert.equal(restore.code, 2);
  assert.match(restore.stderr, /incomplete/);
  const tables = await runCliCapture(['describe', `${endpoint}/${target}`]);
  assert.equal(tables.code, 2, 'the target was not created');

  // The other share, run by mistake against another table with the same job id: refused, nothing written.
  const other = await createTestTable(client);
  await loadItems(client, other, awkwardItems(3));
  const keys = await listKeys(store);
  const wrong = await runCliCapture(
    ['backup-table', `${endpoint}/${other}`, url, '--jobid', 'half', '--segment', '0', '--segments', '2'],
    { env },
  );
  assert.equal(wrong.code, 2, wrong.stdout);
  assert.match(
    wrong.stderr,
    new RegExp(
      `backup job half at .* holds segment 1 of table "${source}", hash id \\(S\\), no range key, not of table "${other}", hash id \\(S\\), no range key: use another --jobid \\(nothing was written\\)`,
    ),
  );
  assert.deepEqual(await listKeys(store), keys);

  const rest = await backupTable(client, store, {
    table: source,
    jobId: 'half',
    segment: 0,
    totalSegments: 2,
  });
  assert.deepEqual(rest.missingSegments, []);
  assert.equal(rest.summary?.itemCount, 300);
  client.destroy();
});

test('tables whose names share a prefix (users, users-archive) backed up under one prefix never mix', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const users = await createTestTable(client, { name: uniqueName('users') });
  const archive = await createTestTable(client, { name: uniqueName('users-archive') });
  await loadItems(client, users, awkwardItems(40, 0));
  await loadItems(client, archive, awkwardItems(70, 1000));
  for (const backend of STORE_BACKENDS) {
    const { url, env } = await backend.root();
    for (const [table, name] of [
      [users, 'users'],
      [archive, 'users-archive'],
    ] as const) {
      const r = await runCliCapture(['backup-table', `${endpoint}/${table}`, `${url}/${name}`], { env });
      assert.equal(r.code, 0, r.stderr);
    }
    for (const [table, name] of [
      [users, 'users'],
      [archive, 'users-archive'],
    ] as const) {
      const target = uniqueName('restored');
      const r = await runCliCapture(
        ['restore', `${url}/${name}`, `${endpoint}/${target}`, '--create', '--json'],
        {
          env,
        },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        sortById(await scanAll(client, target)),
        sortById(await scanAll(client, table)),
        backend.name,
      );
    }
  }
  client.destroy();
});

test('backup-table fails with exit 2 and a clear message for bad input', async () => {
  const endpoint = await dynamoEndpoint();
  const { url } = await (STORE_BACKENDS[0] as (typeof STORE_BACKENDS)[number]).root();
  const missing = await runCliCapture(['backup-table', `${endpoint}/${uniqueName('nope')}`, url]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: .*(not found|does not exist)/im);
  const badLocation = await runCliCapture(['backup-table', `${endpoint}/some-table`, 'ftp://host/x']);
  assert.equal(badLocation.code, 2);
  assert.match(badLocation.stderr, /s3:\/\/bucket\/prefix/);
  const noJob = await runCliCapture([
    'backup-table',
    `${endpoint}/some-table`,
    url,
    '--segment',
    '0',
    '--segments',
    '2',
  ]);
  assert.equal(noJob.code, 2);
  assert.match(noJob.stderr, /--jobid is required/);
  const badSegment = await runCliCapture([
    'backup-table',
    `${endpoint}/some-table`,
    url,
    '--segment',
    '2',
    '--segments',
    '2',
  ]);
  assert.equal(badSegment.code, 2);
  for (const r of [missing, badLocation, noJob, badSegment]) assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('an edited table description is refused on restore, with and without --create; an old backup without its checksum still restores', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  await loadItems(client, source, awkwardItems(20));
  const { url, store, env } = await backend0().root();
  const backup = await runCliCapture(['backup-table', `${endpoint}/${source}`, url, '--jobid', 'job-d'], {
    env,
  });
  assert.equal(backup.code, 0, backup.stderr);
  const job = store.at('AWSDynamoDB/job-d');
  assert.ok((await listKeys(job)).includes('table-description.checksum'));
  const original = await job.get('table-description.json');
  // Someone makes the backup say the table's key is another attribute (with a range key).
  const edited = JSON.parse(original.toString('utf8')) as {
    KeySchema: unknown[];
    AttributeDefinitions: unknown[];
  };
  edited.KeySchema.push({ AttributeName: 'n', KeyType: 'RANGE' });
  edited.AttributeDefinitions.push({ AttributeName: 'n', AttributeType: 'N' });
  await job.put('table-description.json', JSON.stringify(edited, null, 2) + '\n');

  const created = uniqueName('from-edited');
  const refusedCreate = await runCliCapture(['restore', url, `${endpoint}/${created}`, '--create'], { env });
  assert.equal(refusedCreate.code, 2, refusedCreate.stdout);
  assert.match(
    refusedCreate.stderr,
    /AWSDynamoDB\/job-d: table-description\.checksum does not match the MD5 of table-description\.json: the table description was edited or is corrupt/,
  );
  assert.equal((await runCliCapture(['describe', `${endpoint}/${created}`], { env })).code, 2);
  const existing = await createTestTable(client);
  const refused = await runCliCapture(['restore', url, `${endpoint}/${existing}`], { env });
  assert.equal(refused.code, 2, refused.stdout);
  assert.match(
    refused.stderr,
    /table-description\.checksum does not match the MD5 of table-description\.json/,
  );
  assert.deepEqual(await scanAll(client, existing), []);

  // A backup written before descriptions had a checksum file reads as before.
  await job.put('table-description.json', original);
  await job.delete('table-description.checksum');
  const old = await runCliCapture(['restore', url, `${endpoint}/${created}`, '--create', '--json'], { env });
  assert.equal(old.code, 0, old.stderr);
  assert.equal((JSON.parse(old.stdout) as { puts: number }).puts, 20);
  assert.deepEqual(sortById(await scanAll(client, created)), sortById(await scanAll(client, source)));
  client.destroy();
});

function backend0() {
  return STORE_BACKENDS[0] as (typeof STORE_BACKENDS)[number];
}
