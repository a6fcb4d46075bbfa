import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createBackupHandler } from '../../src/lambda/backup.js';
import { createLogger } from '../../src/lambda/log.js';
import { listSegments } from '../../src/backup/log-manifest.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import {
  createTestTable,
  dynamoClient,
  dynamoEndpoint,
  streamsClient,
  uniqueName,
} from '../harness/dynamodb.js';
import { captureChanges, toLambdaEvent } from '../harness/stream-capture.js';
import { runCliCapture } from '../harness/cli.js';
import { listKeys, STORE_BACKENDS } from '../harness/backup-stores.js';

const quiet = createLogger({ level: 'error', write: () => {} });
const noMetrics = (): void => {};

interface Fixture {
  client: DynamoDBClient;
  host: string;
  table: string;
  root: ObjectStore;
  url: string;
  env: Record<string, string | undefined>;
}

/** A table named `name` with a stream, seeded with one item, backfilled into `<url>/<name>`. */
async function loggedTable(
  backend: (typeof STORE_BACKENDS)[number],
  name?: string,
  shared?: Awaited<ReturnType<(typeof STORE_BACKENDS)[number]['root']>>,
): Promise<Fixture> {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES', ...(name ? { name } : {}) });
  const { url, store: root, env: storeEnv } = shared ?? (await backend.root());
  const env = { ...process.env, ...storeEnv };
  const host = new URL(endpoint).host;
  await client.send(new PutItemCommand({ TableName: table, Item: { id: { S: 'seed' }, n: { N: '1' } } }));
  const r = await runCliCapture(['incremental-backfill', `${host}/${table}`, `${url}/${table}`], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^snapshot \d{8}T\d{9}Z: 1 items of .*\nrestorable from /s);
  return { client, host, table, root, url, env };
}

/** Makes changes on the table and logs their stream records through the backup handler. */
async function logChanges(f: Fixture, expected: number, act: () => Promise<void>): Promise<void> {
  const endpoint = await dynamoEndpoint();
  const cap = await captureChanges(f.client, streamsClient(endpoint), f.table, expected, act);
  const handler = createBackupHandler(
    { bucket: 'unused', prefix: '', logLevel: 'error' },
    { store: f.root, logger: quiet, metrics: noMetrics },
  );
  assert.deepEqual(await handler(toLambdaEvent(cap)), { batchItemFailures: [] });
}

const put = (f: Fixture, id: string, n: string) =>
  f.client
    .send(new PutItemCommand({ TableName: f.table, Item: { id: { S: id }, n: { N: n } } }))
    .then(() => {});

for (const backend of STORE_BACKENDS) {
  describe(`incremental commands on ${backend.name}`, () => {
    test('record history, diff-record and backup-record', async () => {
      const f = await loggedTable(backend);
      const log = `${f.url}/${f.table}`;
      await logChanges(f, 4, async () => {
        await put(f, 'a', '1');
        await put(f, 'a', '2');
        await put(f, 'b', '1');
        await f.client.send(new DeleteItemCommand({ TableName: f.table, Key: { id: { S: 'a' } } }));
      });
      const history = await runCliCapture(['incremental-record-history', log, '{"id":"a"}', '--json'], {
        env: f.env,
      });
      assert.equal(history.code, 0, history.stderr);
      const versions = (JSON.parse(history.stdout) as { versions: { eventName: string; image: unknown }[] })
        .versions;
      assert.deepEqual(
        versions.map((v) => [v.eventName, v.image]),
        [
          ['INSERT', { id: { S: 'a' }, n: { N: '1' } }],
          ['MODIFY', { id: { S: 'a' }, n: { N: '2' } }],
          ['REMOVE', null],
        ],
      );
      const text = await runCliCapture(['incremental-record-history', log, '{"id":{"S":"a"}}'], {
        env: f.env,
      });
      assert.equal(text.stdout.trim().split('\n').length, 3);
      assert.match(text.stdout, /REMOVE {2}\(deleted\)/);
      const none = await runCliCapture(
        ['incremental-record-history', log, '{"id":"a"}', '--until', '2000-01-01T00:00:00Z', '--json'],
        { env: f.env },
      );
      assert.deepEqual((JSON.parse(none.stdout) as { versions: unknown[] }).versions, []);

      // diff-record: the log knows a was deleted and b exists; the seed only lives in the snapshot.
      const diff = async (key: string) =>
        runCliCapture(['incremental-diff-record', `${f.host}/${f.table}`, log, key, '--json'], {
          env: f.env,
        });
      assert.equal((await diff('{"id":"a"}')).code, 0);
      assert.equal((await diff('{"id":"b"}')).code, 0);
      const seed = await diff('{"id":"seed"}');
      assert.equal(seed.code, 0, seed.stdout);
      assert.match((JSON.parse(seed.stdout) as { backupSource: string }).backupSource, /^snapshot /);
      // A change the log never saw (no handler run): different until backup-record writes it.
      await put(f, 'b', '99');
      const stale = await diff('{"id":"b"}');
      assert.equal(stale.code, 1);
      assert.deepEqual((JSON.parse(stale.stdout) as { backup: unknown }).backup, {
        id: { S: 'b' },
        n: { N: '1' },
      });
      const record = await runCliCapture(
        ['incremental-backup-record', `${f.host}/${f.table}`, log, '{"id":"b"}', '--json'],
        { env: f.env },
      );
      assert.equal(record.code, 0, record.stderr);
      assert.match(
        (JSON.parse(record.stdout) as { object: string }).object,
        /^changes\/\d{4}\/\d\d\/\d\d\/\d\d\/\d{13}-record-[0-9a-f]{16}-\d{13}-\d{13}\.jsonl\.gz$/,
      );
      assert.equal((await diff('{"id":"b"}')).code, 0);
      const after = await runCliCapture(['incremental-record-history', log, '{"id":"b"}', '--json'], {
        env: f.env,
      });
      const bv = (JSON.parse(after.stdout) as { versions: { synthetic: boolean; image: unknown }[] })
        .versions;
      assert.deepEqual(
        bv.map((v) => v.synthetic),
        [false, true],
      );
      assert.deepEqual(bv[1]?.image, { id: { S: 'b' }, n: { N: '99' } });

      // Bad input: exit 2, clear message, no stack.
      const badKey = await runCliCapture(['incremental-record-history', log, '{"nope":"a"}'], { env: f.env });
      assert.equal(badKey.code, 2);
      assert.match(badKey.stderr, /not part of the table's key/);
      const badTime = await runCliCapture(
        ['incremental-record-history', log, '{"id":"a"}', '--since', 'soon'],
        { env: f.env },
      );
      assert.equal(badTime.code, 2);
      assert.match(badTime.stderr, /--since must be an ISO 8601 time/);
    });

    test('users and users-archive under one prefix never mix; a truncated segment writes nothing', async () => {
      const shared = await backend.root();
      const users = await loggedTable(backend, uniqueName('users'), shared);
      const archive = await loggedTable(backend, `${users.table}-archive`, shared);
      await logChanges(users, 1, () => put(users, 'u1', '1'));
      await logChanges(archive, 2, async () => {
        await put(archive, 'a1', '1');
        await put(archive, 'a2', '1');
      });
      const restore = async (log: string, target: string, extra: string[] = []) =>
        runCliCapture(['restore', log, `${users.host}/${target}`, '--create', '--json', ...extra], {
          env: users.env,
        });
      const t1 = uniqueName('r');
      const r1 = await restore(`${shared.url}/${users.table}`, t1);
      assert.equal(r1.code, 0, r1.stderr);
      assert.equal((JSON.parse(r1.stdout) as { items: number }).items, 2); // seed + u1, nothing of the archive
      const t2 = uniqueName('r');
      assert.equal(
        (JSON.parse((await restore(`${shared.url}/${archive.table}`, t2)).stdout) as { items: number }).items,
        3,
      );
      const history = await runCliCapture(
        ['incremental-record-history', `${shared.url}/${users.table}`, '{"id":"a1"}', '--json'],
        { env: users.env },
      );
      assert.deepEqual((JSON.parse(history.stdout) as { versions: unknown[] }).versions, []);

      // Truncate the users log's segment: restore and snapshot refuse it, naming it; nothing written.
      const log = shared.store.at(users.table);
      const [segment] = await (async () => {
        const out: string[] = [];
        for await (const s of listSegments(log)) out.push(s.key);
        return out;
      })();
      assert.ok(segment);
      const bytes = await log.get(segment);
      await log.put(segment, bytes.subarray(0, bytes.length - 8));
      const t3 = uniqueName('r');
      const bad = await restore(`${shared.url}/${users.table}`, t3);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /change log segment .*changes\/.* is truncated or corrupt/);
      assert.equal((await runCliCapture(['describe', `${users.host}/${t3}`], { env: users.env })).code, 2);
      const dest = `${shared.url}/compacted-${users.table}`;
      const snap = await runCliCapture(['incremental-snapshot', `${shared.url}/${users.table}`, dest], {
        env: users.env,
      });
      assert.equal(snap.code, 2);
      assert.deepEqual(await listKeys(shared.store.at(`compacted-${users.table}`)), []);
    });
  });
}
