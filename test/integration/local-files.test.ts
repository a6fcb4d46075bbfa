/**
 * What the toolkit leaves on the local filesystem and in its output: private modes for backups,
 * exports and checkpoints whatever the umask; temporary files of killed runs removed on the next
 * run; names and places checked before any work; `file:` locations taken literally or refused; and
 * credentials inside URLs never printed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Item } from '../../src/core/types.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { scanAll } from '../harness/table-items.js';

const SECRET = 'S3CRETpw';
const ROOT = path.resolve(import.meta.dirname, '../..');

// The usual default umask: without the fix, files come out 0644 and directories 0755.
process.umask(0o022);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'local-files-'));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The id of a process that has exited: what a SIGKILLed writer leaves in its temp file names. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

async function putItems(client: DynamoDBClient, table: string, count: number): Promise<void> {
  const items: Item[] = Array.from({ length: count }, (_, i) => ({
    id: { S: `k${i}` },
    n: { N: String(i) },
  }));
  await client.send(
    new BatchWriteItemCommand({ RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item } })) } }),
  );
}

/** Every file and directory under `dir` (relative path -> mode bits). */
async function modes(dir: string): Promise<{ files: Map<string, number>; dirs: Map<string, number> }> {
  const files = new Map<string, number>();
  const dirs = new Map<string, number>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const mode = (await stat(full)).mode & 0o777;
    (entry.isDirectory() ? dirs : files).set(path.relative(dir, full), mode);
  }
  return { files, dirs };
}

async function sourceTable(
  count: number,
): Promise<{ endpoint: string; client: DynamoDBClient; table: string }> {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client);
  await putItems(client, table, count);
  return { endpoint, client, table };
}

test('backups in a directory, exports and diff reports are 0600 files in 0700 directories under umask 022', async () => {
  const { endpoint, table } = await sourceTable(5);
  const dir = await tempDir();
  const backups = path.join(dir, 'backups');
  const r = await runCliCapture(['backup-table', `${endpoint}/${table}`, backups, '--jobid', 'job-1']);
  assert.equal(r.code, 0, r.stderr);
  const { files, dirs } = await modes(backups);
  assert.ok(files.size >= 5, [...files.keys()].join(', '));
  assert.deepEqual(new Set(files.values()), new Set([0o600]), JSON.stringify([...files]));
  assert.deepEqual(new Set(dirs.values()), new Set([0o700]), JSON.stringify([...dirs]));
  assert.equal((await stat(backups)).mode & 0o777, 0o700);

  const out = path.join(dir, 'out.ndjson.gz');
  const e = await runCliCapture(['export', `${endpoint}/${table}`, out]);
  assert.equal(e.code, 0, e.stderr);
  assert.equal((await stat(out)).mode & 0o777, 0o600);

  const other = await sourceTable(3);
  const report = path.join(dir, 'report.jsonl');
  const d = await runCliCapture([
    'diff-tables',
    `${endpoint}/${table}`,
    `${endpoint}/${other.table}`,
    '--report',
    report,
  ]);
  assert.equal(d.code, 1, d.stderr);
  assert.equal((await stat(report)).mode & 0o777, 0o600);
});

test('export onto an existing directory is refused before the scan, naming the path', async () => {
  const { endpoint, table } = await sourceTable(3);
  const dir = await tempDir();
  const target = path.join(dir, 'taken');
  await mkdir(target);
  const r = await runCliCapture(['export', `${endpoint}/${table}`, target]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `error: cannot write ${target}: it is a directory\n`);
  assert.deepEqual(await readdir(dir), ['taken']);
  assert.deepEqual(await readdir(target), []);
});

test("export removes a killed export's temporary file and keeps one a live process is writing", async () => {
  const { endpoint, table } = await sourceTable(3);
  const dir = await tempDir();
  const stale = `.out.ndjson.partial-${deadPid()}`;
  const live = `.out.ndjson.partial-${process.ppid}`;
  await writeFile(path.join(dir, stale), '{"half a line');
  await writeFile(path.join(dir, live), 'being written');
  const r = await runCliCapture(['export', `${endpoint}/${table}`, path.join(dir, 'out.ndjson')]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await readdir(dir)).sort(), [live, 'out.ndjson']);
});

test("a directory store's first write into a folder removes temp files of dead writers only", async () => {
  const dir = await tempDir();
  const folder = path.join(dir, 'changes', '2026');
  await mkdir(folder, { recursive: true });
  const hex = (pid: number) => pid.toString(16).padStart(8, '0') + randomBytes(4).toString('hex');
  const stale = `.seg-1.jsonl.gz.${hex(deadPid())}.partial`;
  const live = `.seg-2.jsonl.gz.${hex(process.ppid)}.partial`;
  await writeFile(path.join(folder, stale), 'half');
  await writeFile(path.join(folder, live), 'being written');
  const store = openObjectStore(dir).at('changes');
  await store.put('2026/seg-3.jsonl.gz', 'whole');
  assert.deepEqual((await readdir(folder)).sort(), [live, 'seg-3.jsonl.gz']);
  assert.equal((await stat(path.join(folder, 'seg-3.jsonl.gz'))).mode & 0o777, 0o600);
});

test('file: locations: relative forms, queries and fragments are refused and nothing is written', async () => {
  const { endpoint, table } = await sourceTable(2);
  const dir = await tempDir();
  const top = `ddbr-test-${randomBytes(4).toString('hex')}`;
  // Without the check, file:<top>/x meant /<top>/x at the filesystem root.
  after(() => rm(path.join('/', top), { recursive: true, force: true }));
  const cases: [string, string][] = [
    [`file:${top}/x`, 'not an absolute file URL'],
    [`file:./${top}`, 'not an absolute file URL'],
    [`file://${dir}/q?region=us-east-1`, 'a file URL takes no query ("?...")'],
    [`file://${dir}/f#frag`, 'a file URL takes no fragment ("#...")'],
  ];
  for (const [location, problem] of cases) {
    const r = await runCliCapture(['backup-table', `${endpoint}/${table}`, location]);
    assert.equal(r.code, 2, location);
    assert.equal(
      r.stderr,
      `error: invalid backup location "${location}": ${problem}; a file: URL is file:///absolute/path; ` +
        'give a relative directory as a plain path (e.g. ./backups)\n',
    );
  }
  assert.equal(existsSync(path.join('/', top)), false);
  assert.deepEqual(await readdir(dir), []);
  const ok = await runCliCapture(['backup-table', `${endpoint}/${table}`, `file://${dir}/b`, '--jobid', 'j']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(await readdir(path.join(dir, 'b', 'AWSDynamoDB')), ['j']);
});

test('a 255-character source table gets a default checkpoint name that fits, private, beside a 0700 folder', async () => {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, 'us-east-1');
  const replica = dynamoClient(endpoint, 'eu-west-1');
  const long = `long-${randomBytes(4).toString('hex')}-`.padEnd(255, 'x');
  await createTestTable(source, { name: long, stream: 'NEW_AND_OLD_IMAGES' });
  const replicaTable = await createTestTable(replica);
  await putItems(source, long, 4);
  const dir = await tempDir();
  const cwd = process.cwd();
  process.chdir(dir);
  let r;
  try {
    r = await runCliCapture([
      'replicate',
      `${endpoint}/${long}?region=us-east-1`,
      `${endpoint}/${replicaTable}?region=eu-west-1`,
      '--stop-when-idle',
      '1s',
    ]);
  } finally {
    process.chdir(cwd);
  }
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await scanAll(replica, replicaTable)).length, 4);
  const folder = path.join(dir, '.dynamodb-replicator');
  const names = await readdir(folder);
  assert.equal(names.length, 1);
  const name = names[0] as string;
  assert.match(name, /^long-[0-9a-f]{8}-x+-[0-9a-f]{16}\.checkpoint\.json$/);
  assert.equal(Buffer.byteLength(name), 229);
  assert.equal((await stat(path.join(folder, name))).mode & 0o777, 0o600);
  assert.equal((await stat(folder)).mode & 0o777, 0o700);
});

async function streamPair(count: number) {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, 'us-east-1');
  const replica = dynamoClient(endpoint, 'eu-west-1');
  const table = await createTestTable(source, { stream: 'NEW_AND_OLD_IMAGES' });
  const replicaTable = await createTestTable(replica);
  await putItems(source, table, count);
  return {
    replica,
    replicaTable,
    locations: [`${endpoint}/${table}?region=us-east-1`, `${endpoint}/${replicaTable}?region=eu-west-1`],
  };
}

/** `replicate` until caught up and idle for a second. */
function replicateUntilIdle(locations: readonly string[], ...options: string[]) {
  return runCliCapture(['replicate', ...locations, ...options, '--stop-when-idle', '1s']);
}

test('a checkpoint file that cannot be saved is refused before the first batch', async () => {
  const { replica, replicaTable, locations } = await streamPair(4);
  const dir = await tempDir();
  const tooLong = path.join(dir, `${'c'.repeat(250)}.json`);
  const aFile = path.join(dir, 'plain-file');
  await writeFile(aFile, '');
  const cases: [string, string][] = [
    [tooLong, 'the file name is 255 bytes long (at most 229)'],
    [dir, 'it is not a regular file'],
    [path.join(aFile, 'cp.json'), `${aFile} is not a directory`],
  ];
  for (const [checkpoint, problem] of cases) {
    const r = await replicateUntilIdle(locations, '--checkpoint', checkpoint);
    assert.equal(r.code, 2, checkpoint);
    assert.equal(r.stderr, `error: cannot keep the checkpoint in ${checkpoint}: ${problem}\n`);
    assert.equal((await scanAll(replica, replicaTable)).length, 0);
  }
  assert.deepEqual((await readdir(dir)).sort(), ['plain-file']);
});

test("replicate removes a killed runner's temporary checkpoint file and keeps a live one", async () => {
  const { replica, replicaTable, locations } = await streamPair(3);
  const dir = await tempDir();
  const checkpoint = path.join(dir, 'cp.json');
  const stale = `cp.json.${deadPid()}.tmp`;
  const live = `cp.json.${process.ppid}.tmp`;
  await writeFile(path.join(dir, stale), '{"version":1,');
  await writeFile(path.join(dir, live), '{"version":1,');
  const r = await replicateUntilIdle(locations, '--checkpoint', checkpoint);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await scanAll(replica, replicaTable)).length, 3);
  assert.deepEqual((await readdir(dir)).sort(), ['cp.json', live]);
  assert.equal((await stat(checkpoint)).mode & 0o777, 0o600);
});

test('runner log lines redact credentials quoted in an error, as text and as --json', async () => {
  for (const json of [false, true]) {
    const { replica, replicaTable, locations } = await streamPair(2);
    const dir = await tempDir();
    // Fails the first batch once, the way a client error quoting its endpoint would.
    const transform = path.join(dir, 'flaky.mjs');
    await writeFile(
      transform,
      `let calls = 0;
      export function transform(change) {
        if (calls++ === 0) throw new Error('replica at http://svc:${SECRET}@10.0.0.1:8000 refused');
        return change;
      }`,
    );
    const r = await replicateUntilIdle(
      locations,
      '--checkpoint',
      path.join(dir, 'cp.json'),
      '--transform',
      transform,
      ...(json ? ['--json'] : []),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await scanAll(replica, replicaTable)).length, 2);
    const output = json ? r.stdout : r.stderr;
    assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), r.stdout + r.stderr);
    assert.equal(output.split('replica at http://***@10.0.0.1:8000 refused').length - 1, 1, output);
  }
});

test('credentials inside locations and endpoints never reach the CLI output, with or without --debug', async () => {
  const { endpoint, table } = await sourceTable(2);
  const host = endpoint.replace(/^http:\/\//, '');
  const dir = await tempDir();
  const runs: string[][] = [
    ['scan', `http://admin:${SECRET}@${host}/${table}`],
    ['scan', `admin:${SECRET}@${host}/${table}`],
    ['backup-table', `${endpoint}/${table}`, `s3://admin:${SECRET}@bucket/x`],
    ['replicate', `${endpoint}/${table}`, `http://u:${SECRET}@${host}/${table}-replica`],
    // The S3 SDK is handed the endpoint and fails to reach it.
    [
      'backup-table',
      `${endpoint}/${table}`,
      's3://bucket/x',
      '--s3-endpoint',
      `http://u:${SECRET}@127.0.0.1:1`,
    ],
    ['backup-table', `${endpoint}/${table}`, path.join(dir, 'b'), '--s3-endpoint', `http://u:${SECRET}@h:1`],
  ];
  for (const argv of runs)
    for (const debug of [false, true]) {
      const r = await runCliCapture(debug ? [...argv, '--debug'] : argv, {
        env: { ...process.env, S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 'k' },
      });
      const where = `${argv.join(' ')}${debug ? ' --debug' : ''}`;
      assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), `${where}\n${r.stdout}${r.stderr}`);
      if (argv[0] === 'scan' || argv[3]?.startsWith('s3://')) {
        assert.equal(r.code, 2, where);
        assert.match(r.stderr, /\*\*\*@/, where);
      }
    }
});

test('the Lambda handler logs and throws a configuration error without the password in ReplicaEndpoint', async () => {
  const script = `
    const { replicate } = await import(${JSON.stringify(path.join(ROOT, 'src/lambda/replicate.ts'))});
    try { await replicate({ Records: [] }); } catch (error) {
      console.error(JSON.stringify({ errorType: error.name, errorMessage: error.message, stack: error.stack }));
    }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: {
      ...process.env,
      ReplicaTable: 'users',
      ReplicaEndpoint: `http://admin:${SECRET}@db.internal:8000`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, stderr);
  assert.ok(!stdout.includes(SECRET) && !stderr.includes(SECRET), stdout + stderr);
  const logged = JSON.parse(stdout.trim()) as { message: string; error: { name: string; message: string } };
  assert.equal(logged.message, 'invalid configuration');
  assert.equal(logged.error.name, 'ConfigError');
  assert.match(
    logged.error.message,
    /^ReplicaEndpoint: invalid region or endpoint "http:\/\/\*\*\*@db\.internal:8000"/,
  );
  assert.equal((JSON.parse(stderr.trim()) as { errorMessage: string }).errorMessage, logged.error.message);
});
