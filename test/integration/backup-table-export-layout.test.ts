import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { InvalidDataError, NotFoundError } from '../../src/core/errors.js';
import { itemsEqual } from '../../src/core/equality.js';
import { fromDynamoJson } from '../../src/core/ddb-json.js';
import type { Item, KeySchema } from '../../src/core/types.js';
import {
  listCompleteExports,
  openExport,
  writeExport,
  type ManifestFileEntry,
} from '../../src/backup/export-layout.js';
import { resolveRestoreSource } from '../../src/backup/restore-source.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { STORE_BACKENDS } from '../harness/backup-stores.js';

const FIXTURE = path.resolve('test/fixtures/aws-export');
const SCHEMA: KeySchema = { hash: { name: 'pk', type: 'S' }, range: { name: 'sk', type: 'N' } };

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'export-layout-'));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function collect(items: AsyncIterable<Item>): Promise<Item[]> {
  const out: Item[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const sample: Item[] = Array.from({ length: 25 }, (_, i) => ({
  pk: { S: `p${i}` },
  sk: { N: String(i) },
  big: { N: '-99999999999999999999999999999999999999' },
  bin: { B: new Uint8Array([0, 255, i]) },
  set: { BS: [new Uint8Array([1]), new Uint8Array([2, i])] },
}));

for (const backend of STORE_BACKENDS) {
  test(`writeExport then openExport round-trips items exactly (${backend.name})`, async () => {
    const { store: root } = await backend.root();
    const store = root.at('AWSDynamoDB/job-1');
    const summary = await writeExport(
      store,
      sample,
      { exportId: 'job-1', startTime: 1000, endTime: 2000, exportTime: 1000, tableName: 't' },
      { maxItemsPerFile: 10 },
    );
    assert.equal(summary.itemCount, 25);
    assert.equal(summary.outputFormat, 'DYNAMODB_JSON');
    const reader = await openExport(store, { keySchema: SCHEMA });
    assert.deepEqual(
      reader.files.map((f) => f.itemCount),
      [10, 10, 5],
    );
    assert.deepEqual(await collect(reader.items()), sample);
    assert.deepEqual(await listCompleteExports(root), ['job-1']);
    if (root.location.kind === 's3') {
      // Manifests name objects by full bucket key, as DynamoDB does.
      assert.ok(reader.files[0]?.dataFileS3Key.startsWith(`${root.location.prefix}/AWSDynamoDB/job-1/data/`));
      assert.equal(summary.s3Prefix, root.location.prefix);
    }
  });
}

test('an AWS export (hand-written fixture in the exact AWS layout) reads with every value intact', async () => {
  const store = openObjectStore(FIXTURE);
  const [id] = await listCompleteExports(store);
  assert.equal(id, '01764230400000-5f2c9e1a');
  const reader = await openExport(store.at(`AWSDynamoDB/${id}`), { keySchema: SCHEMA });
  assert.equal(reader.itemCount, 5);
  assert.equal(reader.description, undefined);
  const items = await collect(reader.items());
  assert.equal(items.length, 5);
  const first = items[0] as Item;
  assert.deepEqual(first.price, { N: '12345678901234567890123456789012345678' });
  assert.deepEqual(first.thumb, { B: new Uint8Array(Buffer.from('iVBORw0KGgo=', 'base64')) });
  assert.deepEqual(first.tags, { SS: ['blue', 'small'] });
  const raw = gunzipSync(
    await readFile(path.join(FIXTURE, `AWSDynamoDB/${id}/data/k3pz7gq4wqylzmiqy4dy6hm3hy.json.gz`)),
  )
    .toString('utf8')
    .split('\n')[0] as string;
  assert.ok(itemsEqual(first, fromDynamoJson((JSON.parse(raw) as { Item: unknown }).Item)));
});

async function corruptCopy(mutate: (dir: string, entries: ManifestFileEntry[]) => Promise<void>) {
  const dir = await tempDir();
  await cp(FIXTURE, dir, { recursive: true });
  const folder = path.join(dir, 'AWSDynamoDB/01764230400000-5f2c9e1a');
  const entries = (await readFile(path.join(folder, 'manifest-files.json'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ManifestFileEntry);
  await mutate(folder, entries);
  return openObjectStore(folder);
}

test('a data file whose MD5 does not match the manifest is refused, naming the file', async () => {
  const store = await corruptCopy(async (folder) => {
    const file = path.join(folder, 'data/wqbx6ptz3m4ijaxx5hq2xmxa3a.json.gz');
    // Same items, recompressed: valid gzip and the right count, only the bytes (and MD5) differ.
    await writeFile(file, gzipSync(gunzipSync(await readFile(file)), { level: 1 }));
  });
  await assert.rejects(openExport(store, { keySchema: SCHEMA }), (e: unknown) => {
    assert.ok(e instanceof InvalidDataError);
    assert.match(e.message, /wqbx6ptz3m4ijaxx5hq2xmxa3a\.json\.gz: MD5 .* does not match the manifest/);
    return true;
  });
});

test('a truncated gzip data file is refused as truncated', async () => {
  const store = await corruptCopy(async (folder) => {
    await truncate(path.join(folder, 'data/k3pz7gq4wqylzmiqy4dy6hm3hy.json.gz'), 40);
  });
  await assert.rejects(openExport(store, { keySchema: SCHEMA }), (e: unknown) => {
    assert.ok(e instanceof InvalidDataError);
    assert.match(e.message, /k3pz7gq4wqylzmiqy4dy6hm3hy\.json\.gz: not a valid gzip stream or truncated/);
    return true;
  });
});

test('an export without manifest-summary.json is not a complete export', async () => {
  const store = await corruptCopy(async (folder) => {
    await rm(path.join(folder, 'manifest-summary.json'));
  });
  await assert.rejects(openExport(store), NotFoundError);
});

test("a summary whose itemCount disagrees with the files' counts is refused", async () => {
  const store = await corruptCopy(async (folder) => {
    const file = path.join(folder, 'manifest-summary.json');
    const summary = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...summary, itemCount: 6 }));
    await rm(path.join(folder, 'manifest-summary.checksum'));
  });
  await assert.rejects(openExport(store), /lists 5 items but manifest-summary\.json says 6/);
});

test('resolveRestoreSource picks the newest complete export, or the one --jobid names', async () => {
  const dir = await tempDir();
  const root = openObjectStore(dir);
  const description = {
    TableName: 't',
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' as const },
      { AttributeName: 'sk', KeyType: 'RANGE' as const },
    ],
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' as const },
      { AttributeName: 'sk', AttributeType: 'N' as const },
    ],
  };
  for (const [id, time, count] of [
    ['00000000001000-aaaaaaaa', 1000, 3],
    ['00000000002000-bbbbbbbb', 2000, 4],
  ] as const) {
    await writeExport(root.at(`AWSDynamoDB/${id}`), sample.slice(0, count), {
      exportId: id,
      startTime: time,
      endTime: time,
      exportTime: time,
      description,
    });
  }
  // A newer job that never completed (no summary, no segments) is passed over.
  await root.put('AWSDynamoDB/00000000003000-cccccccc/_started', '');
  const newest = await resolveRestoreSource(root);
  assert.equal(newest.itemCount, 4);
  assert.match(newest.label, /00000000002000-bbbbbbbb/);
  assert.deepEqual(newest.keySchema, SCHEMA);
  const named = await resolveRestoreSource(root, { jobId: '00000000001000-aaaaaaaa' });
  assert.equal(named.itemCount, 3);
  await assert.rejects(resolveRestoreSource(root, { jobId: 'nope' }), NotFoundError);
  await assert.rejects(resolveRestoreSource(root, { at: 5 }), /--at needs an incremental backup/);
  // The export folder itself works as a location too.
  const folder = await resolveRestoreSource(root.at('AWSDynamoDB/00000000001000-aaaaaaaa'));
  assert.equal(folder.itemCount, 3);
});
