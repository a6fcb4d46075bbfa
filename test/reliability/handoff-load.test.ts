/**
 * Hand-off under load: `replicate --backfill` copies the table while the source takes a steady
 * rate of puts, updates and deletes, then replays the stream from before the copy. After catch-up
 * the replica equals the source (0 discrepancies), every repetition. The rate the load generator
 * reached is reported next to the one asked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDynamoDbLocal } from '../../src/embedded/dynamodb-local.js';
import { createTestTable, dynamoClient } from '../harness/dynamodb.js';
import { seededRandom } from '../harness/fault-proxy.js';
import { PROFILE } from './profile.js';
import {
  assertDiffClean,
  assertSameItems,
  jsonLines,
  loc,
  mixedLoad,
  putItems,
  sampleItem,
  spawnCli,
  waitFor,
} from './helpers.js';

for (let rep = 1; rep <= PROFILE.handoffRepetitions; rep++) {
  test(`hand-off #${rep}: backfill of ${PROFILE.handoffItems} items under ${PROFILE.handoffRate} changes/s incl. deletes -> 0 discrepancies`, async (t) => {
    // A DynamoDB Local of its own: the emulator slows down as stream records pile up (PutItem p50
    // from ~80 ms to ~1 s after a few 20,000-item runs), which would starve the load generator.
    const server = await startDynamoDbLocal();
    t.after(() => server.stop());
    const endpoint = server.endpoint;
    const source = dynamoClient(endpoint, 'us-east-1');
    const replica = dynamoClient(endpoint, 'eu-west-1');
    const sourceTable = await createTestTable(source, { stream: 'NEW_AND_OLD_IMAGES' });
    const replicaTable = await createTestTable(replica);
    await putItems(
      source,
      sourceTable,
      Array.from({ length: PROFILE.handoffItems }, (_, i) => sampleItem(i)),
    );
    const dir = await mkdtemp(path.join(tmpdir(), 'handoff-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const stop = { done: false };
    const loadStarted = performance.now();
    const load = mixedLoad(
      source,
      sourceTable,
      {
        keys: PROFILE.handoffItems + 200,
        total: Number.MAX_SAFE_INTEGER,
        perSecond: PROFILE.handoffRate,
        random: seededRandom(rep),
      },
      stop,
    );
    const run = spawnCli([
      'replicate',
      loc(endpoint, sourceTable),
      loc(endpoint, replicaTable, 'eu-west-1'),
      '--backfill',
      // Slow enough that the whole copy happens under the load, and that the emulator can take both.
      '--items-per-second',
      String(PROFILE.handoffCopyPerSecond),
      '--checkpoint',
      path.join(dir, 'checkpoint.json'),
      '--json',
      '--stop-when-idle',
      '3s',
    ]);
    let copied = false;
    try {
      run.child.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('"backfill-done"')) copied = true;
      });
      await waitFor(() => Promise.resolve(copied || run.child.exitCode !== null), 300_000, 'the backfill');
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      stop.done = true;
    }
    const changes = await load;
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const out = await run.output;
    assert.equal(out.code, 0, out.stderr);
    const lines = jsonLines(out.stdout);
    const done = lines.find((l) => l.event === 'backfill-done');
    assert.ok(done, out.stdout);
    const stopped = lines.find((l) => l.event === 'stopped');
    assert.ok(
      stopped && (stopped.records as number) > 0,
      'the stream replay applied the changes made during the copy',
    );
    const items = await assertSameItems(
      { client: source, table: sourceTable },
      { client: replica, table: replicaTable },
    );
    await assertDiffClean(loc(endpoint, sourceTable), loc(endpoint, replicaTable, 'eu-west-1'));
    t.diagnostic(
      `${changes} changes during the hand-off in ${loadSeconds.toFixed(1)} s ` +
        `(${(changes / loadSeconds).toFixed(0)}/s of ${PROFILE.handoffRate}/s asked), ` +
        `copy ${String(done.seconds)} s, ${String(done.scanned)} scanned, ${items} items equal`,
    );
  });
}
