/**
 * The verify job against DynamoDB Local and s3rver: the checks of a source, a replica and a full
 * backup count injected differences exactly (missing, different, extraneous); the Lambda handler
 * publishes them as EMF and fails (after the other checks) when a check cannot run; the loop runs
 * once per interval on a virtual clock; `replicate --verify-every` serves the counts on its metrics
 * port and prints them as `verify` events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { backupTable } from '../../src/backup/full-backup.js';
import { freePort } from '../../src/embedded/dynamodb-local.js';
import { runVerifyChecks, verifyChecks, verifyEvery, type VerifyOutcome } from '../../src/diff/verify.js';
import { createVerifyHandler } from '../../src/lambda/verify.js';
import { createLogger } from '../../src/lambda/log.js';
import { runCliCapture } from '../harness/cli.js';
import { jsonLines, waitFor } from '../harness/cli-process.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { assertValidEmf } from '../harness/emf.js';
import { STORE_BACKENDS } from '../harness/backup-stores.js';
import { scanAll } from '../harness/table-items.js';
import { putItems } from '../harness/table-load.js';
import { virtualClock } from '../harness/virtual-clock.js';

const s3 = STORE_BACKENDS.find((b) => b.name === 's3');

async function pair(options: { stream?: boolean } = {}) {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, 'us-east-1');
  const replica = dynamoClient(endpoint, 'eu-west-1');
  const sourceTable = await createTestTable(source, options.stream ? { stream: 'NEW_AND_OLD_IMAGES' } : {});
  const replicaTable = await createTestTable(replica);
  return { endpoint, source, replica, sourceTable, replicaTable };
}

const item = (id: string, v = 'same') => ({ id: { S: id }, v: { S: v } });
const ids = (n: number) => Array.from({ length: n }, (_, i) => `k${String(i).padStart(2, '0')}`);

/** Into the replica: k00 and k01 deleted, k02 changed, `extra` added (4 discrepancies). */
async function injectDifferences(replica: DynamoDBClient, table: string): Promise<void> {
  for (const id of ['k00', 'k01'])
    await replica.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: id } } }));
  await replica.send(new PutItemCommand({ TableName: table, Item: item('k02', 'changed') }));
  await replica.send(new PutItemCommand({ TableName: table, Item: item('extra') }));
}

test('checks of a replica and a full backup count injected differences exactly', async () => {
  assert.ok(s3);
  const { source, replica, sourceTable, replicaTable } = await pair();
  await putItems(
    source,
    sourceTable,
    ids(20).map((id) => item(id)),
  );
  await putItems(
    replica,
    replicaTable,
    ids(20).map((id) => item(id)),
  );
  const { store } = await s3.root();
  await backupTable(source, store, { table: sourceTable });
  const checks = () =>
    verifyChecks({
      source: { client: source, table: sourceTable, label: `src/${sourceTable}` },
      replicas: [{ client: replica, table: replicaTable, label: `rep/${replicaTable}` }],
      backup: { store, label: 'backup' },
      readCapacity: 1000,
    });
  const counts = (outcomes: VerifyOutcome[]) =>
    outcomes.map((o) => (o.ok ? { [o.label]: o.discrepancies } : { [o.label]: String(o.error) }));

  const clean = await runVerifyChecks(checks());
  assert.deepEqual(counts(clean), [
    { [`src/${sourceTable} -> rep/${replicaTable}`]: { missing: 0, different: 0, extraneous: 0, total: 0 } },
    { [`src/${sourceTable} -> backup`]: { missing: 0, different: 0, extraneous: 0, total: 0 } },
  ]);
  assert.deepEqual(clean[0]?.ok && clean[0].scanned, { primary: 20, replica: 20 });

  await injectDifferences(replica, replicaTable);
  // The source changes after the backup: one item the backup lacks, one it holds in another state.
  await source.send(new PutItemCommand({ TableName: sourceTable, Item: item('new') }));
  await source.send(new PutItemCommand({ TableName: sourceTable, Item: item('k05', 'newer') }));
  await replica.send(new PutItemCommand({ TableName: replicaTable, Item: item('new') }));
  await replica.send(new PutItemCommand({ TableName: replicaTable, Item: item('k05', 'newer') }));
  assert.deepEqual(counts(await runVerifyChecks(checks())), [
    { [`src/${sourceTable} -> rep/${replicaTable}`]: { missing: 2, different: 1, extraneous: 1, total: 4 } },
    { [`src/${sourceTable} -> backup`]: { missing: 1, different: 1, extraneous: 0, total: 2 } },
  ]);
});

test('the verify handler emits Discrepancies and VerifiedAt per check, and fails after running the others when one cannot run', async () => {
  const { endpoint, source, replica, sourceTable, replicaTable } = await pair();
  await putItems(
    source,
    sourceTable,
    ids(10).map((id) => item(id)),
  );
  await putItems(
    replica,
    replicaTable,
    ids(10).map((id) => item(id)),
  );
  await injectDifferences(replica, replicaTable);
  const lines: string[] = [];
  const replicaConfig = (table: string) => ({
    table,
    location: { kind: 'endpoint' as const, endpoint, region: 'eu-west-1' },
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    label: `eu-west-1/${table}`,
  });
  const handler = createVerifyHandler(
    {
      sourceTable,
      replicas: [replicaConfig(replicaTable), replicaConfig('no-such-table')],
      settleSeconds: 0,
      logLevel: 'error',
      metricsNamespace: 'VerifyTest',
    },
    {
      sourceClient: () => source,
      metrics: (line) => lines.push(line),
      logger: createLogger({ level: 'error', write: () => undefined }),
      now: () => Date.UTC(2026, 11, 2, 9, 0, 0),
    },
  );
  await assert.rejects(handler(), /verify: 1 of 2 check\(s\) failed: .*no-such-table/);
  assert.equal(lines.length, 1);
  const emf = JSON.parse(lines[0] as string) as Record<string, unknown>;
  assertValidEmf(emf);
  assert.deepEqual(
    { ...emf, _aws: undefined },
    {
      _aws: undefined,
      SourceTable: sourceTable,
      ReplicaTable: `eu-west-1/${replicaTable}`,
      Discrepancies: 4,
      VerifiedAt: Date.UTC(2026, 11, 2, 9, 0, 0) / 1000,
    },
  );
  assert.equal(await scanAll(replica, replicaTable).then((items) => items.length), 9);
});

test('verifyEvery runs once per interval until stopped (virtual clock)', async () => {
  const clock = virtualClock();
  const stop = new AbortController();
  const runs: number[] = [];
  await verifyEvery({
    everyMs: 60_000,
    signal: stop.signal,
    sleep: (ms, signal) => clock.sleep(ms, signal),
    run: async () => {
      runs.push(clock.now());
      if (runs.length === 3) stop.abort();
      return [];
    },
    onOutcomes: () => undefined,
  });
  assert.deepEqual(runs, [60_000, 120_000, 180_000]);
});

test('replicate --verify-every serves the exact discrepancy count on the metrics port and prints verify events', async () => {
  const { endpoint, source, replica, sourceTable, replicaTable } = await pair({ stream: true });
  await putItems(
    source,
    sourceTable,
    ids(10).map((id) => item(id)),
  );
  const dir = await mkdtemp(path.join(tmpdir(), 'verify-cli-'));
  const port = await freePort();
  const sourceLoc = `${endpoint}/${sourceTable}?region=us-east-1`;
  const replicaLoc = `${endpoint}/${replicaTable}?region=eu-west-1`;
  const run = runCliCapture([
    'replicate',
    sourceLoc,
    replicaLoc,
    '--checkpoint',
    path.join(dir, 'checkpoint.json'),
    '--verify-every',
    '1s',
    '--verify-settle',
    '0s',
    '--verify-read-budget',
    '500',
    '--metrics-port',
    String(port),
    '--json',
  ]);
  const gauge = async (): Promise<string | undefined> => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text().catch(() => '');
    return /^dynamodb_replicator_verify_discrepancies\{check="[^"]+"\} (\d+)$/m.exec(text)?.[1];
  };
  await waitFor(async () => (await scanAll(replica, replicaTable)).length === 10, 60_000, 'replication');
  await injectDifferences(replica, replicaTable);
  await waitFor(async () => (await gauge()) === '4', 60_000, 'a verify run counting 4 discrepancies');
  // Repaired by hand: the next runs count none.
  await putItems(replica, replicaTable, [item('k00'), item('k01'), item('k02')]);
  await replica.send(new DeleteItemCommand({ TableName: replicaTable, Key: { id: { S: 'extra' } } }));
  await waitFor(async () => (await gauge()) === '0', 60_000, 'a verify run counting none');
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(metrics, /^dynamodb_replicator_verified_at_seconds\{check="[^"]+"\} \d{10}$/m);
  process.emit('SIGTERM');
  const result = await run;
  assert.equal(result.code, 0, result.stderr);
  const events = jsonLines(result.stdout).filter((l) => l.event === 'verify');
  assert.ok(events.length >= 2, `${events.length} verify events`);
  for (const e of events) assert.ok(String(e.check).includes(sourceTable), String(e.check));
  assert.ok(
    events.some(
      (e) =>
        JSON.stringify(e.discrepancies) ===
        JSON.stringify({ missing: 2, different: 1, extraneous: 1, total: 4 }),
    ),
    `no run counted 2 missing, 1 different, 1 extraneous: ${JSON.stringify(events.map((e) => e.discrepancies))}`,
  );
  assert.deepEqual(events[events.length - 1]?.discrepancies, {
    missing: 0,
    different: 0,
    extraneous: 0,
    total: 0,
  });
});

test('--verify-settle without --verify-every, and a too short interval, exit 2', async () => {
  const a = await runCliCapture(['replicate', 'us-east-1/a', 'eu-west-1/a', '--verify-settle', '1s']);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /--verify-settle and --verify-read-budget need --verify-every/);
  const b = await runCliCapture(['replicate', 'us-east-1/a', 'eu-west-1/a', '--verify-every', '10ms']);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /--verify-every must be at least 1s/);
});
