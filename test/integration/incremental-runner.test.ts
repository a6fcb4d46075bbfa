import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { PutItemCommand, DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { recordHistory } from '../../src/backup/history.js';
import { readChanges } from '../../src/backup/change-log.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { runCliCapture } from '../harness/cli.js';
import { STORE_BACKENDS } from '../harness/backup-stores.js';
import { scanAll } from '../harness/table-items.js';

/** `replicate <tables...> --backup url` until idle, with its checkpoint in `dir`. */
function runToIdle(tables: readonly string[], url: string, dir: string, env: NodeJS.ProcessEnv) {
  return runCliCapture(
    [
      'replicate',
      ...tables,
      '--backup',
      url,
      '--stop-when-idle',
      '1s',
      '--checkpoint',
      path.join(dir, 'cp.json'),
      '--json',
    ],
    { env },
  );
}

for (const backend of STORE_BACKENDS) {
  describe(`replicate --backup on ${backend.name}`, () => {
    test('the runner logs every change before applying it, and a rerun adds no duplicate', async () => {
      const endpoint = await dynamoEndpoint();
      const client = dynamoClient(endpoint);
      const host = new URL(endpoint).host;
      const source = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
      const replica = await createTestTable(client);
      const dir = await mkdtemp(path.join(tmpdir(), 'runner-backup-'));
      after(() => rm(dir, { recursive: true, force: true }));
      const { url, store, env: storeEnv } = await backend.root();
      const env = { ...process.env, ...storeEnv };
      for (let v = 1; v <= 5; v++)
        await client.send(
          new PutItemCommand({ TableName: source, Item: { id: { S: 'a' }, v: { N: String(v) } } }),
        );
      await client.send(new PutItemCommand({ TableName: source, Item: { id: { S: 'b' }, v: { N: '1' } } }));
      await client.send(new DeleteItemCommand({ TableName: source, Key: { id: { S: 'a' } } }));
      const run = () => runToIdle([`${host}/${source}`, `${host}/${replica}`], url, dir, env);
      const first = await run();
      assert.equal(first.code, 0, first.stderr);
      const log = store.at(source);
      const history = await recordHistory(log, { id: { S: 'a' } });
      assert.deepEqual(
        history.map((h) => [h.eventName, h.image?.v]),
        [
          ['INSERT', { N: '1' }],
          ['MODIFY', { N: '2' }],
          ['MODIFY', { N: '3' }],
          ['MODIFY', { N: '4' }],
          ['MODIFY', { N: '5' }],
          ['REMOVE', undefined],
        ],
      );
      let n = 0;
      for await (const _ of readChanges(log)) n++;
      assert.equal(n, 7);
      // From the checkpoint, a second run finds nothing new to log.
      const second = await run();
      assert.equal(second.code, 0, second.stderr);
      let m = 0;
      for await (const _ of readChanges(log)) m++;
      assert.equal(m, 7);
      const bad = await runCliCapture(
        ['replicate', `${host}/${source}`, `${host}/${replica}`, '--backup', url, '--read-through'],
        { env },
      );
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--backup needs the stream's new images/);
    });

    test('--backfill with --backup seeds the change log with a base snapshot, so the log restores on its own', async () => {
      const endpoint = await dynamoEndpoint();
      const client = dynamoClient(endpoint);
      const host = new URL(endpoint).host;
      const source = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
      const replica = await createTestTable(client);
      const dir = await mkdtemp(path.join(tmpdir(), 'runner-backfill-backup-'));
      after(() => rm(dir, { recursive: true, force: true }));
      const { url, env: storeEnv } = await backend.root();
      const env = { ...process.env, ...storeEnv };
      // Items from before the runner: the backfill starts the log after their stream records.
      for (let i = 0; i < 120; i++)
        await client.send(
          new PutItemCommand({ TableName: source, Item: { id: { S: `k${i}` }, v: { N: `${i}.5` } } }),
        );
      const run = (extra: string[]) =>
        runToIdle([`${host}/${source}`, `${host}/${replica}`, ...extra], url, dir, env);
      const first = await run(['--backfill']);
      assert.equal(first.code, 0, first.stderr);
      const seeded = first.stdout
        .split('\n')
        .filter((l) => l.includes('"backup-snapshot"'))
        .map((l) => JSON.parse(l) as { items: number });
      assert.deepEqual(
        seeded.map((e) => e.items),
        [120],
      );
      // Later changes reach the log through the stream.
      await client.send(new DeleteItemCommand({ TableName: source, Key: { id: { S: 'k0' } } }));
      await client.send(new PutItemCommand({ TableName: source, Item: { id: { S: 'new' }, v: { N: '1' } } }));
      const second = await run([]);
      assert.equal(second.code, 0, second.stderr);
      const restored = `${source}-restored`;
      const restore = await runCliCapture(
        ['restore', `${url}/${source}`, `${host}/${restored}`, '--create', '--json'],
        {
          env,
        },
      );
      assert.equal(restore.code, 0, restore.stderr);
      const want = (await scanAll(client, source)).map((i) => JSON.stringify(i)).sort();
      const got = (await scanAll(client, restored)).map((i) => JSON.stringify(i)).sort();
      assert.equal(got.length, 120);
      assert.deepEqual(got, want);
    });

    test('without a replica the runner only keeps the change log, with its own checkpoint', async () => {
      const endpoint = await dynamoEndpoint();
      const client = dynamoClient(endpoint);
      const host = new URL(endpoint).host;
      const source = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
      const dir = await mkdtemp(path.join(tmpdir(), 'runner-backup-only-'));
      after(() => rm(dir, { recursive: true, force: true }));
      const { url, store, env: storeEnv } = await backend.root();
      const env = { ...process.env, ...storeEnv };
      for (let i = 0; i < 4; i++)
        await client.send(
          new PutItemCommand({ TableName: source, Item: { id: { S: `k${i}` }, v: { N: String(i) } } }),
        );
      await client.send(new DeleteItemCommand({ TableName: source, Key: { id: { S: 'k0' } } }));
      // The default checkpoint file is relative to the working directory: run from `dir`.
      const cwd = process.cwd();
      process.chdir(dir);
      const run = await runCliCapture(
        ['replicate', `${host}/${source}`, '--backup', url, '--stop-when-idle', '1s', '--json'],
        { env },
      ).finally(() => process.chdir(cwd));
      assert.equal(run.code, 0, run.stderr);
      const events: string[] = [];
      for await (const c of readChanges(store.at(source)))
        events.push(`${c.eventName} ${JSON.stringify(c.keys)}`);
      assert.deepEqual(events, [
        'INSERT {"id":{"S":"k0"}}',
        'INSERT {"id":{"S":"k1"}}',
        'INSERT {"id":{"S":"k2"}}',
        'INSERT {"id":{"S":"k3"}}',
        'REMOVE {"id":{"S":"k0"}}',
      ]);
      assert.deepEqual(await readdir(path.join(dir, '.dynamodb-replicator')), [
        `${source}.backup.checkpoint.json`,
      ]);
      const noTarget = await runCliCapture(['replicate', `${host}/${source}`], { env });
      assert.equal(noTarget.code, 2);
      assert.match(noTarget.stderr, /at least one replica table, or --backup LOCATION/);
      const backfill = await runCliCapture(
        ['replicate', `${host}/${source}`, '--backup', url, '--backfill'],
        {
          env,
        },
      );
      assert.equal(backfill.code, 2);
      assert.match(backfill.stderr, /nothing to backfill: seed the change log with incremental-backfill/);
    });
  });
}
