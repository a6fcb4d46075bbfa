// Proof of convergence of `replicate --multi-active` (issue 15, part 4): three members on three
// DynamoDB Local processes (three regions, no shared database); writers on all three for 60 s —
// each member puts, updates and deletes its own keys, and all three race on shared keys — while the
// runner is SIGKILLed and restarted twice and one member is unreachable for 20 s (fault proxy).
// Then quiet: every pair of members is equal (diff-tables --group-metadata), and the conflict log
// holds exactly the conflicts the writers provoked.
//
// The writers know that number: a shared key is written by all three members at once, each write
// conditional on the member not having received anything since the state it read (a fresh key: no
// item; later: the stamp it read). Every write that succeeds was made without seeing the others,
// so the writes that succeed on one state are pairwise concurrent: all but the highest lose, one
// conflict each. The next race on the key starts once the group is quiet and all members agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { sleep } from '../../src/core/backoff.js';
import { isConditionalCheckFailed } from '../../src/dynamodb/sdk-errors.js';
import { readConflicts } from '../../src/replicate/group-conflicts.js';
import {
  dataHash,
  dataOf,
  DEFAULT_GROUP_METADATA,
  isTombstone,
  validStamp,
  versionMember,
  type Stamp,
} from '../../src/replicate/group-stamp.js';
import { FileObjectStore } from '../../src/storage/fs-store.js';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import { runCliCapture } from '../harness/cli.js';
import { jsonLines, spawnCli, waitFor } from '../harness/cli-process.js';
import { createTestTable, dynamoClient, privateDynamo } from '../harness/dynamodb.js';
import { startFaultProxy } from '../harness/fault-proxy.js';

const NAMES = DEFAULT_GROUP_METADATA;
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2'];
const IDS = ['us', 'eu', 'ap'];
const WRITE_MS = Number(process.env.MULTI_WRITE_MS ?? 60_000);
const OWN_KEYS = 30;

interface Member {
  readonly id: string;
  readonly client: DynamoDBClient;
  readonly direct: string;
}

/** The runner as a child process whose JSON lines are read while it runs. */
class Runner {
  private out = '';
  private exited: Promise<{ code: number | null; stdout: string; stderr: string }> | undefined;
  private child: ReturnType<typeof spawnCli>['child'] | undefined;
  starts = 0;

  constructor(private readonly args: readonly string[]) {}

  /** Set when a runner process ended without being told to. */
  died: string | undefined;
  private expected = false;

  start(): void {
    const { child, output } = spawnCli(this.args);
    this.out = '';
    this.expected = false;
    child.stdout?.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child = child;
    this.exited = output;
    void output.then((o) => {
      if (!this.expected) this.died = `the runner exited with ${o.code}: ${o.stderr.slice(-2000)}`;
    });
    this.starts++;
  }

  /** The current process follows the streams (it printed a stats line): its start-up checks are done. */
  async running(): Promise<void> {
    await waitFor(async () => (this.check(), this.stats(0).length > 0), 120_000, 'the runner to start');
  }

  /** Fails the wait at once when the runner died. */
  check(): void {
    if (this.died) throw new Error(this.died);
  }

  async kill(signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string; stderr: string }> {
    this.expected = true;
    this.child?.kill(signal);
    return this.exited as Promise<{ code: number | null; stdout: string; stderr: string }>;
  }

  /** Stats lines printed from character `from` of this process's output on. */
  stats(from: number): { records: number; caughtUp: boolean }[] {
    return jsonLines(this.out.slice(from))
      .filter((e) => e.event === 'stats')
      .map((e) => ({ records: e.records as number, caughtUp: e.caughtUp as boolean }));
  }

  get position(): { start: number; at: number } {
    return { start: this.starts, at: this.out.length };
  }
}

async function read(m: Member, id: string): Promise<Item | undefined> {
  const out = await m.client.send(
    new GetItemCommand({ TableName: 'users', Key: { id: { S: id } }, ConsistentRead: true }),
  );
  return out.Item as Item | undefined;
}

function view(item: Item | undefined): Item | undefined {
  return item && !isTombstone(item, NAMES) ? dataOf(item, NAMES) : undefined;
}

/** The group is quiet (every direction caught up, no record handled for three stats lines in a row). */
async function quiet(runner: Runner): Promise<void> {
  const since = runner.position;
  await waitFor(
    async () => {
      runner.check();
      const now = runner.position;
      const stats = runner.stats(now.start === since.start ? since.at : 0).slice(-3);
      return stats.length === 3 && stats.every((s) => s.caughtUp) && stats[0]?.records === stats[2]?.records;
    },
    120_000,
    'the group to be quiet',
  );
}

async function agree(members: readonly Member[], ids: readonly string[]): Promise<boolean> {
  for (const id of ids) {
    const views = await Promise.all(members.map(async (m) => view(await read(m, id))));
    if (!views.every((v) => (v === undefined ? views[0] === undefined : itemsEqual(v, views[0]))))
      return false;
  }
  return true;
}

/** Quiet and in agreement on `ids` (a repair makes records, so quiet is checked again). */
async function settled(runner: Runner, members: readonly Member[], ids: readonly string[]): Promise<void> {
  await waitFor(
    async () => {
      await quiet(runner);
      return agree(members, ids);
    },
    180_000,
    `the members to agree on ${ids.join(', ')}`,
  );
}

/**
 * A race on `id` is over (while the other keys keep changing, so the group is never quiet): one
 * version V is on every member — stamped everywhere but at its origin, which holds its data (or
 * nothing, for a delete) — and every other member whose write succeeded has lost it (in the log).
 * Returns V.
 */
async function raceOver(
  runner: Runner,
  members: readonly Member[],
  id: string,
  winners: readonly string[],
  after: string,
  log: FileObjectStore,
): Promise<string> {
  let version = '';
  let state = '';
  await waitFor(
    async () => {
      runner.check();
      const items = await Promise.all(members.map((m) => read(m, id)));
      state = JSON.stringify({ items, winners, after, log: await readConflicts(log) });
      const stamps = items.map((item) => validStamp(item, NAMES));
      const v = stamps.find((s) => s !== undefined)?.version;
      if (v === undefined || v <= after) return false;
      const origin = versionMember(v);
      const ok = members.every((m, i) => {
        // The origin holds V stamped too when it was repaired to it.
        if (m.id !== origin || stamps[i]?.version === v) return stamps[i]?.version === v;
        const item = items[i];
        const stamp = stamps.find((x) => x?.version === v) as Stamp;
        if (item === undefined)
          return isTombstone(
            items.find((x) => x !== undefined),
            NAMES,
          );
        return dataHash(dataOf(item, NAMES)) === stamp.hash && !isTombstone(item, NAMES);
      });
      if (!ok) return false;
      const lost = (await readConflicts(log)).filter(
        (c) => c.key === `{"id":{"S":"${id}"}}` && c.loser > after,
      );
      version = v;
      return winners.every((w) => w === origin || lost.some((c) => versionMember(c.loser) === w));
    },
    Number(process.env.MULTI_RACE_MS ?? 180_000),
    `the race on ${id} to be over`,
  ).catch((error: Error) => {
    throw new Error(`${error.message}: ${state}`);
  });
  return version;
}

/** The condition "nothing arrived since I read `seen`". */
function unchangedSince(seen: Item | undefined): {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, { S: string }>;
} {
  const stamp = seen?.[NAMES.stamp];
  if (!seen)
    return { ConditionExpression: 'attribute_not_exists(#id)', ExpressionAttributeNames: { '#id': 'id' } };
  if (!stamp || !('S' in stamp))
    return {
      ConditionExpression: 'attribute_exists(#id) AND attribute_not_exists(#s)',
      ExpressionAttributeNames: { '#id': 'id', '#s': NAMES.stamp },
    };
  return {
    ConditionExpression: 'attribute_exists(#id) AND #s = :s',
    ExpressionAttributeNames: { '#id': 'id', '#s': NAMES.stamp },
    ExpressionAttributeValues: { ':s': { S: stamp.S } },
  };
}

async function attempt(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

/** One race on a shared key: each member writes on the state it reads; returns the members whose write succeeded. */
async function race(
  members: readonly Member[],
  id: string,
  kind: 'create' | 'update' | 'delete',
  round: number,
) {
  const seen = await Promise.all(members.map((m) => read(m, id)));
  const done = await Promise.all(
    members.map((m, i) => {
      const condition = unchangedSince(kind === 'create' ? undefined : seen[i]);
      if (kind === 'delete' && i === round % members.length)
        return attempt(() =>
          m.client.send(new DeleteItemCommand({ TableName: 'users', Key: { id: { S: id } }, ...condition })),
        );
      if (kind === 'create')
        return attempt(() =>
          m.client.send(
            new PutItemCommand({
              TableName: 'users',
              Item: { id: { S: id }, by: { S: `${m.id}-${round}` } },
              ...condition,
            }),
          ),
        );
      return attempt(() =>
        m.client.send(
          new UpdateItemCommand({
            TableName: 'users',
            Key: { id: { S: id } },
            UpdateExpression: 'SET #by = :by',
            ...condition,
            ExpressionAttributeNames: { ...condition.ExpressionAttributeNames, '#by': 'by' },
            ExpressionAttributeValues: {
              ...condition.ExpressionAttributeValues,
              ':by': { S: `${m.id}-${kind}-${round}` },
            },
          }),
        ),
      );
    }),
  );
  return members.filter((_, i) => done[i]).map((m) => m.id);
}

/** A member's own keys: puts, UpdateItems (stale metadata stays) and deletes at a steady pace. */
async function ownLoad(m: Member, until: number, seed: number, signal: AbortSignal): Promise<number> {
  let s = seed;
  const random = (): number => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let writes = 0;
  while (Date.now() < until && !signal.aborted) {
    const id = `${m.id}-${Math.floor(random() * OWN_KEYS)}`;
    const r = random();
    if (r < 0.4)
      await m.client.send(
        new PutItemCommand({
          TableName: 'users',
          Item: { id: { S: id }, n: { N: '0' }, w: { N: String(writes) } },
        }),
      );
    else if (r < 0.8)
      await m.client.send(
        new UpdateItemCommand({
          TableName: 'users',
          Key: { id: { S: id } },
          UpdateExpression: 'SET n = if_not_exists(n, :z) + :one',
          ExpressionAttributeValues: { ':z': { N: '0' }, ':one': { N: '1' } },
        }),
      );
    else await m.client.send(new DeleteItemCommand({ TableName: 'users', Key: { id: { S: id } } }));
    writes++;
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
  return writes;
}

test('three members, writers on all three for 60 s, two runner kills and one member unreachable for 20 s: equal tables, every provoked conflict logged once', async (t) => {
  const servers = await Promise.all(REGIONS.map(() => privateDynamo()));
  const proxy = await startFaultProxy(servers[2]?.endpoint as string);
  const members: Member[] = [];
  for (const [i, server] of servers.entries()) {
    const client = dynamoClient(server.endpoint, REGIONS[i]);
    await createTestTable(client, { name: 'users', stream: 'NEW_AND_OLD_IMAGES' });
    members.push({ id: IDS[i] as string, client, direct: `${server.endpoint}/users?region=${REGIONS[i]}` });
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'multi-active-'));
  const conflictLog = new FileObjectStore(path.join(dir, 'conflicts'));
  // The runner reaches the third member through the fault proxy; the writers reach it directly.
  const locations = [
    members[0]?.direct,
    members[1]?.direct,
    `${proxy.endpoint}/users?region=${REGIONS[2]}`,
  ] as string[];
  const runner = new Runner([
    'replicate',
    '--multi-active',
    ...locations,
    '--member-ids',
    IDS.join(','),
    '--checkpoint-dir',
    dir,
    '--conflict-log',
    path.join(dir, 'conflicts'),
    '--stats-every',
    '200ms',
    '--json',
  ]);
  runner.start();
  const started = Date.now();
  const until = started + WRITE_MS;
  // On a failure, nothing of this test may outlive it (a runner, a proxy listening again).
  const cancel = new AbortController();
  const pause = (ms: number): Promise<void> => sleep(Math.max(0, ms), cancel.signal);
  const load = Promise.all(members.map((m, i) => ownLoad(m, until, i + 1, cancel.signal)));
  const faults = (async () => {
    for (const at of [15_000, 30_000]) {
      await pause(started + at - Date.now());
      const killed = await runner.kill('SIGKILL');
      assert.equal(killed.code, null, killed.stderr);
      await pause(2_000);
      runner.start();
      // The start-up checks need every member (a group does not start with one unreachable).
      await runner.running();
    }
    await pause(started + 40_000 - Date.now());
    await proxy.down();
    await pause(20_000);
    await proxy.up();
  })();
  t.after(async () => {
    cancel.abort();
    await faults.catch(() => {});
    await load.catch(() => {});
    await runner.kill('SIGKILL');
    await proxy.stop().catch(() => {});
  });
  let expected = 0;
  let rounds = 0;
  const shared: string[] = [];
  while (Date.now() < until) {
    const id = `shared-${rounds}`;
    shared.push(id);
    let last = '';
    for (const kind of ['create', 'update', 'delete'] as const) {
      const succeeded = await race(members, id, kind, rounds);
      assert.ok(succeeded.length >= 1, `${id} ${kind}: the first write cannot have seen another`);
      expected += succeeded.length - 1;
      last = await raceOver(runner, members, id, succeeded, last, conflictLog);
    }
    rounds++;
  }
  const ownWrites = await load;
  await faults;
  const ownIds = IDS.flatMap((id) => Array.from({ length: OWN_KEYS }, (_, i) => `${id}-${i}`));
  await settled(runner, members, [...ownIds, ...shared]);
  const stopped = await runner.kill('SIGTERM');
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(runner.starts, 3);
  assert.ok(
    ownWrites.every((n) => n > 100),
    `steady writers: ${ownWrites.join(', ')}`,
  );
  assert.ok(rounds >= 5 && expected >= rounds, `${rounds} rounds provoked ${expected} conflicts`);

  for (const [a, b] of [
    [0, 1],
    [0, 2],
    [1, 2],
  ] as const) {
    const diff = await runCliCapture([
      'diff-tables',
      members[a]?.direct as string,
      members[b]?.direct as string,
      '--group-metadata',
      '--json',
    ]);
    assert.equal(diff.code, 0, diff.stderr + diff.stdout);
  }
  // Without --group-metadata the members differ (metadata, tombstones): the option is what makes them equal.
  const raw = await runCliCapture([
    'diff-tables',
    members[0]?.direct as string,
    members[1]?.direct as string,
    '--json',
  ]);
  assert.equal(raw.code, 1);

  t.diagnostic(
    `${rounds} rounds on shared keys provoked ${expected} conflicts; own writes ${ownWrites.join(', ')}`,
  );
  const log = await runCliCapture(['conflicts', path.join(dir, 'conflicts'), '--json']);
  assert.equal(log.code, 0, log.stderr);
  const conflicts = jsonLines(log.stdout);
  assert.equal(conflicts.length, expected);
  assert.ok(conflicts.every((c) => String(c.key).startsWith('{"id":{"S":"shared-')));
});
