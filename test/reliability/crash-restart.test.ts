/**
 * Crash and restart: the standalone runner (`replicate` as a child process) is killed with SIGKILL
 * at random moments while the source takes mixed changes (puts, updates, deletes, items near
 * 400 KB). After every kill, before restarting, the checkpoint is checked against the replica: for
 * each key, the replica must hold the image of the key's last record at or before the checkpoint,
 * or of a later record — never an older one (that would mean the checkpoint moved past an unapplied
 * record). After the last restart the replica equals the source and diff-tables finds 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { compareSequenceNumbers } from '../../src/core/change.js';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import type { CheckpointState } from '../../src/replicate/checkpoint.js';
import { createTestTable, dynamoClient, dynamoEndpoint, streamsClient } from '../harness/dynamodb.js';
import { seededRandom } from '../harness/fault-proxy.js';
import { readStream } from '../harness/stream-capture.js';
import { byId, scanAll } from '../harness/table-items.js';
import { PROFILE } from './profile.js';
import { assertDiffClean, assertSameItems, jsonLines, loc, mixedLoad, spawnCli, waitFor } from './helpers.js';

async function readCheckpoint(file: string): Promise<CheckpointState | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as CheckpointState;
  } catch {
    return undefined;
  }
}

/** Keys whose replica state is older than their last record at or before `position`. */
function behindCheckpoint(
  records: readonly _Record[],
  position: string,
  replica: Map<string, Item>,
): string[] {
  const byKey = new Map<string, _Record[]>();
  for (const r of records) {
    const id = (r.dynamodb?.Keys?.id as { S: string } | undefined)?.S as string;
    byKey.set(id, [...(byKey.get(id) ?? []), r]);
  }
  const behind: string[] = [];
  for (const [id, rs] of byKey) {
    let last = -1;
    rs.forEach((r, i) => {
      if (compareSequenceNumbers(r.dynamodb?.SequenceNumber ?? '', position) <= 0) last = i;
    });
    if (last < 0) continue;
    const have = replica.get(id);
    const ok = rs
      .slice(last)
      .some((r) =>
        r.eventName === 'REMOVE' ? have === undefined : itemsEqual(have, r.dynamodb?.NewImage as Item),
      );
    if (!ok) behind.push(id);
  }
  return behind;
}

test(`runner SIGKILLed ${PROFILE.kills} times during ${PROFILE.crashChanges} changes: checkpoint never ahead, converges`, async (t) => {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, 'us-east-1');
  const replica = dynamoClient(endpoint, 'eu-west-1');
  const streams = streamsClient(endpoint, 'us-east-1');
  const sourceTable = await createTestTable(source, { stream: 'NEW_AND_OLD_IMAGES' });
  const replicaTable = await createTestTable(replica);
  const dir = await mkdtemp(path.join(tmpdir(), 'crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const checkpoint = path.join(dir, 'checkpoint.json');
  const args = [
    'replicate',
    loc(endpoint, sourceTable),
    loc(endpoint, replicaTable, 'eu-west-1'),
    '--checkpoint',
    checkpoint,
    '--json',
  ];
  const random = seededRandom(4242);
  const stop = { done: false };
  // The changes come in one share per kill, each started with its runner: every runner has new
  // records to checkpoint, however slowly it starts (a loaded CI machine takes seconds).
  const share = Math.ceil(PROFILE.crashChanges / PROFILE.kills);
  const perSecond = Math.max(100, share / 10);
  const loads: Promise<number>[] = [];
  const positions: string[] = [];
  try {
    for (let kill = 0; kill < PROFILE.kills; kill++) {
      const before = (await readCheckpoint(checkpoint))?.updatedAt;
      const first = kill * share;
      const total = Math.min(share, PROFILE.crashChanges - first);
      loads.push(
        mixedLoad(source, sourceTable, { keys: 400, total, perSecond, random, bigEvery: 97, first }, stop),
      );
      const run = spawnCli(args);
      // Kill once it has checkpointed new progress, after a random extra moment.
      await waitFor(
        async () => (await readCheckpoint(checkpoint))?.updatedAt !== before,
        60_000,
        'a checkpoint',
      ).catch((error: unknown) => {
        // A runner left behind would keep the test process alive until the file's timeout.
        run.child.kill('SIGKILL');
        throw error;
      });
      await new Promise((r) => setTimeout(r, random() * 1500));
      run.child.kill('SIGKILL');
      const out = await run.output;
      assert.equal(out.signal, 'SIGKILL', out.stderr);
      const saved = (await readCheckpoint(checkpoint)) as CheckpointState;
      const shards = Object.values(saved.shards);
      assert.equal(shards.length, 1, 'DynamoDB Local gives a new table one shard');
      const position = shards[0]?.sequenceNumber as string;
      positions.push(position);
      const records = (await readStream(source, streams, sourceTable, 0)).records;
      const behind = behindCheckpoint(records, position, byId(await scanAll(replica, replicaTable)));
      assert.deepEqual(behind.slice(0, 10), [], `kill ${kill + 1}: the checkpoint passed unapplied records`);
      t.diagnostic(`kill ${kill + 1}: checkpoint at ${position}, ${records.length} records in the stream`);
    }
  } catch (error) {
    stop.done = true;
    throw error;
  }
  const changes = (await Promise.all(loads)).reduce((a, b) => a + b, 0);
  assert.equal(changes, PROFILE.crashChanges);
  const last = spawnCli([...args, '--stop-when-idle', '3s']);
  const done = await last.output;
  assert.equal(done.code, 0, done.stderr);
  assert.ok(
    jsonLines(done.stdout).some((l) => l.event === 'stopped'),
    done.stdout,
  );
  for (let i = 1; i < positions.length; i++)
    assert.ok(
      compareSequenceNumbers(positions[i] as string, positions[i - 1] as string) >= 0,
      'checkpoints only move forward',
    );
  const items = await assertSameItems(
    { client: source, table: sourceTable },
    { client: replica, table: replicaTable },
  );
  await assertDiffClean(loc(endpoint, sourceTable), loc(endpoint, replicaTable, 'eu-west-1'));
  t.diagnostic(`${changes} changes, ${PROFILE.kills} kills, ${items} items equal`);
});
