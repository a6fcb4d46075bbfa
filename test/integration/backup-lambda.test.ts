import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { ConfigError, InvalidDataError } from '../../src/core/errors.js';
import { BatchFailedError } from '../../src/lambda/batch-response.js';
import { createBackupHandler, readBackupConfig, type BackupConfig } from '../../src/lambda/backup.js';
import { createLogger } from '../../src/lambda/log.js';
import { recordHistory } from '../../src/backup/history.js';
import { readChanges } from '../../src/backup/change-log.js';
import type { LambdaStreamEvent } from '../../src/core/change-sources.js';
import { createTestTable, dynamoClient, dynamoEndpoint, streamsClient } from '../harness/dynamodb.js';
import { captureChanges, toLambdaEvent } from '../harness/stream-capture.js';
import { countingStore, failingStore, listKeys, STORE_BACKENDS } from '../harness/backup-stores.js';

const CONFIG: BackupConfig = { bucket: 'unused', prefix: '', logLevel: 'error' };
const quiet = createLogger({ level: 'error', write: () => {} });

/** Several changes to one key (and one to another), captured from DynamoDB Local's stream. */
async function capturedEvent(
  view: 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY' = 'NEW_AND_OLD_IMAGES',
): Promise<{ event: LambdaStreamEvent; table: string }> {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client, { stream: view, range: { name: 'sk', type: 'N' } });
  const key = { id: { S: 'k' }, sk: { N: '1' } };
  const cap = await captureChanges(client, streamsClient(endpoint), table, 6, async () => {
    await client.send(new PutItemCommand({ TableName: table, Item: { ...key, v: { N: '1' } } }));
    for (const v of ['2', '3'])
      await client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key,
          UpdateExpression: 'SET v = :v',
          ExpressionAttributeValues: { ':v': { N: v } },
        }),
      );
    await client.send(new PutItemCommand({ TableName: table, Item: { id: { S: 'other' }, sk: { N: '2' } } }));
    await client.send(new DeleteItemCommand({ TableName: table, Key: key }));
    await client.send(new PutItemCommand({ TableName: table, Item: { ...key, v: { N: '4' } } }));
  });
  return { event: toLambdaEvent(cap), table };
}

describe('backup handler configuration', () => {
  test('BackupBucket is required and named; bad values name their variable', () => {
    assert.throws(
      () => readBackupConfig({}),
      (e: unknown) => e instanceof ConfigError && /BackupBucket is not set/.test(e.message),
    );
    assert.throws(
      () => readBackupConfig({ BackupBucket: 's3://b' }),
      /BackupBucket must be an S3 bucket name/,
    );
    assert.throws(
      () => readBackupConfig({ BackupBucket: 'bucket', BackupRegion: 'mars' }),
      /BackupRegion must be an AWS region/,
    );
    assert.throws(
      () => readBackupConfig({ BackupBucket: 'bucket', TurnoverRole: 'AFTER' }),
      /TurnoverAt is not set/,
    );
    assert.throws(
      () => readBackupConfig({ BackupBucket: 'bucket', TurnoverRole: 'AFTER', TurnoverAt: '1.5e12' }),
      /TurnoverAt must be a whole number of epoch milliseconds of a date from 2012-01-01 to 2100-01-01, got "1.5e12"$/,
    );
    assert.deepEqual(
      readBackupConfig({
        BackupBucket: 'my-bucket',
        BackupPrefix: '/backups/',
        BackupRegion: 'eu-west-1',
        TurnoverRole: 'before',
        TurnoverAt: '1700000000000',
      }),
      {
        bucket: 'my-bucket',
        prefix: 'backups',
        region: 'eu-west-1',
        turnover: { role: 'BEFORE', at: 1700000000000 },
        logLevel: 'info',
      },
    );
  });
});

for (const backend of STORE_BACKENDS) {
  describe(`backup handler on ${backend.name}`, () => {
    test('a batch with several changes to one key records all of them in order, once', async () => {
      const { event, table } = await capturedEvent();
      const { store: root } = await backend.root();
      const store = countingStore(root);
      const handler = createBackupHandler(CONFIG, { store, logger: quiet });
      assert.deepEqual(await handler({ Records: [] }), { batchItemFailures: [] });
      assert.deepEqual(await handler(event), { batchItemFailures: [] });
      // One batch, one shard, one hour: one segment, plus the log's identity and its stream record,
      // written once per log.
      assert.equal(store.counter.puts, 3);
      const log = root.at(table);
      const objects = await listKeys(log);
      assert.equal(objects.filter((k) => k.startsWith('changes/')).length, 1);
      assert.deepEqual(JSON.parse((await log.get('log.json')).toString('utf8')), {
        format: 'dynamodb-replicator/log-identity',
        version: 1,
        table,
        keyAttributes: [
          { name: 'id', type: 'S' },
          { name: 'sk', type: 'N' },
        ],
      });
      const arn = event.Records[0]?.eventSourceARN as string;
      assert.deepEqual(
        objects.filter((k) => k.startsWith('streams/')),
        [`streams/${arn.slice(arn.indexOf('/stream/') + 8).replace(/[^A-Za-z0-9._-]/g, '-')}.json`],
      );
      await handler(event);
      assert.equal(store.counter.puts, 4); // a later batch: one PUT, no identity check written again
      // Lambda re-delivers the whole batch, then a later cut of it: the history holds each change once.
      assert.deepEqual(await listKeys(log), objects);
      await handler({ Records: event.Records.slice(2) });
      const history = await recordHistory(log, { id: { S: 'k' }, sk: { N: '1' } });
      assert.deepEqual(
        history.map((v) => [v.eventName, v.image?.v]),
        [
          ['INSERT', { N: '1' }],
          ['MODIFY', { N: '2' }],
          ['MODIFY', { N: '3' }],
          ['REMOVE', undefined],
          ['INSERT', { N: '4' }],
        ],
      );
      assert.deepEqual(history[1]?.oldImage?.v, { N: '1' });
      assert.deepEqual(
        history.map((v) => v.sequenceNumber),
        [0, 1, 2, 4, 5].map((i) => event.Records[i]?.dynamodb?.SequenceNumber),
      );
      // The log is filed under the table name, nothing else was written.
      assert.deepEqual(
        (await listKeys(root)).every((k) =>
          new RegExp(`^${table}/(changes/|streams/[^/]+\\.json$|log\\.json$)`).test(k),
        ),
        true,
      );
    });

    test('the cut-over filter keeps only its side of TurnoverAt', async () => {
      const { event, table } = await capturedEvent();
      const { store: root } = await backend.root();
      const at = (event.Records[0]?.dynamodb?.ApproximateCreationDateTime ?? 0) * 1000;
      const before = createBackupHandler(
        { ...CONFIG, turnover: { role: 'BEFORE', at } },
        { store: root, logger: quiet },
      );
      assert.deepEqual(await before(event), { batchItemFailures: [] });
      assert.deepEqual(await listKeys(root), []);
      const after = createBackupHandler(
        { ...CONFIG, turnover: { role: 'AFTER', at } },
        { store: root, logger: quiet },
      );
      await after(event);
      let n = 0;
      for await (const _ of readChanges(root.at(table))) n++;
      assert.equal(n, 6);
    });

    test('a KEYS_ONLY stream and a malformed event are refused before anything is written', async () => {
      const { event } = await capturedEvent('KEYS_ONLY');
      const { store: root } = await backend.root();
      const handler = createBackupHandler(CONFIG, { store: root, logger: quiet });
      await assert.rejects(
        handler(event),
        (e: unknown) => e instanceof InvalidDataError && /NEW_IMAGE or NEW_AND_OLD_IMAGES/.test(e.message),
      );
      await assert.rejects(handler({ Records: [{ eventName: 'INSERT' }] }), InvalidDataError);
      await assert.rejects(handler({ nope: 1 }), InvalidDataError);
      assert.deepEqual(await listKeys(root), []);
    });
  });
}

describe('backup handler partial failures', () => {
  test('a failed segment is reported by its first sequence number; a failed batch throws', async () => {
    const { event, table } = await capturedEvent();
    // Records 0-2 at 09:59:59, 3-5 at 10:00:00 (creation times rewritten: DynamoDB Local gives all of
    // them the same minute), so the batch becomes two segments, one per hour folder.
    const hour = Date.UTC(2026, 0, 1, 10) / 1000;
    event.Records.forEach((r, i) => {
      if (r.dynamodb) r.dynamodb.ApproximateCreationDateTime = i < 3 ? hour - 1 : hour;
    });
    const { store: root } = await STORE_BACKENDS[0]!.root();
    const second = createBackupHandler(CONFIG, {
      store: failingStore(root, /\/2026\/01\/01\/10\//),
      logger: quiet,
    });
    assert.deepEqual(await second(event), {
      batchItemFailures: [{ itemIdentifier: event.Records[3]?.dynamodb?.SequenceNumber }],
    });
    // The segment of 09:59 (the other failed), the log's identity and its stream record.
    assert.equal((await listKeys(root.at(table))).filter((k) => k.startsWith('changes/')).length, 1);
    assert.equal((await listKeys(root.at(table))).length, 3);
    const all = createBackupHandler(CONFIG, { store: failingStore(root, /./), logger: quiet });
    await assert.rejects(all(event), BatchFailedError);
  });
});

describe('backup handler: one stream, in order; images DynamoDB could not hold', () => {
  test('a batch mixing two streams, or whose sequence numbers do not increase, is refused before anything is written', async () => {
    const { event } = await capturedEvent();
    const { store: root } = await STORE_BACKENDS[0]!.root();
    const handler = createBackupHandler(CONFIG, { store: root, logger: quiet, metrics: () => {} });
    const arn = event.Records[0]?.eventSourceARN as string;
    const mixed = structuredClone(event);
    (mixed.Records[4] as { eventSourceARN: string }).eventSourceARN = arn.replace('/stream/', '-b/stream/');
    await assert.rejects(handler(mixed), {
      name: 'InvalidDataError',
      message: /^the event mixes 2 event sources .*: a batch must come from one stream$/,
    });
    const swapped = structuredClone(event);
    swapped.Records = [0, 1, 3, 2, 4, 5].map((i) => event.Records[i]) as typeof event.Records;
    await assert.rejects(handler(swapped), {
      name: 'InvalidDataError',
      message: `stream record 3 has sequence number ${event.Records[2]?.dynamodb?.SequenceNumber}, not after record 2's ${event.Records[3]?.dynamodb?.SequenceNumber}: a batch's records must be in stream order`,
    });
    assert.deepEqual(await listKeys(root), []);
  });

  test('a record whose image nests 20,000 levels is rejected and counted; the others are logged', async () => {
    const { event, table } = await capturedEvent();
    const { store: root } = await STORE_BACKENDS[0]!.root();
    const lines: Record<string, unknown>[] = [];
    const metrics: string[] = [];
    const handler = createBackupHandler(CONFIG, {
      store: root,
      logger: createLogger({
        level: 'info',
        write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>),
      }),
      metrics: (l) => metrics.push(l),
    });
    let deep: unknown = { S: 'leaf' };
    for (let i = 0; i < 20_000; i++) deep = { L: [deep] };
    (event.Records[3]?.dynamodb?.NewImage as Record<string, unknown>).deep = deep;
    assert.deepEqual(await handler(event), { batchItemFailures: [] });
    let n = 0;
    for await (const _ of readChanges(root.at(table))) n++;
    assert.equal(n, 5);
    const rejected = lines.find((l) => l.message === 'records rejected');
    assert.equal(rejected?.rejected, 1);
    assert.deepEqual(rejected?.rejectedRecords, [
      {
        key: '{"id":{"S":"other"},"sk":{"N":"2"}}',
        sequenceNumber: event.Records[3]?.dynamodb?.SequenceNumber,
        error: `stream record 3 (eventID ${event.Records[3]?.eventID}): dynamodb.NewImage: attribute "deep" nests deeper than DynamoDB's limit of 32 levels`,
      },
    ]);
    const emf = JSON.parse(metrics[0] as string) as Record<string, unknown>;
    assert.deepEqual(
      [emf.RecordsReceived, emf.ChangesApplied, emf.FailedRecords, emf.RejectedRecords],
      [6, 5, 0, 1],
    );
  });
});
