/**
 * A stream gap under a change log. The runner, which also keeps a change log (--backup), meets
 * TrimmedDataAccessException — injected by the fault proxy, because DynamoDB Local keeps records
 * for 24 hours, longer than any test. The changes the stream lost are missing from the log too, so:
 * the gap is recorded in the log; `--on-gap resync` writes a new base snapshot; a restore of a moment
 * the gap leaves unknown is refused (exit 2, nothing created) instead of silently lacking changes;
 * and the latest state restores exactly, without re-applying a change logged before the gap over
 * the newer image the new base holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { listSnapshots } from '../../src/backup/point-in-time.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { runCliCapture } from '../harness/cli.js';
import { STORE_BACKENDS } from '../harness/backup-stores.js';
import { startFaultProxy } from '../harness/fault-proxy.js';
import { scanAll } from '../harness/table-items.js';
import { jsonLines } from '../harness/cli-process.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const loc = (endpoint: string, table: string) => `${endpoint}/${table}`;

/** A source with a stream behind the fault proxy, a replica, and a scratch folder. */
async function setUp(t: { after: (fn: () => Promise<void>) => void }) {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const proxy = await startFaultProxy(endpoint);
  const source = await createTestTable(client, { stream: 'NEW_AND_OLD_IMAGES' });
  const replica = await createTestTable(client);
  const dir = await mkdtemp(path.join(tmpdir(), 'gap-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  /** `replicate` through the proxy, logging to `log`, until idle. */
  const replicate = (log: string, extra: readonly string[]) =>
    runCliCapture([
      'replicate',
      loc(proxy.endpoint, source),
      loc(endpoint, replica),
      '--backup',
      log,
      '--checkpoint',
      path.join(dir, 'cp.json'),
      '--stop-when-idle',
      '1s',
      '--json',
      ...extra,
    ]);
  return { endpoint, client, proxy, source, replica, dir, replicate };
}

test('a stream gap is recorded in the change log: moments it hides are refused, the latest state is exact', async (t) => {
  const { endpoint, client, proxy, source, replicate } = await setUp(t);
  const { url, store } = await (STORE_BACKENDS[0] as (typeof STORE_BACKENDS)[number]).root();
  const put = (id: string, v: number) =>
    client.send(new PutItemCommand({ TableName: source, Item: { id: { S: id }, v: { N: String(v) } } }));
  for (let i = 0; i < 30; i++) await put(`k${i}`, i);
  const run = async (extra: string[]) => {
    const out = await replicate(url, extra);
    assert.equal(out.code, 0, out.stderr);
    return jsonLines(out.stdout);
  };
  const first = await run(['--backfill']);
  assert.deepEqual(
    first.filter((e) => e.event === 'backup-snapshot').map((e) => e.items),
    [30],
  );
  for (let i = 1; i <= 5; i++) await put(`k${i}`, 100 + i); // logged
  await run([]);
  // Lost in the gap: k1 changes again after its logged change, k6 goes, `late` comes.
  await put('k1', 200);
  await client.send(new DeleteItemCommand({ TableName: source, Key: { id: { S: 'k6' } } }));
  await put('late', 1);
  proxy.setRules([
    {
      operation: 'GetRecords',
      times: 1,
      fault: { kind: 'stream-error', error: 'TrimmedDataAccessException' },
    },
  ]);
  const third = await run(['--on-gap', 'resync']);
  assert.equal(proxy.counts['GetRecords:stream-error'], 1);
  const gaps = third.filter((e) => e.event === 'backup-gap');
  assert.equal(gaps.length, 1, JSON.stringify(third));
  const lossFrom = Number(gaps[0]?.lossFrom);
  assert.ok(
    lossFrom > 0 && lossFrom <= Date.now(),
    `loss from the last applied change time, got ${lossFrom}`,
  );
  assert.deepEqual(
    third.filter((e) => e.event === 'backup-snapshot').map((e) => e.items),
    [30],
  );

  const log = store.at(source);
  const snapshots = await listSnapshots(log);
  assert.equal(snapshots.length, 2);
  const resyncBase = snapshots[1] as (typeof snapshots)[number];
  assert.ok(resyncBase.startedAt >= Number(gaps[0]?.detectedAt));

  const want = (await scanAll(client, source)).map((i) => JSON.stringify(i)).sort();
  const latest = uniqueName('latest');
  const restored = await runCliCapture(['restore', `${url}/${source}`, loc(endpoint, latest), '--create']);
  assert.equal(restored.code, 0, restored.stderr);
  const items = await scanAll(client, latest);
  assert.deepEqual(items.map((i) => JSON.stringify(i)).sort(), want);
  const k1 = items.find((i) => (i.id as { S: string }).S === 'k1');
  assert.deepEqual(k1?.v, { N: '200' }, 'k1 keeps the image the new base read');

  const hidden = uniqueName('hidden');
  const refused = await runCliCapture([
    'restore',
    `${url}/${source}`,
    loc(endpoint, hidden),
    '--create',
    '--at',
    String(resyncBase.startedAt - 1),
  ]);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(
    refused.stderr,
    /may be missing changes made from .* \(stream records were trimmed before they were logged\)/,
  );
  // The history of a key lists what was logged and warns that the gap may hide versions.
  const history = await runCliCapture(['incremental-record-history', `${url}/${source}`, '{"id":"k1"}']);
  assert.equal(history.code, 0, history.stderr);
  assert.match(
    history.stderr,
    /^warning: changes from .* may be missing from .*\(stream records were trimmed/,
  );
  const historyJson = await runCliCapture([
    'incremental-record-history',
    `${url}/${source}`,
    '{"id":"k1"}',
    '--json',
  ]);
  const parsed = JSON.parse(historyJson.stdout) as {
    versions: { image?: { v?: unknown } }[];
    gaps: { lossFrom: number }[];
  };
  assert.deepEqual(
    parsed.gaps.map((g) => g.lossFrom),
    [lossFrom],
  );
  // The last logged version is the change before the gap; the one to 200 was lost with it.
  assert.deepEqual(parsed.versions.at(-1)?.image?.v, { N: '101' }, JSON.stringify(parsed.versions));
  const before = await runCliCapture([
    'incremental-record-history',
    `${url}/${source}`,
    '{"id":"k1"}',
    '--until',
    String(lossFrom - 1),
  ]);
  assert.equal(before.stderr, '', 'no warning for a range before the gap');
  const tables = await runCliCapture(['restore', `${url}/${source}`, loc(endpoint, hidden), '--dry-run']);
  assert.match(tables.stderr + tables.stdout, /does not exist|not found/i, 'nothing was created');
});

test('a gap that cannot be recorded in the change log stops the runner instead of resynchronising', async (t) => {
  const { client, proxy, source, replica, dir, replicate } = await setUp(t);
  const logDir = path.join(dir, 'log');
  // A file where the log's gaps/ folder would go: recording the gap fails (ENOTDIR).
  await mkdir(path.join(logDir, source), { recursive: true });
  await writeFile(path.join(logDir, source, 'gaps'), 'not a folder');
  await client.send(new PutItemCommand({ TableName: source, Item: { id: { S: 'a' }, v: { N: '1' } } }));
  proxy.setRules([
    {
      operation: 'GetRecords',
      times: 1,
      fault: { kind: 'stream-error', error: 'TrimmedDataAccessException' },
    },
  ]);
  const out = await replicate(logDir, ['--on-gap', 'resync']);
  assert.equal(out.code, 2, out.stdout + out.stderr);
  assert.match(out.stderr, /TrimmedDataAccessException.*Recording the gap in the change log failed too/s);
  const events = jsonLines(out.stdout).map((e) => e.event);
  assert.ok(!events.includes('gap') && !events.includes('backfill-start'), `no resync: ${events.join(', ')}`);
  assert.equal((await scanAll(client, replica)).length, 0, 'nothing replicated');
});
