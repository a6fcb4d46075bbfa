/**
 * Throttling storm: about 20% of the writes are throttled (ProvisionedThroughputExceededException or
 * ThrottlingException) or left unprocessed, injected by the fault proxy in front of the target,
 * for a full `copy`, a `diff-tables --repair` and a `restore`. Every item must arrive. With faults
 * that no retry budget can win (the same keys held back on every attempt), the command must fail
 * loudly, name the unwritten keys and exit 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { startFaultProxy, type FaultRule } from '../harness/fault-proxy.js';
import { scanAll } from '../harness/table-items.js';
import { PROFILE } from './profile.js';
import { assertDiffClean, assertSameItems, loc, putItems, sampleItem } from './helpers.js';

/** ~10% of BatchWriteItem requests throttled (half each kind), ~10% of the others' writes held back. */
const STORM: readonly FaultRule[] = [
  {
    operation: 'BatchWriteItem',
    probability: 0.05,
    fault: { kind: 'throttle', error: 'ProvisionedThroughputExceededException' },
  },
  {
    operation: 'BatchWriteItem',
    probability: 0.05,
    fault: { kind: 'throttle', error: 'ThrottlingException' },
  },
  { operation: 'BatchWriteItem', fault: { kind: 'unprocessed', fraction: 0.12 } },
  // Reads of the target (diff-tables' re-reads, restore's comparison) are throttled too.
  { operation: 'BatchGetItem', fault: { kind: 'unprocessed', fraction: 0.2 } },
  { operation: 'Scan', probability: 0.1, fault: { kind: 'throttle', error: 'ThrottlingException' } },
];

async function storm() {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const proxy = await startFaultProxy(endpoint, { seed: 20 });
  const source = await createTestTable(client);
  await putItems(
    client,
    source,
    Array.from({ length: PROFILE.stormItems }, (_, i) => sampleItem(i)),
  );
  return { endpoint, client, proxy, source };
}

test(`copy, diff-tables --repair and restore of ${PROFILE.stormItems} items through a 20% throttling storm lose nothing`, async (t) => {
  const { endpoint, client, proxy, source } = await storm();
  const target = await createTestTable(client);
  proxy.setRules(STORM);
  let phase = Date.now();
  const took = (): string => {
    const s = ((Date.now() - phase) / 1000).toFixed(1);
    phase = Date.now();
    return `${s} s`;
  };

  const copy = await runCliCapture(['copy', loc(endpoint, source), loc(proxy.endpoint, target), '--json']);
  assert.equal(copy.code, 0, copy.stderr);
  const copyFaults = proxy.injected();
  assert.ok(
    proxy.injected('throttle') > 0 && proxy.injected('unprocessed') > 0,
    JSON.stringify(proxy.counts),
  );
  await assertSameItems({ client, table: source }, { client, table: target });
  t.diagnostic(`copy (${took()}): ${JSON.stringify(proxy.counts)}`);

  // Damage the replica (deletes, changed values, extraneous items), then repair through the storm.
  const damaged = Math.min(300, Math.floor(PROFILE.stormItems / 4));
  for (let i = 0; i < damaged; i++) {
    if (i % 3 === 0)
      await client.send(new DeleteItemCommand({ TableName: target, Key: { id: { S: `k${i}` } } }));
    else if (i % 3 === 1)
      await client.send(
        new PutItemCommand({ TableName: target, Item: { ...sampleItem(i), n: { N: '-1' } } }),
      );
    else await client.send(new PutItemCommand({ TableName: target, Item: { id: { S: `extra${i}` } } }));
  }
  const repair = await runCliCapture([
    'diff-tables',
    loc(endpoint, source),
    loc(proxy.endpoint, target),
    '--repair',
    '--json',
  ]);
  assert.equal(repair.code, 1, `found and repaired: ${repair.stdout}${repair.stderr}`);
  const summary = JSON.parse(repair.stdout) as { discrepancies: { total: number } };
  assert.equal(summary.discrepancies.total, damaged);
  assert.ok(proxy.injected() > copyFaults, 'faults were injected during the repair');
  assert.ok((proxy.counts['BatchGetItem:unprocessed'] ?? 0) > 0, 'the re-reads were left unprocessed too');
  await assertSameItems({ client, table: source }, { client, table: target });
  await assertDiffClean(loc(endpoint, source), loc(endpoint, target));
  const repairFaults = proxy.injected();
  t.diagnostic(`repair (${took()}): ${JSON.stringify(proxy.counts)}`);

  // Back up (no faults on the read side), then restore into a new table through the storm.
  const dir = await mkdtemp(path.join(tmpdir(), 'storm-backup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const backup = await runCliCapture(['backup-table', loc(endpoint, source), dir, '--json']);
  assert.equal(backup.code, 0, backup.stderr);
  const restored = uniqueName('restored');
  const restore = await runCliCapture(['restore', dir, loc(proxy.endpoint, restored), '--create', '--json']);
  assert.equal(restore.code, 0, restore.stderr);
  assert.ok(proxy.injected() > repairFaults, 'faults were injected during the restore');
  assert.equal(
    await assertSameItems({ client, table: source }, { client, table: restored }),
    PROFILE.stormItems,
  );
  await assertDiffClean(loc(endpoint, source), loc(endpoint, restored));
  t.diagnostic(`restore (${took()}): ${JSON.stringify(proxy.counts)}`);
});

test('faults no retry budget can win: copy and restore fail loudly, name the unwritten keys, exit 2', async (t) => {
  const { endpoint, client, proxy, source } = await storm();
  const stuck = new Set(['k7', 'k1234'].filter((k) => Number(k.slice(1)) < PROFILE.stormItems));
  // These keys are held back on every attempt, like a hot partition that never recovers.
  proxy.setRules([
    {
      operation: 'BatchWriteItem',
      fault: { kind: 'unprocessed', fraction: 0 },
      holdKey: (_table, key) => stuck.has((key.id as { S?: string } | undefined)?.S ?? ''),
    },
  ]);
  const target = await createTestTable(client);
  const copy = await runCliCapture(['copy', loc(endpoint, source), loc(proxy.endpoint, target)]);
  assert.equal(copy.code, 2, copy.stdout + copy.stderr);
  for (const k of stuck) assert.match(copy.stderr, new RegExp(`"S":"${k}"`), copy.stderr);
  assert.match(copy.stderr, new RegExp(`${stuck.size} write\\(s\\) were not made after \\d+ attempts`));
  assert.doesNotMatch(copy.stderr, /\n\s+at /, 'no stack trace');
  const written = (await scanAll(client, target)).length;
  assert.equal(written, PROFILE.stormItems - stuck.size, 'everything else was written; a rerun completes');
  assert.ok((proxy.counts.unprocessedEntries ?? 0) >= stuck.size * 2, 'held back on every retry');

  const dir = await mkdtemp(path.join(tmpdir(), 'storm-backup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.equal((await runCliCapture(['backup-table', loc(endpoint, source), dir])).code, 0);
  const restored = await createTestTable(client);
  const restore = await runCliCapture(['restore', dir, loc(proxy.endpoint, restored)]);
  assert.equal(restore.code, 2, restore.stdout + restore.stderr);
  for (const k of stuck) assert.match(restore.stderr, new RegExp(`"S":"${k}"`), restore.stderr);
  assert.match(restore.stderr, new RegExp(`${stuck.size} write\\(s\\) were not made after \\d+ attempts`));
  assert.doesNotMatch(restore.stderr, /not sent/, 'a few stuck keys do not stop the restore');
  assert.equal((await scanAll(client, restored)).length, PROFILE.stormItems - stuck.size);

  // The fault clears: a rerun of the copy completes.
  proxy.setRules([]);
  const rerun = await runCliCapture(['copy', loc(endpoint, source), loc(proxy.endpoint, target)]);
  assert.equal(rerun.code, 0, rerun.stderr);
  await assertSameItems({ client, table: source }, { client, table: target });
});
