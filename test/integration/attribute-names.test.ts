/**
 * Attribute names are data: `__proto__`, `constructor`, `toString` and `hasOwnProperty` (names of
 * Object.prototype members, all legal in DynamoDB) survive every path: at the top level, nested in
 * maps, and as the names of the key attributes themselves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  CreateTableCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { canonicalKey, keyOf } from '../../src/core/canonical-key.js';
import { fromDynamoJson, toDynamoJson } from '../../src/core/ddb-json.js';
import { itemsEqual } from '../../src/core/equality.js';
import { InvalidDataError } from '../../src/core/errors.js';
import type { Item, KeySchema } from '../../src/core/types.js';
import { backupTable } from '../../src/backup/full-backup.js';
import { DataFileWriter } from '../../src/backup/export-layout.js';
import { recordHistory } from '../../src/backup/history.js';
import { parseServiceLocation } from '../../src/core/location.js';
import { createDynamoClient } from '../../src/dynamodb/client.js';
import { createStreamsClient } from '../../src/streams/client.js';
import { LOCAL_CREDENTIALS } from '../../src/embedded/dynamodb-local.js';
import { readReplicateConfig } from '../../src/lambda/config.js';
import { createBackupHandler } from '../../src/lambda/backup.js';
import { createLogger } from '../../src/lambda/log.js';
import { createReplicateHandler } from '../../src/lambda/replicate.js';
import { FileCheckpointStore } from '../../src/replicate/checkpoint.js';
import { StreamRunner } from '../../src/replicate/runner.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { runCliCapture } from '../harness/cli.js';
import {
  createTestTable,
  dynamoClient,
  dynamoEndpoint,
  streamsClient,
  uniqueName,
} from '../harness/dynamodb.js';
import { captureChanges, readStream, streamArnOf, toLambdaEvent } from '../harness/stream-capture.js';
import { prototypeNamed, scanAll } from '../harness/table-items.js';

/** The key attributes themselves are named `constructor` (S) and `__proto__` (N). */
const SCHEMA: KeySchema = {
  hash: { name: 'constructor', type: 'S' },
  range: { name: '__proto__', type: 'N' },
};
const TABLE_SPEC = { hash: SCHEMA.hash, range: SCHEMA.range as NonNullable<KeySchema['range']> };
const quiet = createLogger({ level: 'error', write: () => {} });

/** Item `i`: Object.prototype names at the top level and two maps deep, under its own key. */
function item(i: number, tag: string | number = i): Item {
  return {
    ...prototypeNamed(tag),
    ['constructor']: { S: `k${i}` },
    ['__proto__']: { N: String(i) },
    nested: { M: prototypeNamed(`${tag} inner`) },
  };
}

const ITEMS = [0, 1, 2, 3].map((i) => item(i));

function sortByKey(items: readonly Item[]): Item[] {
  const key = (x: Item) => canonicalKey(keyOf(x, SCHEMA));
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** `table` holds exactly `expected` (by value), every Object.prototype name present as its own attribute. */
async function assertHolds(client: DynamoDBClient, table: string, expected: readonly Item[]): Promise<void> {
  const got = sortByKey(await scanAll(client, table));
  const want = sortByKey(expected);
  assert.equal(got.length, want.length, `${table}: item count`);
  got.forEach((x, i) => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty'])
      assert.ok(Object.hasOwn(x, name), `${table}: item ${i} lost attribute ${name}`);
    assert.ok(
      itemsEqual(x, want[i]),
      `${table}: item ${i} differs: ${JSON.stringify(toDynamoJson(x))} vs ${JSON.stringify(toDynamoJson(want[i] as Item))}`,
    );
  });
}

async function sourceTable(client: DynamoDBClient, stream = false): Promise<string> {
  return createTestTable(client, { ...TABLE_SPEC, ...(stream ? { stream: 'NEW_AND_OLD_IMAGES' } : {}) });
}

/** A table keyed by SCHEMA holding ITEMS. */
async function loadedTable() {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await sourceTable(client);
  await load(client, source, ITEMS);
  return { endpoint, client, source };
}

/** A source table with a stream in us-east-1 and a replica in eu-west-1, both keyed by SCHEMA. */
async function streamPair() {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, 'us-east-1');
  const replicaClient = dynamoClient(endpoint, 'eu-west-1');
  const table = await sourceTable(source, true);
  const replica = await sourceTable(replicaClient);
  return { endpoint, source, replicaClient, table, replica };
}

async function load(client: DynamoDBClient, table: string, items: readonly Item[]): Promise<void> {
  for (const x of items) await client.send(new PutItemCommand({ TableName: table, Item: x as never }));
}

test('the SDK loses a __proto__ value on reads; the clients the project creates give it back', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await sourceTable(client, true);
  const x = item(7);
  const cap = await captureChanges(client, streamsClient(endpoint), table, 1, () => load(client, table, [x]));
  const key = keyOf(x, SCHEMA);
  // What @aws-sdk/client-dynamodb 3.1169 gives without help: the attribute is there, its value is not.
  const plain = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  const bare = (await plain.send(new GetItemCommand({ TableName: table, Key: key as never }))).Item ?? {};
  assert.ok(Object.hasOwn(bare, '__proto__'));
  assert.equal(bare.__proto__, undefined);
  plain.destroy();
  // With the middleware (dynamodb/attribute-names.ts): GetItem and GetRecords, top level and nested.
  const got = (await client.send(new GetItemCommand({ TableName: table, Key: key as never }))).Item as Item;
  assert.deepEqual(got['__proto__'], { N: '7' });
  assert.ok(itemsEqual(got, x));
  const image = cap.records[0]?.dynamodb?.NewImage as Item;
  assert.ok(itemsEqual(image, x));
  assert.deepEqual((image['toString'] as unknown as { M: Item }).M['__proto__'], {
    M: { ['constructor']: { S: 'nested 7' } },
  });
  client.destroy();
});

test('scan, export, import and copy keep every Object.prototype name', async () => {
  const { endpoint, client, source } = await loadedTable();
  const loc = (t: string) => `${endpoint}/${t}?region=us-east-1`;

  const scanned = await runCliCapture(['scan', loc(source)]);
  assert.equal(scanned.code, 0, scanned.stderr);
  const lines = scanned.stdout.trim().split('\n');
  assert.equal(lines.length, ITEMS.length);
  const fromScan = sortByKey(lines.map((l) => fromDynamoJson(JSON.parse(l))));
  sortByKey(ITEMS).forEach((x, i) => assert.ok(itemsEqual(fromScan[i], x), `scan line ${i}`));

  const dir = await mkdtemp(path.join(tmpdir(), 'proto-names-'));
  const file = path.join(dir, 'items.ndjson');
  const exported = await runCliCapture(['export', loc(source), file]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(await readFile(file, 'utf8'), /"__proto__":\{"S":"proto 0 inner"\}/);
  const imported = uniqueName('imported');
  const r = await runCliCapture(['import', file, loc(imported), '--create', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).items, ITEMS.length);
  await assertHolds(client, imported, ITEMS);

  // Item lines written by hand (after the export's header): "__proto__" as a name, top level and in a map.
  const handWritten = path.join(dir, 'hand.ndjson');
  const line =
    '{"constructor":{"S":"hand"},"__proto__":{"N":"9"},"toString":{"M":{"__proto__":{"S":"x"}}},' +
    '"hasOwnProperty":{"BOOL":false}}';
  const header = (await readFile(file, 'utf8')).split('\n')[0] as string;
  await writeFile(handWritten, `${header}\n${line}\n`);
  assert.equal((await runCliCapture(['import', handWritten, loc(imported)])).code, 0);
  await assertHolds(client, imported, [...ITEMS, fromDynamoJson(JSON.parse(line))]);

  const copied = uniqueName('copied');
  const c = await runCliCapture(['copy', loc(source), loc(copied), '--create']);
  assert.equal(c.code, 0, c.stderr);
  await assertHolds(client, copied, ITEMS);
  client.destroy();
});

test('diff-tables: equal tables are equal; a difference in __proto__ or constructor is found and repaired', async () => {
  const endpoint = await dynamoEndpoint();
  const primaryClient = dynamoClient(endpoint, 'us-east-1');
  const replicaClient = dynamoClient(endpoint, 'eu-west-1');
  const primary = await createTestTable(primaryClient);
  const replica = await createTestTable(replicaClient);
  const plain = (i: number): Item => ({
    id: { S: `k${i}` },
    ...prototypeNamed(i),
    nested: { M: prototypeNamed(i) },
  });
  const items = [0, 1, 2, 3].map(plain);
  await load(primaryClient, primary, items);
  await load(replicaClient, replica, items);
  const p = `${endpoint}/${primary}?region=us-east-1`;
  const r = `${endpoint}/${replica}?region=eu-west-1`;

  const same = await runCliCapture(['diff-tables', p, r, '--json']);
  assert.equal(same.code, 0, same.stdout + same.stderr);
  assert.deepEqual(JSON.parse(same.stdout).discrepancies, {
    missing: 0,
    different: 0,
    extraneous: 0,
    total: 0,
  });

  // Item 1 differs only in its top-level __proto__, item 2 only in nested.__proto__, item 3 lacks
  // constructor (which every object "has" when read carelessly).
  const { ['constructor']: _dropped, ...noConstructor } = plain(3);
  await load(replicaClient, replica, [
    { ...plain(1), ['__proto__']: { S: 'other' } },
    { ...plain(2), nested: { M: { ...prototypeNamed(2), ['__proto__']: { S: 'other' } } } },
    noConstructor,
  ]);
  const found = await runCliCapture(['diff-tables', p, r, '--json']);
  assert.equal(found.code, 1, found.stdout + found.stderr);
  assert.deepEqual(JSON.parse(found.stdout).discrepancies, {
    missing: 0,
    different: 3,
    extraneous: 0,
    total: 3,
  });

  const repaired = await runCliCapture(['diff-tables', p, r, '--repair', '--json']);
  assert.equal(repaired.code, 1, repaired.stderr);
  const fixed = await scanAll(replicaClient, replica);
  assert.equal(fixed.length, 4);
  const byKey = new Map(fixed.map((x) => [canonicalKey({ id: x.id as never }), x]));
  for (const x of items) assert.ok(itemsEqual(byKey.get(canonicalKey({ id: x.id as never })), x));
  assert.equal((await runCliCapture(['diff-tables', p, r])).code, 0);
  primaryClient.destroy();
  replicaClient.destroy();
});

test('diff-record and replicate-record take a key whose attributes are named constructor and __proto__', async () => {
  const { endpoint, client, source } = await loadedTable();
  const target = await sourceTable(client);
  const p = `${endpoint}/${source}`;
  const r = `${endpoint}/${target}`;
  const key = '{"constructor":"k1","__proto__":1}';
  const missing = await runCliCapture(['diff-record', p, r, key, '--json']);
  assert.equal(missing.code, 1, missing.stderr);
  const copied = await runCliCapture([
    'replicate-record',
    p,
    r,
    '{"constructor":{"S":"k1"},"__proto__":{"N":"1"}}',
  ]);
  assert.equal(copied.code, 0, copied.stderr);
  assert.equal((await runCliCapture(['diff-record', p, r, key])).code, 0);
  await assertHolds(client, target, [item(1)]);
  client.destroy();
});

test('backup-table then restore gives back every Object.prototype name', async () => {
  const { endpoint, client, source } = await loadedTable();
  const dir = await mkdtemp(path.join(tmpdir(), 'proto-backup-'));
  const backup = await runCliCapture([
    'backup-table',
    `${endpoint}/${source}`,
    dir,
    '--jobid',
    'j1',
    '--json',
  ]);
  assert.equal(backup.code, 0, backup.stderr);
  assert.equal(JSON.parse(backup.stdout).items, ITEMS.length);
  const target = uniqueName('restored');
  const restore = await runCliCapture(['restore', dir, `${endpoint}/${target}`, '--create', '--json']);
  assert.equal(restore.code, 0, restore.stderr);
  assert.equal(JSON.parse(restore.stdout).written, ITEMS.length);
  await assertHolds(client, target, ITEMS);
  client.destroy();
});

test('a failure on the first page of a backup is a clear error, never an unhandled stream error', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'proto-abort-'));
  // The data file opens, then the page fails before the store has attached its pipeline.
  const writer = new DataFileWriter(openObjectStore(dir), { namePrefix: 'part' });
  await assert.rejects(writer.write([{ id: null as never }]), InvalidDataError);
  await writer.abort();

  // Fault injection DynamoDB cannot produce: a Scan page holding a value that is not an attribute value.
  const { client, source: table } = await loadedTable();
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const out = result.output as { Items?: Record<string, unknown>[] };
      if (out.Items?.[0]) out.Items[0].broken = null;
      return result;
    },
    { step: 'initialize', name: 'corruptScanPage' },
  );
  await assert.rejects(
    backupTable(client, openObjectStore(dir), { table, jobId: 'j1', parallel: 1 }),
    (e: unknown) => e instanceof InvalidDataError && e.userError && /not an attribute value/.test(e.message),
  );
  client.destroy();
});

test('Lambda replicate and backup handlers keep every Object.prototype name', async () => {
  const { endpoint, source, replicaClient, table, replica } = await streamPair();
  const cap = await captureChanges(source, streamsClient(endpoint), table, ITEMS.length + 2, async () => {
    await load(source, table, ITEMS);
    await load(source, table, [item(1, 'again')]);
    await source.send(new DeleteItemCommand({ TableName: table, Key: keyOf(item(3), SCHEMA) as never }));
  });
  const event = toLambdaEvent(cap);
  const expected = [item(0), item(1, 'again'), item(2)];

  const config = readReplicateConfig({
    ReplicaTable: replica,
    ReplicaRegion: 'eu-west-1',
    ReplicaEndpoint: endpoint,
    ReplicaAccessKeyId: 'local',
    ReplicaSecretAccessKey: 'local',
  });
  const replicate = createReplicateHandler(config, { logger: quiet, metrics: () => {} });
  assert.deepEqual(await replicate(event, { awsRequestId: 'r1' }), { batchItemFailures: [] });
  await assertHolds(replicaClient, replica, expected);

  const root = openObjectStore(await mkdtemp(path.join(tmpdir(), 'proto-log-')));
  const backup = createBackupHandler(
    { bucket: 'unused', prefix: '', logLevel: 'error' },
    { store: root, logger: quiet, metrics: () => {} },
  );
  assert.deepEqual(await backup(event), { batchItemFailures: [] });
  const history = await recordHistory(root.at(table), keyOf(item(1), SCHEMA));
  assert.equal(history.length, 2);
  assert.ok(itemsEqual(history[0]?.image, item(1)));
  assert.ok(itemsEqual(history[1]?.image, item(1, 'again')));
  assert.ok(itemsEqual(history[1]?.oldImage, item(1)));
  assert.deepEqual(history[1]?.image?.['__proto__'], { N: '1' });
  source.destroy();
  replicaClient.destroy();
});

test('the stream runner keeps every Object.prototype name', async () => {
  const { endpoint, source, replicaClient, table, replica } = await streamPair();
  await load(source, table, ITEMS);
  await load(source, table, [item(2, 'again')]);
  const dir = await mkdtemp(path.join(tmpdir(), 'proto-runner-'));
  // The runner reads and writes through the clients the CLI creates (not the test harness's).
  const at = (region: string) => parseServiceLocation(`${endpoint}?region=${region}`);
  const summary = await new StreamRunner({
    streams: createStreamsClient(at('us-east-1')),
    streamArn: await streamArnOf(source, table),
    apply: { replicas: [{ client: createDynamoClient(at('eu-west-1')), table: replica }], keySchema: SCHEMA },
    checkpoint: new FileCheckpointStore(path.join(dir, 'checkpoint.json')),
    from: 'trim-horizon',
    stopWhenIdleMs: 800,
    maxBatchAttempts: 3,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
  }).run();
  assert.equal(summary.records, ITEMS.length + 1);
  assert.equal(summary.failedAttempts, 0);
  await assertHolds(replicaClient, replica, [item(0), item(1), item(2, 'again'), item(3)]);
  source.destroy();
  replicaClient.destroy();
});

test('a record the replica can never accept stops the runner with an error naming it, without retrying', async () => {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, 'us-east-1');
  const replicaClient = dynamoClient(endpoint, 'eu-west-1');
  const table = await createTestTable(source, { stream: 'NEW_AND_OLD_IMAGES' });
  // The replica has an index on `g` as a number: DynamoDB refuses any item whose `g` is a string.
  const replica = uniqueName('refusing');
  await replicaClient.send(
    new CreateTableCommand({
      TableName: replica,
      AttributeDefinitions: [
        { AttributeName: 'id', AttributeType: 'S' },
        { AttributeName: 'g', AttributeType: 'N' },
      ],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: [
        {
          IndexName: 'by-g',
          KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    }),
  );
  await waitUntilTableExists({ client: replicaClient, maxWaitTime: 30 }, { TableName: replica });
  await load(source, table, [
    { id: { S: 'a' }, g: { N: '1' } },
    { id: { S: 'bad' }, g: { S: 'not a number' } },
    { id: { S: 'c' } },
  ]);
  const records = (await readStream(source, streamsClient(endpoint), table, 3)).records;
  const seq = (i: number) => records[i]?.dynamodb?.SequenceNumber as string;
  const dir = await mkdtemp(path.join(tmpdir(), 'proto-refused-'));
  const checkpoint = path.join(dir, 'checkpoint.json');
  const events: Record<string, unknown>[] = [];
  const run = new StreamRunner({
    streams: streamsClient(endpoint, 'us-east-1'),
    streamArn: await streamArnOf(source, table),
    apply: {
      replicas: [{ client: replicaClient, table: replica }],
      keySchema: { hash: { name: 'id', type: 'S' } },
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
    },
    checkpoint: new FileCheckpointStore(checkpoint),
    from: 'trim-horizon',
    stopWhenIdleMs: 800,
    // Bounded so that a runner retrying the refused record fails this test instead of hanging it.
    maxBatchAttempts: 5,
    retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 5 },
    log: (e) => events.push(e),
  }).run();
  await assert.rejects(
    run,
    (e: unknown) =>
      e instanceof InvalidDataError &&
      e.message.includes(
        `the record at sequence number ${seq(1)} (key {"id":{"S":"bad"}}) can never be applied`,
      ) &&
      /DynamoDB rejected/.test(e.message),
  );
  assert.equal(events.filter((e) => e.event === 'batch-partially-failed').length, 1);
  // Everything before the refused record is checkpointed, nothing from it on.
  const state = JSON.parse(await readFile(checkpoint, 'utf8')) as {
    shards: Record<string, { sequenceNumber?: string }>;
  };
  assert.deepEqual(
    Object.values(state.shards).map((c) => c.sequenceNumber),
    [seq(0)],
  );
  // The command resumes from that checkpoint, meets the same record and exits 2 naming it.
  const cli = await runCliCapture([
    'replicate',
    `${endpoint}/${table}?region=us-east-1`,
    `${endpoint}/${replica}?region=eu-west-1`,
    '--checkpoint',
    checkpoint,
    '--stop-when-idle',
    '800ms',
  ]);
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(
    cli.stderr,
    /^error: .*sequence number \d+ \(key \{"id":\{"S":"bad"\}\}\) can never be applied/m,
  );
  assert.doesNotMatch(cli.stderr, /\n\s+at /, 'no stack trace');
  source.destroy();
  replicaClient.destroy();
});
