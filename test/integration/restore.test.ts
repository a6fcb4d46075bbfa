import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  PutItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { backupTable } from '../../src/backup/full-backup.js';
import { resolveRestoreSource } from '../../src/backup/restore-source.js';
import { restoreTable } from '../../src/backup/restore.js';
import { itemsEqual } from '../../src/core/equality.js';
import { NotFoundError } from '../../src/core/errors.js';
import type { Item } from '../../src/core/types.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { scanAll } from '../harness/table-items.js';
import { STORE_BACKENDS } from '../harness/backup-stores.js';
import { awkwardItem, awkwardItems, loadItems, sortById } from '../harness/backup-fixtures.js';

const SCHEMA = { hash: { name: 'id', type: 'S' as const } };

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'restore-'));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Counts the write requests in every BatchWriteItem the client sends. Not a fault injection: it
 * only observes, so the test can assert how many writes the restore really made.
 */
function countWrites(client: DynamoDBClient): { puts: number; deletes: number } {
  const counter = { puts: 0, deletes: 0 };
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as {
        RequestItems?: Record<string, { PutRequest?: unknown; DeleteRequest?: unknown }[]>;
      };
      for (const requests of Object.values(input.RequestItems ?? {})) {
        if (!Array.isArray(requests)) continue; // BatchGetItem: not a write
        for (const r of requests) {
          if (r.PutRequest) counter.puts++;
          if (r.DeleteRequest) counter.deletes++;
        }
      }
      return next(args);
    },
    { step: 'initialize', name: 'countWrites' },
  );
  return counter;
}

/** A table with `count` items backed up to a fresh filesystem location. */
async function backedUpTable(count: number) {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  after(() => client.destroy());
  const table = await createTestTable(client);
  await loadItems(client, table, awkwardItems(count));
  const dir = await tempDir();
  const store = openObjectStore(dir);
  await backupTable(client, store, { table, jobId: 'job', maxItemsPerFile: 100 });
  return { endpoint, client, table, dir, store, exportDir: path.join(dir, 'AWSDynamoDB/job') };
}

/** Changes a copy of the backed-up table in a few places: 3 modified, 2 removed, 2 added. */
async function driftedCopy(client: DynamoDBClient, source: string): Promise<string> {
  const copy = await createTestTable(client);
  await loadItems(client, copy, await scanAll(client, source));
  for (const i of [5, 50, 150]) {
    await client.send(
      new PutItemCommand({ TableName: copy, Item: { ...awkwardItem(i), text: { S: 'changed' } } as never }),
    );
  }
  for (const i of [7, 70]) {
    await client.send(new DeleteItemCommand({ TableName: copy, Key: { id: awkwardItem(i).id } as never }));
  }
  await client.send(
    new BatchWriteItemCommand({
      RequestItems: {
        [copy]: [awkwardItem(9001), awkwardItem(9002)].map((item) => ({
          PutRequest: { Item: item as never },
        })),
      },
    }),
  );
  return copy;
}

test('restore into an existing table that differs in a few items writes exactly those items', async () => {
  const { endpoint, client, table, store } = await backedUpTable(200);
  const target = await driftedCopy(client, table);

  // Through the engine, with every BatchWriteItem request counted on the wire.
  const counting = dynamoClient(endpoint);
  after(() => counting.destroy());
  const writes = countWrites(counting);
  const source = await resolveRestoreSource(store, { keySchema: SCHEMA });
  const result = await restoreTable(counting, target, source.items(), { keySchema: SCHEMA });
  assert.equal(result.targetWasEmpty, false);
  assert.deepEqual(
    { items: result.items, puts: result.puts, deletes: result.deletes, unchanged: result.unchanged },
    { items: 200, puts: 5, deletes: 2, unchanged: 195 },
  );
  assert.deepEqual(writes, { puts: 5, deletes: 2 });
  assert.equal(result.written, 7);
  assert.deepEqual(sortById(await scanAll(client, target)), sortById(await scanAll(client, table)));

  // A second restore finds nothing to do.
  const again = await restoreTable(counting, target, source.items(), { keySchema: SCHEMA });
  assert.deepEqual([again.puts, again.deletes, again.unchanged], [0, 0, 200]);
  assert.deepEqual(writes, { puts: 5, deletes: 2 });
});

test('restore --dry-run counts the exact plan and writes nothing', async () => {
  const { endpoint, client, table, dir } = await backedUpTable(200);
  const target = await driftedCopy(client, table);
  const before = sortById(await scanAll(client, target));
  const r = await runCliCapture(['restore', dir, `${endpoint}/${target}`, '--dry-run', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout);
  assert.deepEqual(
    [plan.dryRun, plan.items, plan.puts, plan.deletes, plan.unchanged, plan.written],
    [true, 200, 5, 2, 195, 0],
  );
  assert.deepEqual(sortById(await scanAll(client, target)), before);

  const text = await runCliCapture(['restore', dir, `${endpoint}/${target}`, '--dry-run']);
  assert.match(text.stdout, /would make 5 puts, 2 deletes, 195 unchanged; nothing written/);

  // Dry run into a table that does not exist: all puts, and nothing is created.
  const missing = uniqueName('not-created');
  const fresh = await runCliCapture([
    'restore',
    dir,
    `${endpoint}/${missing}`,
    '--create',
    '--dry-run',
    '--json',
  ]);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.deepEqual([JSON.parse(fresh.stdout).puts, JSON.parse(fresh.stdout).deletes], [200, 0]);
  assert.equal((await runCliCapture(['describe', `${endpoint}/${missing}`])).code, 2);
});

/** Corrupts one data file of the backup; the restore must refuse and change nothing. */
async function assertRefused(corrupt: (file: string) => Promise<void>, expected: RegExp) {
  const { endpoint, client, table, exportDir, dir } = await backedUpTable(250);
  const files = (await readdir(path.join(exportDir, 'data'))).sort();
  assert.equal(files.length, 3);
  await corrupt(path.join(exportDir, 'data', files[1] as string));

  // Into an existing table that differs: it must stay as it was.
  const target = await driftedCopy(client, table);
  const before = sortById(await scanAll(client, target));
  const r = await runCliCapture(['restore', dir, `${endpoint}/${target}`]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, expected);
  assert.match(r.stderr, new RegExp(files[1]?.replace(/\./g, '\\.') ?? 'never'));
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(sortById(await scanAll(client, target)), before);

  // With --create: the table is not created.
  const missing = uniqueName('not-created');
  const c = await runCliCapture(['restore', dir, `${endpoint}/${missing}`, '--create']);
  assert.equal(c.code, 2);
  assert.match(c.stderr, expected);
  assert.equal((await runCliCapture(['describe', `${endpoint}/${missing}`])).code, 2);
}

test('a truncated gzip data file gives a clear error, exit 2, and writes nothing', async () => {
  await assertRefused(async (file) => {
    const size = (await readFile(file)).length;
    await truncate(file, Math.floor(size / 2));
  }, /not a valid gzip stream or truncated/);
});

test('a data file whose MD5 does not match the manifest gives a clear error, exit 2, and writes nothing', async () => {
  await assertRefused(async (file) => {
    // Valid gzip with the same items and count: only the MD5 can tell.
    await writeFile(file, gzipSync(gunzipSync(await readFile(file)), { level: 1 }));
  }, /MD5 .* does not match the manifest/);
});

test('a data file that lost whole lines (valid gzip, wrong count) is refused', async () => {
  await assertRefused(async (file) => {
    const lines = gunzipSync(await readFile(file))
      .toString('utf8')
      .split('\n');
    await writeFile(file, gzipSync(lines.slice(0, 10).join('\n') + '\n'));
  }, /holds 10 items but its manifest lists 100|MD5/);
});

for (const backend of STORE_BACKENDS) {
  test(`a restore from an AWS-format export works (${backend.name})`, async () => {
    const endpoint = await dynamoEndpoint();
    const client = dynamoClient(endpoint);
    after(() => client.destroy());
    const { url, store, env } = await backend.root();
    // Copy the hand-written fixture (AWS's exact layout) into the backend under an export prefix.
    const fixture = openObjectStore(path.resolve('test/fixtures/aws-export'));
    const copyTarget = store.at('exports/products');
    for await (const o of fixture.list('')) await copyTarget.put(o.key, await fixture.get(o.key));
    const into = `${url}/exports/products`;
    const target = await createTestTable(client, {
      hash: { name: 'pk', type: 'S' },
      range: { name: 'sk', type: 'N' },
    });

    const r = await runCliCapture(['restore', into, `${endpoint}/${target}`, '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.deepEqual([summary.items, summary.puts, summary.deletes], [5, 5, 0]);
    const restored = await scanAll(client, target);
    assert.equal(restored.length, 5);
    const expected = [];
    for await (const item of (await resolveRestoreSource(copyTarget)).items()) expected.push(item);
    const key = (i: Item) => JSON.stringify([i.pk, i.sk]);
    const byKey = new Map(restored.map((i) => [key(i), i]));
    for (const item of expected) assert.ok(itemsEqual(item, byKey.get(key(item))), key(item));
    const widget = byKey.get(JSON.stringify([{ S: 'product#1' }, { N: '1' }]));
    assert.deepEqual(widget?.price, { N: '12345678901234567890123456789012345678' });

    // AWS exports carry no table description: --create into a missing table is refused clearly.
    const missing = uniqueName('no-description');
    const c = await runCliCapture(['restore', into, `${endpoint}/${missing}`, '--create'], { env });
    assert.equal(c.code, 2);
    assert.match(c.stderr, /no table description/);
  });
}

test('restore refuses a target whose key schema differs from the backup', async () => {
  const { endpoint, client, dir } = await backedUpTable(10);
  const other = await createTestTable(client, {
    hash: { name: 'id', type: 'S' },
    range: { name: 'r', type: 'N' },
  });
  const r = await runCliCapture(['restore', dir, `${endpoint}/${other}`]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /Key schemas differ: .* has hash id \(S\), no range key; the target table has hash id \(S\), range r \(N\)/,
  );
  assert.equal((await scanAll(client, other)).length, 0);
  const nothing = await runCliCapture(['restore', await tempDir(), `${endpoint}/${other}`]);
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /nothing to restore/);
  const noCreate = await runCliCapture(['restore', dir, `${endpoint}/${uniqueName('missing')}`]);
  assert.equal(noCreate.code, 2);
  assert.match(noCreate.stderr, /pass --create/);
});

test("the engine's emptiness probe fails like every DynamoDB call: a NotFoundError naming the table", async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  after(() => client.destroy());
  const missing = uniqueName('missing');
  let writes = 0;
  const error = await restoreTable(client, missing, [{ id: { S: 'a' } }], {
    keySchema: SCHEMA,
    onProgress: () => writes++,
  }).then(
    () => assert.fail('restore into a missing table succeeded'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof NotFoundError, String(error));
  assert.equal(
    error.message.replace(/ \(Scan: .*\)$/, ''),
    `Table "${missing}" was not found at ${endpoint} (region us-east-1)`,
  );
  assert.equal(writes, 0);
});
