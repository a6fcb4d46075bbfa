/**
 * Multi-active group (docs/multi-active.md): write units per replicated change against one-way
 * replication of the same load, and end-to-end lag between two members at the one-way lag bench's
 * rates.
 *
 * Write units: every write request any client sends (the application's and the replicator's) asks
 * for ReturnConsumedCapacity TOTAL. DynamoDB Local answers with the documented rule — 1 unit per KB
 * rounded up, of the larger of the old and the new item for a put, of the deleted item for a delete
 * (`capacityRule` below checks that at the start of the run). A conditional put that is refused
 * returns no figure; it is counted by the same rule from the stored item that comes back with the
 * refusal (ReturnValuesOnConditionCheckFailure), at least 1. The load is one fixed, seeded list of
 * puts (100 B to 2.5 KB), updates and deletes over an overlapping key set:
 * - `oneWay`: all at the source, replicated by the stream runner to one replica;
 * - `groupOneWriter`: all at member A of a two-member group (replicateGroup);
 * - `groupTwoWriters`: each operation at A or B (writes of one key at both members within a round
 *   are concurrent: conflicts, repairs and tombstones are part of the figure).
 * Each scenario writes rounds of 50 operations and replicates each round until idle, so the
 * runner's coalescing of a key's changes within a batch is alike in all three.
 * Goal: group units per change within 1.1x of one-way.
 *
 * Lag: A's writes until durably on B (the A->B direction's conditional put acknowledged), while the
 * B->A direction runs too, on a fresh DynamoDB Local per measurement, next to the one-way runner's
 * lag at the same rate (bench/replicate-lag.ts). Runs in `npm run bench`, or alone:
 * `node --import tsx bench/group.ts` (env BENCH_GROUP_OPS, BENCH_GROUP_LAG_RATES, BENCH_LAG_SECONDS).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
  type ConsumedCapacity,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { itemSize } from '../src/core/item-size.js';
import type { Item } from '../src/core/types.js';
import { describeTable } from '../src/dynamodb/tables.js';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from '../src/embedded/dynamodb-local.js';
import { createDemoTable } from '../src/embedded/replication-demo.js';
import { FileCheckpointStore } from '../src/replicate/checkpoint.js';
import { ConflictLog } from '../src/replicate/group-conflicts.js';
import { GroupDirection } from '../src/replicate/group-direction.js';
import { DEFAULT_GROUP_METADATA } from '../src/replicate/group-stamp.js';
import { LagRecorder, originFromAttribute } from '../src/replicate/lag.js';
import { DEFAULT_TOMBSTONE_TTL_MS, replicateGroup } from '../src/replicate/replicate-group.js';
import { StreamRunner } from '../src/replicate/runner.js';
import { FileObjectStore } from '../src/storage/fs-store.js';
import type { BenchSuite } from './context.js';
import {
  envNumbers,
  lagUnderLoad,
  latencies,
  onFreshServer,
  runnerLag,
  WRITTEN_AT,
  type Clients,
} from './replicate-lag.js';

const KEY_SCHEMA = { hash: { name: 'id', type: 'S' as const } };
const WRITE_COMMANDS = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
]);

/** Write units of every write request a client sends. */
class WriteUnits {
  units = 0;
  requests = 0;
  refused = 0;
  attach(client: DynamoDBClient): DynamoDBClient {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (!WRITE_COMMANDS.has(context.commandName ?? '')) return next(args);
        (args.input as Record<string, unknown>).ReturnConsumedCapacity = 'TOTAL';
        this.requests++;
        try {
          const out = await next(args);
          const cc = (out.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] })
            .ConsumedCapacity;
          for (const c of Array.isArray(cc) ? cc : cc ? [cc] : []) this.units += c.CapacityUnits ?? 0;
          return out;
        } catch (error) {
          if ((error as { name?: string }).name === 'ConditionalCheckFailedException') {
            const stored = (error as { Item?: Item }).Item;
            this.units += Math.max(1, Math.ceil((stored ? itemSize(stored) : 0) / 1024));
            this.refused++;
          }
          throw error;
        }
      },
      { step: 'initialize', name: 'benchWriteUnits' },
    );
    return client;
  }
}

type Op =
  | { kind: 'put'; key: string; bytes: number }
  | { kind: 'update'; key: string }
  | { kind: 'delete'; key: string };

/** A fixed pseudo-random load (same seed, same list), and which member each op goes to. */
function load(count: number, keys: number): { op: Op; member: 0 | 1 }[] {
  let seed = 0x2545f491;
  const next = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  return Array.from({ length: count }, () => {
    const key = `k${Math.floor(next() * keys)}`;
    const r = next();
    const op: Op =
      r < 0.6
        ? { kind: 'put', key, bytes: 100 + Math.floor(next() * 2400) }
        : r < 0.85
          ? { kind: 'update', key }
          : { kind: 'delete', key };
    return { op, member: next() < 0.5 ? 0 : 1 };
  });
}

async function applyOp(client: DynamoDBClient, table: string, op: Op, n: number): Promise<void> {
  const Key = { id: { S: op.key } };
  if (op.kind === 'put')
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: { ...Key, n: { N: String(n) }, p: { S: 'x'.repeat(op.bytes) } },
      }),
    );
  else if (op.kind === 'update')
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key,
        UpdateExpression: 'SET n = :n',
        ExpressionAttributeValues: { ':n': { N: String(n) } },
      }),
    );
  else await client.send(new DeleteItemCommand({ TableName: table, Key }));
}

/**
 * Operations per round: each round is written, then replicated until idle, in every scenario alike,
 * so the runner's coalescing of a key's changes within a batch is the same for one-way and group.
 */
const ROUND = 50;
const IDLE_MS = 500;

function rounds<T>(ops: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < ops.length; i += ROUND) out.push(ops.slice(i, i + ROUND));
  return out;
}

interface Server {
  client(region: string, meter?: WriteUnits): DynamoDBClient;
  streams(region: string): DynamoDBStreamsClient;
}

/** The documented rule, as DynamoDB Local applies it: 2.5 KB put = 3, small put over it = 3, delete of the small one = 1. */
async function capacityRule(s: Server): Promise<boolean> {
  const meter = new WriteUnits();
  const client = s.client('us-east-1', meter);
  const table = `bench-group-rule-${Date.now().toString(36)}`;
  await createDemoTable(client, table, false);
  const seen: number[] = [];
  for (const op of [
    { kind: 'put', key: 'r', bytes: 2500 },
    { kind: 'put', key: 'r', bytes: 10 },
    { kind: 'delete', key: 'r' },
  ] as Op[]) {
    const before = meter.units;
    await applyOp(client, table, op, 1);
    seen.push(meter.units - before);
  }
  return seen.join(',') === '3,3,1';
}

async function oneWayUnits(s: Server, ops: readonly { op: Op }[]) {
  const app = new WriteUnits();
  const rep = new WriteUnits();
  const suffix = Date.now().toString(36);
  const source = `bench-group-src-${suffix}`;
  const replica = `bench-group-rep-${suffix}`;
  await createDemoTable(s.client('us-east-1'), source, true);
  await createDemoTable(s.client('eu-west-1'), replica, false);
  const appClient = s.client('us-east-1', app);
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-group-'));
  const { streamArn } = await describeTable(appClient, source);
  const replicaClient = s.client('eu-west-1', rep);
  for (const [r, round] of rounds(ops).entries()) {
    for (const [i, { op }] of round.entries()) await applyOp(appClient, source, op, r * ROUND + i);
    await new StreamRunner({
      streams: s.streams('us-east-1'),
      streamArn: streamArn as string,
      apply: { replicas: [{ client: replicaClient, table: replica }], keySchema: KEY_SCHEMA },
      checkpoint: new FileCheckpointStore(path.join(dir, 'checkpoint.json')),
      from: 'trim-horizon',
      stopWhenIdleMs: IDLE_MS,
      polling: { idleDelayMs: { min: 10, max: 100 } },
    }).run();
  }
  await rm(dir, { recursive: true, force: true });
  return { appUnits: app.units, replicatorUnits: rep.units };
}

async function groupUnits(s: Server, ops: readonly { op: Op; member: 0 | 1 }[], twoWriters: boolean) {
  const app = new WriteUnits();
  const rep = new WriteUnits();
  const suffix = Date.now().toString(36);
  const regions = ['us-east-1', 'eu-west-1'] as const;
  const tables = regions.map((r) => `bench-group-${r}-${suffix}`);
  for (const [i, r] of regions.entries()) await createDemoTable(s.client(r), tables[i] as string, true);
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-group-'));
  const members = regions.map((r, i) => ({
    id: ['a', 'b'][i] as string,
    client: s.client(r, rep),
    streams: s.streams(r),
    table: tables[i] as string,
  }));
  const appClients = regions.map((r) => s.client(r, app));
  const run = () =>
    replicateGroup({
      members,
      checkpoint: (from, to) => new FileCheckpointStore(path.join(dir, `${from.id}-to-${to.id}.json`)),
      conflictLog: new FileObjectStore(path.join(dir, 'conflicts')),
      stopWhenIdleMs: IDLE_MS,
      polling: { idleDelayMs: { min: 10, max: 100 } },
    });
  const summaries = [];
  for (const [r, round] of rounds(ops).entries()) {
    for (const [i, { op, member }] of round.entries()) {
      const m = twoWriters ? member : 0;
      await applyOp(appClients[m] as DynamoDBClient, tables[m] as string, op, r * ROUND + i);
    }
    summaries.push(await run());
  }
  await rm(dir, { recursive: true, force: true });
  const counters = summaries.flatMap((x) => x.directions.map((d) => d.counters));
  const sum = (f: (c: (typeof counters)[number]) => number) => counters.reduce((t, c) => t + f(c), 0);
  return {
    appUnits: app.units,
    replicatorUnits: rep.units,
    refusedWrites: rep.refused,
    sent: sum((c) => c.sent),
    repairs: sum((c) => c.repairs),
    conflicts: sum((c) => c.conflicts),
    duplicates: sum((c) => c.duplicates),
    superseded: sum((c) => c.superseded),
  };
}

export async function measureGroupUnits(count = envNumbers('BENCH_GROUP_OPS', [2000])[0] ?? 2000) {
  const server = await startDynamoDbLocal({ timeoutMs: 120_000 });
  const clients: { destroy(): void }[] = [];
  const s: Server = {
    client: (region, meter) => {
      const c = new DynamoDBClient({ endpoint: server.endpoint, region, credentials: LOCAL_CREDENTIALS });
      clients.push(c);
      return meter ? meter.attach(c) : c;
    },
    streams: (region) => {
      const c = new DynamoDBStreamsClient({
        endpoint: server.endpoint,
        region,
        credentials: LOCAL_CREDENTIALS,
      });
      clients.push(c);
      return c;
    },
  };
  try {
    const ops = load(count, Math.max(10, Math.floor(count / 6)));
    const rule = await capacityRule(s);
    const oneWay = await oneWayUnits(s, ops);
    const one = await groupUnits(s, ops, false);
    const two = await groupUnits(s, ops, true);
    const perChange = (x: { appUnits: number; replicatorUnits: number }) =>
      Math.round(((x.appUnits + x.replicatorUnits) / count) * 1000) / 1000;
    const ratio = (x: { appUnits: number; replicatorUnits: number }) =>
      Math.round(((x.appUnits + x.replicatorUnits) / (oneWay.appUnits + oneWay.replicatorUnits)) * 1000) /
      1000;
    const replicatorRatio = (x: { replicatorUnits: number }) =>
      Math.round((x.replicatorUnits / oneWay.replicatorUnits) * 1000) / 1000;
    return {
      definition:
        'write units (application + replicator) per change; ConsumedCapacity from DynamoDB Local, refused conditional puts by the stored item size',
      capacityRule: rule,
      changes: count,
      oneWay: { ...oneWay, unitsPerChange: perChange(oneWay) },
      groupOneWriter: {
        ...one,
        unitsPerChange: perChange(one),
        vsOneWay: ratio(one),
        replicatorVsOneWay: replicatorRatio(one),
      },
      groupTwoWriters: {
        ...two,
        unitsPerChange: perChange(two),
        vsOneWay: ratio(two),
        replicatorVsOneWay: replicatorRatio(two),
      },
      goal: { vsOneWay: 1.1 },
      meetsGoal: ratio(one) <= 1.1 && ratio(two) <= 1.1,
    };
  } finally {
    clients.forEach((c) => c.destroy());
    await server.stop();
  }
}

/** Lag A -> B in a two-member group: both directions run, A->B's applied batches are timed. */
async function groupLag(clients: Clients, rate: number, seconds: number, concurrency?: number) {
  const suffix = Date.now().toString(36);
  const a = { id: 'a', client: clients.source, table: `bench-group-lag-a-${suffix}` };
  // Both tables in one region of the server: one Streams client reads both.
  const b = { id: 'b', client: clients.source, table: `bench-group-lag-b-${suffix}` };
  await createDemoTable(a.client, a.table, true);
  await createDemoTable(b.client, b.table, true);
  // DynamoDB Local refuses a TRIM_HORIZON read of a stream that never had a record (trimmed): one
  // write on each member first.
  for (const m of [a, b])
    await m.client.send(new PutItemCommand({ TableName: m.table, Item: { id: { S: `seed-${m.id}` } } }));
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-group-lag-'));
  const store = new FileObjectStore(path.join(dir, 'conflicts'));
  const stop = new AbortController();
  const lag = new LagRecorder(originFromAttribute(WRITTEN_AT));
  let failure: unknown;
  const runs: Promise<unknown>[] = [];
  try {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const ctx = {
        self: from.id,
        names: DEFAULT_GROUP_METADATA,
        keySchema: KEY_SCHEMA,
        tombstoneTtlMs: DEFAULT_TOMBSTONE_TTL_MS,
      };
      const direction = new GroupDirection(
        from,
        to,
        ['a', 'b'],
        ctx,
        new ConflictLog(store, `${from.id}-to-${to.id}`),
        concurrency,
      );
      const { streamArn } = await describeTable(from.client, from.table);
      const runner = new StreamRunner({
        streams: clients.streams,
        streamArn: streamArn as string,
        apply: { replicas: [{ client: to.client, table: to.table }], keySchema: KEY_SCHEMA },
        applier: direction.apply,
        checkpoint: new FileCheckpointStore(path.join(dir, `${from.id}.json`)),
        from: 'trim-horizon',
        ...(from === a ? { originTime: originFromAttribute(WRITTEN_AT), onBatch: lag.onBatch } : {}),
        signal: stop.signal,
      });
      runs.push(runner.run().catch((error: unknown) => (failure = error)));
    }
    return await lagUnderLoad(clients, a.table, rate, seconds, lag, () => failure);
  } finally {
    stop.abort();
    await Promise.all(runs);
    await rm(dir, { recursive: true, force: true });
  }
}

export async function measureGroupLag(): Promise<Record<string, unknown>> {
  const rates = envNumbers('BENCH_GROUP_LAG_RATES', [100, 250, 500, 1000]);
  const seconds = envNumbers('BENCH_LAG_SECONDS', [30])[0] ?? 30;
  // Conditional puts in flight per direction (the runner's default is 8).
  const concurrency = envNumbers('BENCH_GROUP_CONCURRENCY', [8])[0];
  const out: Record<string, unknown> = {
    concurrency,
    lagDefinition: "member B's conditional put acknowledged minus client time before member A's PutItem",
    baselineDefinition: 'the one-way runner on the same load (bench/replicate-lag.ts)',
    seconds,
  };
  for (const rate of rates) {
    const oneWay = await onFreshServer('shared', (c) => runnerLag(c, rate, seconds));
    const group = await onFreshServer('shared', (c) => groupLag(c, rate, seconds, concurrency));
    const g = group.lag;
    const o = oneWay.lag;
    out[`rate${rate}`] = {
      achievedWritesPerSecond: Math.round(group.load.achievedWritesPerSecond),
      changes: group.load.measuredWrites,
      lagSamples: g.count,
      groupLagP50Ms: Math.round(g.p50 ?? NaN),
      groupLagP99Ms: Math.round(g.p99 ?? NaN),
      oneWayLagP50Ms: Math.round(o.p50 ?? NaN),
      oneWayLagP99Ms: Math.round(o.p99 ?? NaN),
      oneWayAchievedWritesPerSecond: Math.round(oneWay.load.achievedWritesPerSecond),
      sourcePutP99Ms: latencies(group.load.putLatencies).p99,
      p50VsOneWay: Math.round(((g.p50 ?? NaN) / (o.p50 ?? NaN)) * 100) / 100,
      p99VsOneWay: Math.round(((g.p99 ?? NaN) / (o.p99 ?? NaN)) * 100) / 100,
    };
  }
  return out;
}

export const groupSuite: BenchSuite = {
  name: 'group',
  run: async () => ({ writeUnits: await measureGroupUnits(), lag: await measureGroupLag() }),
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const only = process.env.BENCH_GROUP_PART;
  const result =
    only === 'units'
      ? { writeUnits: await measureGroupUnits() }
      : only === 'lag'
        ? { lag: await measureGroupLag() }
        : await groupSuite.run(undefined as never);
  process.stdout.write(JSON.stringify({ group: result }, null, 2) + '\n');
}
