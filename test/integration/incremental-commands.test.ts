import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createBackupHandler } from '../../src/lambda/backup.js';
import { createLogger } from '../../src/lambda/log.js';
import { listSegments } from '../../src/backup/log-manifest.js';
import { writeChangeBatch } from '../../src/backup/change-log.js';
import { LogIdentityError } from '../../src/core/errors.js';
import { scanAll } from '../harness/table-items.js';
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
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

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

    test("a log refuses another table's writers; readers refuse a log holding foreign parts", async () => {
      const shared = await backend.root();
      const a = await loggedTable(backend, undefined, shared);
      await logChanges(a, 3, async () => {
        for (const id of ['a1', 'a2', 'a3']) await put(a, id, '1');
      });
      const b = await loggedTable(backend, undefined, shared);
      await put(b, 'b1', '1');
      const logA = `${shared.url}/${a.table}`;
      const storeA = shared.store.at(a.table);
      const cli = (argv: string[]) => runCliCapture(argv, { env: a.env });
      const refused = (r: { code: number; stderr: string }, message: RegExp) => {
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, message);
        assert.doesNotMatch(r.stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace');
      };
      const foreignWriter = new RegExp(
        `${a.table} is the change log of table "${a.table}", hash id \\(S\\), no range key, ` +
          `not of table "${b.table}", hash id \\(S\\), no range key: refusing to write into it \\(nothing was written\\)`,
      );
      const before = await listKeys(storeA);

      // The issue's scenario: B's backfill (and backup-record) into A's log are refused, nothing written.
      refused(await cli(['incremental-backfill', `${a.host}/${b.table}`, logA]), foreignWriter);
      refused(
        await cli(['incremental-backup-record', `${a.host}/${b.table}`, logA, '{"id":"b1"}']),
        foreignWriter,
      );
      assert.deepEqual(await listKeys(storeA), before);
      assert.ok(before.includes('log.json'));

      // A log written before logs recorded their identity: it is derived from the log's parts.
      await storeA.delete('log.json');
      refused(await cli(['incremental-backfill', `${a.host}/${b.table}`, logA]), foreignWriter);
      assert.deepEqual(
        await listKeys(storeA),
        before.filter((k) => k !== 'log.json'),
      );
      // ... and A's own writer accepts it and records the identity again.
      const own = await cli(['incremental-backup-record', `${a.host}/${a.table}`, logA, '{"id":"a1"}']);
      assert.equal(own.code, 0, own.stderr);
      assert.deepEqual(JSON.parse((await storeA.get('log.json')).toString('utf8')), {
        format: 'dynamodb-replicator/log-identity',
        version: 1,
        table: a.table,
        keySchema: { hash: { name: 'id', type: 'S' } },
        keyAttributes: [{ name: 'id', type: 'S' }],
      });

      // A copy of A restored from its log: the table every refused restore below must leave alone.
      const copy = uniqueName('copy');
      const restored = await cli(['restore', logA, `${a.host}/${copy}`, '--create', '--json']);
      assert.equal(restored.code, 0, restored.stderr);
      assert.equal((JSON.parse(restored.stdout) as { items: number }).items, 4);
      const idOf = (item: Record<string, unknown>) => JSON.stringify(item.id);
      const sorted = async () =>
        (await scanAll(a.client, copy)).sort((x, y) => (idOf(x) < idOf(y) ? -1 : idOf(x) > idOf(y) ? 1 : 0));
      const copyItems = await sorted();
      assert.deepEqual(
        copyItems.map((i) => (i.id as { S: string }).S),
        ['a1', 'a2', 'a3', 'seed'],
      );

      // A snapshot of B inside A's log (what an unchecked backfill wrote): every reader refuses.
      const snapshotsB = shared.store.at(`${b.table}/snapshots`);
      const planted = await listKeys(snapshotsB);
      for (const key of planted) await storeA.at('snapshots').put(key, await snapshotsB.get(key));
      const foreignPart = new RegExp(
        `holds parts of different tables: .* is of table "${a.table}".*snapshots/\\d{8}T\\d{9}Z of table "${b.table}"`,
      );
      refused(await cli(['restore', logA, `${a.host}/${copy}`]), foreignPart);
      assert.deepEqual(await sorted(), copyItems);
      refused(await cli(['restore', logA, `${a.host}/${copy}`, '--at', String(Date.now())]), foreignPart);
      const destRoot = await backend.root();
      refused(await cli(['incremental-snapshot', logA, `${destRoot.url}/compacted`]), foreignPart);
      assert.deepEqual(await listKeys(destRoot.store), []);
      refused(await cli(['incremental-record-history', logA, '{"id":"a1"}']), foreignPart);
      refused(
        await cli(['incremental-diff-record', `${a.host}/${a.table}`, logA, '{"id":"a1"}']),
        foreignPart,
      );
      refused(await cli(['diff-tables', `${a.host}/${copy}`, logA, '--against-backup']), foreignPart);
      // Writers refuse a log whose parts disagree too.
      refused(
        await cli(['incremental-backup-record', `${a.host}/${a.table}`, logA, '{"id":"a1"}']),
        foreignPart,
      );
      for (const key of planted) await storeA.at('snapshots').delete(key);

      // A segment recording table B, and one whose changes have another key: restore refuses both.
      const change = (keys: Record<string, { S: string } | { N: string }>) => ({
        eventName: 'INSERT' as const,
        keys,
        newImage: keys,
        sequenceNumber: '900000000000000000001',
        shardId: 'planted',
        approximateCreationTime: Date.now() - 1_000,
      });
      const other = await writeChangeBatch(storeA, [change({ id: { S: 'b9' } })], { table: b.table });
      refused(
        await cli(['restore', logA, `${a.host}/${copy}`]),
        new RegExp(
          `changes/.*-planted-.* records table "${b.table}", but the log belongs to table "${a.table}"`,
        ),
      );
      assert.deepEqual(await sorted(), copyItems);
      for (const key of other.objects) await storeA.delete(key);
      const keyed = await writeChangeBatch(storeA, [change({ pk: { N: '7' } })]);
      refused(
        await cli(['restore', logA, `${a.host}/${copy}`]),
        /change planted\/900000000000000000001 has key attributes pk \(N\), but the log belongs to table "[^"]+", hash id \(S\)/,
      );
      assert.deepEqual(await sorted(), copyItems);
      for (const key of keyed.objects) await storeA.delete(key);
      const fine = await cli(['restore', logA, `${a.host}/${copy}`, '--json']);
      assert.equal(fine.code, 0, fine.stderr);
    });

    test('the runner and the Lambda handler refuse a log of another key schema, writing nothing', async () => {
      const shared = await backend.root();
      const endpoint = await dynamoEndpoint();
      const client = dynamoClient(endpoint);
      const c: Fixture = {
        client,
        host: new URL(endpoint).host,
        table: await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' }),
        root: shared.store,
        url: shared.url,
        env: { ...process.env, ...shared.env },
      };
      const storeC = shared.store.at(c.table);
      // The log at <root>/<table> was kept for an earlier table of that name with another key.
      await storeC.put(
        'log.json',
        JSON.stringify({
          format: 'dynamodb-replicator/log-identity',
          version: 1,
          table: c.table,
          keySchema: { hash: { name: 'pk', type: 'N' } },
          keyAttributes: [{ name: 'pk', type: 'N' }],
        }),
      );
      const before = await listKeys(storeC);
      const dir = await mkdtemp(path.join(tmpdir(), 'logid-'));
      after(() => rm(dir, { recursive: true, force: true }));
      const replica = await createTestTable(c.client);
      const run = await runCliCapture(
        [
          'replicate',
          `${c.host}/${c.table}`,
          `${c.host}/${replica}`,
          '--backup',
          shared.url,
          '--stop-when-idle',
          '1s',
          '--checkpoint',
          path.join(dir, 'cp.json'),
        ],
        { env: c.env },
      );
      assert.equal(run.code, 2, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(
          `is the change log of table "${c.table}", hash pk \\(N\\), no range key, not of table "${c.table}", hash id \\(S\\), no range key`,
        ),
      );
      assert.deepEqual(await listKeys(storeC), before);
      assert.deepEqual(await scanAll(c.client, replica), []);

      const cap = await captureChanges(c.client, streamsClient(endpoint), c.table, 1, () => put(c, 'x', '1'));
      const handler = createBackupHandler(
        { bucket: 'unused', prefix: '', logLevel: 'error' },
        { store: shared.store, logger: quiet, metrics: noMetrics },
      );
      await assert.rejects(
        handler(toLambdaEvent(cap)),
        (e: unknown) =>
          e instanceof LogIdentityError &&
          e.message.includes(`not of table "${c.table}", key attributes id (S)`),
      );
      assert.deepEqual(await listKeys(storeC), before);
    });
  });
}
