/**
 * Replica outage: the replica endpoint (behind the fault proxy) refuses connections for N seconds
 * in the middle of a steady load. The runner must retry with backoff, lose nothing and catch up.
 * The lag peak and the recovery time (from the endpoint coming back until the lag is under 1 s
 * again, measured with a marker item) are reported as test diagnostics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { seededRandom, startFaultProxy } from '../harness/fault-proxy.js';
import { PROFILE } from './profile.js';
import { assertDiffClean, assertSameItems, loc, mixedLoad, spawnCli, waitFor } from './helpers.js';

test(`replica down for ${PROFILE.outageSeconds} s mid-load: the runner retries, loses nothing, catches up`, async (t) => {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, 'us-east-1');
  const replica = dynamoClient(endpoint, 'eu-west-1');
  const sourceTable = await createTestTable(source, { stream: 'NEW_AND_OLD_IMAGES' });
  const replicaTable = await createTestTable(replica);
  const proxy = await startFaultProxy(endpoint);
  const dir = await mkdtemp(path.join(tmpdir(), 'outage-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const run = spawnCli([
    'replicate',
    loc(endpoint, sourceTable),
    loc(proxy.endpoint, replicaTable, 'eu-west-1'),
    '--checkpoint',
    path.join(dir, 'checkpoint.json'),
    '--json',
    '--stop-when-idle',
    `${PROFILE.outageSeconds + 10}s`,
  ]);
  // Lag measured end to end (DynamoDB Local truncates stream creation times to the minute, so the
  // runner's own lag figure is coarse there): a marker item on the source carries its write time;
  // the lag is how old the newest marker visible on the replica is.
  const stats: { at: number; lagMs: number }[] = [];
  const sampling = { done: false };
  const sampler = (async () => {
    while (!sampling.done) {
      await source.send(
        new PutItemCommand({
          TableName: sourceTable,
          Item: { id: { S: 'marker' }, t: { N: String(Date.now()) } },
        }),
      );
      const got = await replica.send(
        new GetItemCommand({ TableName: replicaTable, Key: { id: { S: 'marker' } }, ConsistentRead: true }),
      );
      const t = got.Item?.t && 'N' in got.Item.t ? Number(got.Item.t.N) : undefined;
      if (t !== undefined) stats.push({ at: Date.now(), lagMs: Date.now() - t });
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    const perSecond = 100;
    const total = perSecond * (PROFILE.outageSeconds + 8);
    const load = mixedLoad(source, sourceTable, { keys: 300, total, perSecond, random: seededRandom(5) });
    const writes = (): number =>
      Object.entries(proxy.requests)
        .filter(([op]) => /^(BatchWriteItem|PutItem|DeleteItem)$/.test(op))
        .reduce((n, [, c]) => n + c, 0);
    await waitFor(() => Promise.resolve(writes() > 0), 60_000, 'the runner to replicate');
    await new Promise((r) => setTimeout(r, 1000));
    await proxy.down();
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, PROFILE.outageSeconds * 1000));
    await proxy.up();
    const upAt = Date.now();
    assert.equal(run.child.exitCode, null, 'the runner survived the outage');
    const changes = await load;
    // Recovered: a stats line after the outage with the lag back under a second.
    await waitFor(
      () => Promise.resolve(stats.some((s) => s.at > upAt && s.lagMs < 1000)),
      120_000,
      'the lag to recover',
    );
    const recovered = stats.find((s) => s.at > upAt && s.lagMs < 1000);
    const peak = Math.max(...stats.filter((s) => s.at >= downAt).map((s) => s.lagMs));
    assert.ok(peak >= (PROFILE.outageSeconds - 1) * 1000, `the lag grew during the outage (peak ${peak} ms)`);
    const replicaCaughtUp = (what: string) =>
      waitFor(
        async () => {
          try {
            await assertSameItems(
              { client: source, table: sourceTable },
              { client: replica, table: replicaTable },
            );
            return true;
          } catch {
            return false;
          }
        },
        60_000,
        what,
      );
    await replicaCaughtUp('the replica to catch up');
    sampling.done = true;
    await sampler;
    await replicaCaughtUp('the replica to catch up with the last marker');
    await assertDiffClean(loc(endpoint, sourceTable), loc(endpoint, replicaTable, 'eu-west-1'));
    t.diagnostic(
      `${changes} changes; outage ${PROFILE.outageSeconds} s; lag peak ${peak} ms; ` +
        `recovery ${(recovered?.at ?? upAt) - upAt} ms after the endpoint came back; proxy ${JSON.stringify(proxy.counts)}`,
    );
  } finally {
    sampling.done = true;
    await sampler.catch(() => undefined);
    run.child.kill('SIGTERM');
    const out = await run.output;
    t.diagnostic(`runner exit ${out.code ?? out.signal}; ${out.stderr.slice(0, 500)}`);
  }
});
