import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { PutItemCommand, DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { recordHistory } from '../../src/backup/history.js';
import { readChanges } from '../../src/backup/change-log.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { runCliCapture } from '../harness/cli.js';
import { STORE_BACKENDS } from '../harness/backup-stores.js';

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
      const run = () =>
        runCliCapture(
          [
            'replicate',
            `${host}/${source}`,
            `${host}/${replica}`,
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
  });
}
