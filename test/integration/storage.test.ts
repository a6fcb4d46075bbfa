import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { startLocalS3 } from '../harness/s3.js';
import { parseStoreLocation } from '../../src/storage/location.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { readAll, type ObjectStore } from '../../src/storage/object-store.js';
import { NotFoundError, UsageError } from '../../src/core/errors.js';

async function collect(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys.sort();
}

interface Backend {
  name: string;
  open(prefix: string): Promise<ObjectStore>;
}

const backends: Backend[] = [
  {
    name: 'filesystem',
    async open(prefix) {
      const dir = await mkdtemp(path.join(tmpdir(), 'store-'));
      after(() => rm(dir, { recursive: true, force: true }));
      return openObjectStore(path.join(dir, prefix));
    },
  },
  {
    name: 's3rver',
    async open(prefix) {
      const s3 = await startLocalS3();
      const bucket = await s3.createBucket();
      return openObjectStore(`s3://${bucket}/${prefix}`, {
        s3: { endpoint: s3.endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
      });
    },
  },
];

for (const backend of backends) {
  describe(`object store on ${backend.name}`, () => {
    test('put/get/exists/delete round-trip bytes exactly, missing objects are NotFoundError', async () => {
      const store = await backend.open('root/backups');
      const bytes = randomBytes(4096);
      const put = await store.put('a/b.bin', bytes);
      assert.match(put.etag ?? '', /^[0-9a-f]{32}$/);
      assert.deepEqual(await store.get('a/b.bin'), bytes);
      assert.deepEqual(await readAll(await store.getStream('a/b.bin')), bytes);
      assert.equal(await store.exists('a/b.bin'), true);
      assert.equal(await store.exists('a/c.bin'), false);
      await store.delete('a/b.bin');
      assert.equal(await store.exists('a/b.bin'), false);
      await assert.rejects(store.get('a/b.bin'), NotFoundError);
      await assert.rejects(store.getStream('nope'), NotFoundError);
    });

    test('streamed puts larger than one multipart part arrive whole', async () => {
      const store = await backend.open('big');
      const chunk = randomBytes(1024 * 1024);
      const chunks = Array.from({ length: 12 }, (_, i) => Buffer.concat([chunk, Buffer.from([i])]));
      await store.put('large.bin', Readable.from(chunks));
      const back = await store.get('large.bin');
      assert.equal(back.length, 12 * (1024 * 1024 + 1));
      assert.deepEqual(back, Buffer.concat(chunks));
    });

    test('a prefix is a folder: users never picks up users-archive', async () => {
      const store = await backend.open('team');
      await store.put('users/AWSDynamoDB/1/manifest-summary.json', '{}');
      await store.put('users/AWSDynamoDB/1/data/x.json.gz', 'x');
      await store.put('users-archive/AWSDynamoDB/2/manifest-summary.json', '{}');
      await store.put('users.txt', 'u');
      assert.deepEqual(await collect(store, 'users'), [
        'users/AWSDynamoDB/1/data/x.json.gz',
        'users/AWSDynamoDB/1/manifest-summary.json',
      ]);
      assert.deepEqual(await collect(store, 'users-archive/'), [
        'users-archive/AWSDynamoDB/2/manifest-summary.json',
      ]);
      assert.deepEqual(await collect(store.at('users'), ''), [
        'AWSDynamoDB/1/data/x.json.gz',
        'AWSDynamoDB/1/manifest-summary.json',
      ]);
      assert.deepEqual(await collect(store.at('users'), 'AWSDynamoDB/1/data'), [
        'AWSDynamoDB/1/data/x.json.gz',
      ]);
      assert.deepEqual(await store.listFolders(''), ['users', 'users-archive']);
      assert.deepEqual(await store.at('users').listFolders('AWSDynamoDB'), ['1']);
      assert.deepEqual(await collect(store, 'nothing-here'), []);
      assert.deepEqual(await collect(store, ''), [
        'users-archive/AWSDynamoDB/2/manifest-summary.json',
        'users.txt',
        'users/AWSDynamoDB/1/data/x.json.gz',
        'users/AWSDynamoDB/1/manifest-summary.json',
      ]);
    });

    test('overwriting replaces the object whole', async () => {
      const store = await backend.open('over');
      await store.put('k', 'first version, longer');
      await store.put('k', 'second');
      assert.equal((await store.get('k')).toString(), 'second');
      assert.deepEqual(await collect(store, ''), ['k']);
    });
  });
}

test('filesystem writes leave no temp files behind', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'store-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const store = openObjectStore(dir);
  await store.put('x/y', Readable.from([Buffer.from('a'), Buffer.from('b')]));
  assert.deepEqual(await readdir(path.join(dir, 'x')), ['y']);
});

test('store locations parse s3 URLs, paths and file URLs; others are a UsageError naming the forms', () => {
  assert.deepEqual(parseStoreLocation('s3://my-bucket/a/b/'), {
    kind: 's3',
    bucket: 'my-bucket',
    prefix: 'a/b',
  });
  assert.deepEqual(parseStoreLocation('s3://my-bucket'), { kind: 's3', bucket: 'my-bucket', prefix: '' });
  assert.deepEqual(parseStoreLocation('file:///tmp/x'), { kind: 'file', directory: '/tmp/x' });
  assert.deepEqual(parseStoreLocation('backups/u', '/home/me'), {
    kind: 'file',
    directory: '/home/me/backups/u',
  });
  for (const bad of ['http://host/x', 's3://', 's3://UPPER/x', '', 's3://b-ok/../x']) {
    assert.throws(
      () => parseStoreLocation(bad),
      (e: unknown) => e instanceof UsageError && /s3:\/\/bucket\/prefix/.test(e.message),
      bad,
    );
  }
});
