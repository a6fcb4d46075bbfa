import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { FileCheckpointStore } from '../../src/replicate/checkpoint.js';
import { StreamRunner } from '../../src/replicate/runner.js';
import { streamsClient } from '../harness/dynamodb.js';
import { streamArnOf } from '../harness/stream-capture.js';
import { createPair, diffCli, HASH_RANGE, putItems, row } from './diff-fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a live pair: while the stream runner replicates a steady write load, diff-tables --settle 2s reports 0', async () => {
  const pair = await createPair({ stream: true });
  const seed = Array.from({ length: 1500 }, (_, i) => row(`r${i}`, { N: String(i) }, `h${i % 17}`));
  await putItems(pair.primaryClient, pair.primary, seed);

  const stop = new AbortController();
  const dir = await mkdtemp(path.join(tmpdir(), 'diff-live-'));
  const runner = new StreamRunner({
    streams: streamsClient(pair.endpoint, 'us-east-1'),
    streamArn: await streamArnOf(pair.primaryClient, pair.primary),
    apply: { replicas: [{ client: pair.replicaClient, table: pair.replica }], keySchema: HASH_RANGE },
    checkpoint: new FileCheckpointStore(path.join(dir, 'checkpoint.json')),
    from: 'trim-horizon',
    signal: stop.signal,
  }).run();

  // Wait until the seed has reached the replica (the diff itself is the check).
  for (let i = 0; ; i++) {
    const r = await diffCli(pair, ['--json']);
    if (r.code === 0) break;
    assert.ok(i < 60, `the runner did not catch up: ${r.stdout}${r.stderr}`);
    await sleep(500);
  }

  // A steady load on the primary: four writers putting new and existing items and deleting some.
  let writes = 0;
  let writing = true;
  const writer = async (w: number) => {
    for (let n = w; writing; n += 4) {
      const i = Math.floor(Math.random() * 2000);
      const key = { hash: { S: `h${i % 17}` }, range: { S: `r${i}` } };
      if (n % 5 === 4) {
        await pair.primaryClient.send(new DeleteItemCommand({ TableName: pair.primary, Key: key }));
      } else {
        await pair.primaryClient.send(
          new PutItemCommand({ TableName: pair.primary, Item: { ...key, other: { N: String(n) } } }),
        );
      }
      writes++;
      await sleep(10);
    }
  };
  const load = Promise.all([0, 1, 2, 3].map(writer));

  try {
    await sleep(1000);
    const before = writes;
    // A read budget makes the scan of ~1,500 items last at least about 1.5 s on any machine, so the
    // writers run during it however fast the machine is.
    const r = await diffCli(pair, ['--settle', '2s', '--items-per-second', '1000', '--json']);
    const during = writes - before;
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    const summary = JSON.parse(r.stdout) as { discrepancies: { total: number }; rechecked: number };
    assert.equal(summary.discrepancies.total, 0);
    assert.ok(during > 0, `the load kept writing during the diff (${during} writes)`);
  } finally {
    writing = false;
    await load;
    stop.abort();
    await runner;
  }
});
