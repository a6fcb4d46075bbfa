import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DeleteItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { canonicalKey } from '../../src/core/canonical-key.js';
import { toDynamoJson } from '../../src/core/ddb-json.js';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import { createBackupHandler } from '../../src/lambda/backup.js';
import { createLogger } from '../../src/lambda/log.js';
import { scanItems } from '../../src/dynamodb/scan.js';
import { openExport } from '../../src/backup/export-layout.js';
import {
  createTestTable,
  dynamoClient,
  dynamoEndpoint,
  streamsClient,
  uniqueName,
} from '../harness/dynamodb.js';
import { captureChanges, toLambdaEvent, type StreamCapture } from '../harness/stream-capture.js';
import { runCliCapture } from '../harness/cli.js';
import { STORE_BACKENDS } from '../harness/backup-stores.js';
import { prototypeNamed } from '../harness/table-items.js';

const quiet = createLogger({ level: 'error', write: () => {} });
const metrics = (): void => {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every item of a table, sorted by canonical key, for exact comparison. */
async function tableState(client: DynamoDBClient, table: string): Promise<Item[]> {
  const items: Item[] = [];
  for await (const item of scanItems(client, { table, consistentRead: true })) items.push(item);
  const key = (i: Item) => canonicalKey({ pk: i.pk as never, sk: i.sk as never });
  return items.sort((a, b) => (key(a) < key(b) ? -1 : 1));
}

/**
 * Same items, numbers by value and sets unordered. DynamoDB Local stores a number-set member written
 * by UpdateItem in another textual form than its stream record carries ('1E-125' vs '0.000...1'), so
 * the live table and the log legitimately differ in text there; exact bytes are checked separately.
 */
function assertSameState(actual: Item[], expected: Item[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: item count`);
  actual.forEach((item, i) =>
    assert.ok(
      itemsEqual(item, expected[i]),
      `${label}: item ${i} differs: ${JSON.stringify(toDynamoJson(item))} vs ${JSON.stringify(toDynamoJson(expected[i] as Item))}`,
    ),
  );
}

const BIG = '-12345678901234567890123456789012345678';
const TINY =
  '0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001';

for (const backend of STORE_BACKENDS) {
  describe(`point-in-time restore on ${backend.name}`, () => {
    test('restoring at each recorded moment gives exactly the state at that moment', async () => {
      const endpoint = await dynamoEndpoint();
      const client = dynamoClient(endpoint);
      const streams = streamsClient(endpoint);
      const table = await createTestTable(client, {
        stream: 'NEW_AND_OLD_IMAGES',
        hash: { name: 'pk', type: 'S' },
        range: { name: 'sk', type: 'N' },
      });
      const host = new URL(endpoint).host;
      const { url, store: root, env: storeEnv } = await backend.root();
      const env = { ...process.env, ...storeEnv };
      const logUrl = `${url}/${table}`;
      const key = { pk: { S: 'k' }, sk: { N: '1' } };

      // A table that already holds data when the log starts: the backfill seeds the base snapshot.
      const captured: _Record[] = [];
      let capture: StreamCapture | undefined;
      const step = async (expected: number, act: () => Promise<void>) => {
        // DynamoDB Local truncates ApproximateCreationDateTime to the minute; AWS gives (Lambda)
        // whole seconds. Each record is stamped with the second its write was sent, as AWS would,
        // and steps are more than a second apart, so every recorded moment is distinguishable.
        const sentAt = Date.now();
        capture = await captureChanges(client, streams, table, expected, act);
        for (const r of capture.records)
          if (r.dynamodb) r.dynamodb.ApproximateCreationDateTime = new Date(Math.floor(sentAt / 1000) * 1000);
        captured.push(...capture.records);
        const moment = Date.now();
        const state = await tableState(client, table);
        await sleep(1100);
        return { moment, state };
      };
      const seeded = await step(1, async () => {
        await client.send(
          new PutItemCommand({
            TableName: table,
            Item: {
              pk: { S: 'base' },
              sk: { N: '0' },
              big: { N: BIG },
              tiny: { N: TINY },
              bin: { B: new Uint8Array([0, 1, 254, 255]) },
              ...prototypeNamed('base'),
            },
          }),
        );
      });
      const backfill = await runCliCapture(['incremental-backfill', `${host}/${table}`, logUrl, '--json'], {
        env,
      });
      assert.equal(backfill.code, 0, backfill.stderr);
      const coverageStart = (JSON.parse(backfill.stdout) as { snapshot: { completedAt: number } }).snapshot
        .completedAt;
      await sleep(1100);

      const moments = [seeded];
      moments.push(
        await step(2, async () => {
          await client.send(
            new PutItemCommand({
              TableName: table,
              Item: { ...key, v: { S: 'v1' }, ss: { SS: ['a', 'b'] } },
            }),
          );
          await client.send(
            new PutItemCommand({
              TableName: table,
              Item: {
                pk: { S: 'other' },
                sk: { N: '2' },
                bs: { BS: [new Uint8Array([1]), new Uint8Array([2])] },
              },
            }),
          );
        }),
      );
      moments.push(
        await step(1, async () => {
          await client.send(
            new UpdateItemCommand({
              TableName: table,
              Key: key,
              UpdateExpression: 'SET v = :v, n = :n',
              ExpressionAttributeValues: { ':v': { S: 'v2' }, ':n': { NS: [BIG, '1', TINY] } },
            }),
          );
        }),
      );
      moments.push(
        await step(1, () =>
          client.send(new DeleteItemCommand({ TableName: table, Key: key })).then(() => {}),
        ),
      );
      moments.push(
        await step(1, async () => {
          await client.send(
            new PutItemCommand({
              TableName: table,
              Item: {
                ...key,
                v: { S: 'v3' },
                m: { M: { l: { L: [{ NULL: true }, { S: '' }] }, ...prototypeNamed('v3') } },
                ...prototypeNamed('v3'),
              },
            }),
          );
        }),
      );
      assert.deepEqual(
        moments.map((m) => m.state.length),
        [1, 3, 3, 2, 3],
      );

      // The backup handler logs everything the stream holds, in two Lambda batches.
      const handler = createBackupHandler(
        { bucket: 'unused', prefix: '', logLevel: 'error' },
        { store: root, logger: quiet, metrics },
      );
      const event = toLambdaEvent(capture as StreamCapture, captured);
      assert.deepEqual(await handler({ Records: event.Records.slice(0, 3) }), { batchItemFailures: [] });
      assert.deepEqual(await handler({ Records: event.Records.slice(3) }), { batchItemFailures: [] });

      for (const [i, m] of moments.entries()) {
        if (i === 0) continue; // before the backfill finished: outside the log's coverage
        const target = uniqueName('pitr');
        const r = await runCliCapture(
          ['restore', logUrl, `${host}/${target}`, '--at', String(m.moment), '--create', '--json'],
          { env },
        );
        assert.equal(r.code, 0, r.stderr);
        assertSameState(await tableState(client, target), m.state, `state at moment ${i}`);
      }

      // ISO time works too, and a time before the coverage is a clear error that creates nothing.
      const iso = new Date(moments[4]!.moment).toISOString();
      const t2 = uniqueName('pitr');
      assert.equal(
        (await runCliCapture(['restore', logUrl, `${host}/${t2}`, '--at', iso, '--create'], { env })).code,
        0,
      );
      assertSameState(await tableState(client, t2), moments[4]!.state, 'ISO time');
      const early = uniqueName('pitr');
      const before = await runCliCapture(
        ['restore', logUrl, `${host}/${early}`, '--at', String(coverageStart - 1), '--create'],
        { env },
      );
      assert.equal(before.code, 2);
      assert.match(before.stderr, /is before the coverage of .* which starts at/);
      assert.doesNotMatch(before.stderr, /\n\s+at /);
      assert.equal((await runCliCapture(['describe', `${host}/${early}`], { env })).code, 2);
      const bad = await runCliCapture(
        ['restore', logUrl, `${host}/${early}`, '--at', 'yesterday', '--create'],
        { env },
      );
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--at must be an ISO 8601 time/);

      // A snapshot compacted at moment 3 restores to that state byte for byte (numbers, binary, sets).
      const snap = `${url}/snapshots-of-${table}`;
      const compact = await runCliCapture(
        ['incremental-snapshot', logUrl, snap, '--at', String(moments[2]!.moment), '--json'],
        { env },
      );
      assert.equal(compact.code, 0, compact.stderr);
      assert.equal((JSON.parse(compact.stdout) as { items: number }).items, 3);
      const fromSnap = uniqueName('pitr');
      const r = await runCliCapture(['restore', snap, `${host}/${fromSnap}`, '--create'], { env });
      assert.equal(r.code, 0, r.stderr);
      const restored = await tableState(client, fromSnap);
      assertSameState(restored, moments[2]!.state, 'snapshot at moment 2');
      // Byte for byte: the snapshot holds exactly the images the stream carried...
      const image = (pk: string, seq: number) =>
        captured.filter((c) => c.dynamodb?.Keys?.pk?.S === pk)[seq]?.dynamodb?.NewImage as Item;
      const snapStore = root.at(`snapshots-of-${table}`);
      const info = JSON.parse((await snapStore.get('snapshot.json')).toString('utf8')) as {
        exportFolder: string;
      };
      const snapItems: Item[] = [];
      for await (const it of (await openExport(snapStore.at(info.exportFolder))).items()) snapItems.push(it);
      const find = (items: Item[], pk: string) => items.find((it) => it.pk && 'S' in it.pk && it.pk.S === pk);
      assert.deepEqual(find(snapItems, 'k'), image('k', 1));
      assert.deepEqual(find(snapItems, 'base'), image('base', 0));
      assert.deepEqual(find(snapItems, 'other'), image('other', 0));
      // ...and the restored table gives back the scalars' exact text (DynamoDB Local re-formats set
      // members on read, so sets are compared by value above).
      assert.deepEqual(find(restored, 'base'), image('base', 0));
      assert.deepEqual(find(restored, 'other'), image('other', 0));

      // A compaction written into the log's snapshots/ becomes the base of later restores.
      const intoLog = await runCliCapture(
        ['incremental-snapshot', logUrl, `${logUrl}/snapshots/compacted`, '--at', String(moments[3]!.moment)],
        { env },
      );
      assert.equal(intoLog.code, 0, intoLog.stderr);
      const t4 = uniqueName('pitr');
      const fromBase = await runCliCapture(
        ['restore', logUrl, `${host}/${t4}`, '--at', String(moments[4]!.moment), '--create', '--json'],
        { env },
      );
      assert.equal(fromBase.code, 0, fromBase.stderr);
      assert.match((JSON.parse(fromBase.stdout) as { source: string }).source, /base compacted/);
      assertSameState(await tableState(client, t4), moments[4]!.state, 'from the compacted base');
    });
  });
}
