/**
 * End-to-end replication lag of the stream runner as a curve over steady write rates (30 s each;
 * env BENCH_LAG_RATES as a comma list, BENCH_LAG_SECONDS), up to the rate DynamoDB Local sustains.
 *
 * Lag of one change = the moment the item is durably on the replica (the runner's BatchWriteItem
 * acknowledged; the checkpoint save follows off the critical path) minus the client's clock just
 * before the source PutItem was sent. It therefore includes the source write itself, the stream
 * publication, GetRecords polling and the replica write. The write time travels in the item
 * (`writtenAt`), because DynamoDB Local truncates a record's ApproximateCreationDateTime to the minute.
 *
 * Same-run baseline at each rate: `streamRead` is the same load read by a bare shard reader that
 * applies nothing (write time to record in hand): no stream consumer can do better on this machine.
 * The runner's lag is reported next to it and as a ratio. In a layout with a replica, a second floor
 * (`bareReplicator*`): a bare reader that also writes each page to the replica with plain
 * BatchWriteItem on the same emulator(s), i.e. the least any consumer that must write its replica
 * there can do; the runner is compared with it too.
 *
 * The runner's replica is on the source's DynamoDB Local or on a second one (BENCH_LAG_LAYOUTS), to
 * tell the runner's own cost from the load its replica writes add to the emulator serving the source.
 *
 * Every measurement starts its own DynamoDB Local: the emulator slows down as stream records pile up
 * (on the shared server after the other suites, PutItem on a stream-enabled table took p50 933 ms
 * against 80 ms on a fresh one; on one server, each 8 s phase of puts ran slower than the one
 * before), which would measure the emulator's leftovers, not the runner. On a 2-core machine
 * DynamoDB Local with a stream takes roughly 150-400 PutItem/s, so the highest rates are reported
 * with the rate actually achieved. Runs in
 * `npm run bench`, or alone: `node --import tsx bench/replicate-lag.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  BatchWriteItemCommand,
  DeleteTableCommand,
  DynamoDBClient,
  PutItemCommand,
  type WriteRequest as SdkWriteRequest,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { canonicalKey } from '../src/core/canonical-key.js';
import type { Change } from '../src/core/change.js';
import { changeFromSdkRecord } from '../src/core/change-sources.js';
import { describeTable } from '../src/dynamodb/tables.js';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from '../src/embedded/dynamodb-local.js';
import { createDemoTable } from '../src/embedded/replication-demo.js';
import { FileCheckpointStore } from '../src/replicate/checkpoint.js';
import { LagRecorder, originFromAttribute } from '../src/replicate/lag.js';
import { StreamRunner } from '../src/replicate/runner.js';
import { describeStream, ShardReader } from '../src/streams/reader.js';
import type { BenchSuite } from './context.js';

export const WRITTEN_AT = 'writtenAt';
/** Writers in flight: enough that a slow PutItem (p99 ~0.5 s here) does not cap the rate. */
const LOAD_WORKERS = 96;
const WARMUP_SECONDS = 3;

export function envNumbers(name: string, fallback: readonly number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined) return [...fallback];
  const values = raw.split(',').map((s) => Number(s.trim()));
  if (values.some((n) => !(n > 0))) throw new Error(`${name} must be positive numbers, got "${raw}"`);
  return values;
}

function nearestRank(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

export function latencies(values: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const ms = (v: number) => Math.round(v * 10) / 10;
  return {
    p50: ms(nearestRank(sorted, 0.5)),
    p99: ms(nearestRank(sorted, 0.99)),
    max: ms(sorted.at(-1) ?? NaN),
  };
}

export interface Clients {
  readonly source: DynamoDBClient;
  readonly replica: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
}

interface LoadResult {
  readonly achievedWritesPerSecond: number;
  readonly measuredWrites: number;
  readonly putLatencies: number[];
}

/** Puts at `rate` writes/s for a warm-up, calls `onMeasureStart`, then for `seconds` while recording. */
async function steadyLoad(
  clients: Clients,
  table: string,
  rate: number,
  seconds: number,
  onMeasureStart: () => void,
  failed: () => unknown,
): Promise<LoadResult> {
  let writes = 0;
  const putLatencies: number[] = [];
  const load = async (durationSeconds: number, record: boolean): Promise<number> => {
    const started = performance.now();
    const end = started + durationSeconds * 1000;
    let sent = 0;
    await Promise.all(
      Array.from({ length: LOAD_WORKERS }, async () => {
        for (;;) {
          const due = started + (sent * 1000) / rate;
          if (due >= end || failed()) return;
          sent++;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const n = writes++;
          const t0 = performance.now();
          await clients.source.send(
            new PutItemCommand({
              TableName: table,
              Item: {
                id: { S: `k${n % 5000}` },
                n: { N: String(n) },
                payload: { S: 'x'.repeat(100) },
                [WRITTEN_AT]: { N: String(Date.now()) },
              },
            }),
          );
          if (record) putLatencies.push(performance.now() - t0);
        }
      }),
    );
    return sent / ((performance.now() - started) / 1000);
  };
  await load(WARMUP_SECONDS, false);
  await new Promise((r) => setTimeout(r, 500));
  onMeasureStart();
  const before = writes;
  const achieved = await load(seconds, true);
  return { achievedWritesPerSecond: achieved, measuredWrites: writes - before, putLatencies };
}

async function waitFor(done: () => boolean, failed: () => unknown, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done() && performance.now() < deadline && !failed()) await new Promise((r) => setTimeout(r, 50));
}

/** Drives the load while `lag` records, waits for the last changes, returns both. */
export async function lagUnderLoad(
  clients: Clients,
  table: string,
  rate: number,
  seconds: number,
  lag: LagRecorder,
  failed: () => unknown,
) {
  const load = await steadyLoad(clients, table, rate, seconds, () => lag.reset(), failed);
  await waitFor(() => lag.count >= load.measuredWrites, failed);
  const failure = failed();
  if (failure) throw failure;
  return { load, lag: lag.summary() };
}

/** The baseline: the same load read by a bare reader of the table's one shard, nothing applied. */
async function streamReadLag(clients: Clients, rate: number, seconds: number) {
  const table = `bench-lag-read-${Date.now().toString(36)}`;
  await createDemoTable(clients.source, table, true);
  const { streamArn } = await describeTable(clients.source, table);
  const stream = await describeStream(clients.streams, streamArn as string);
  const shardId = stream.shards[0]?.shardId as string;
  const reader = new ShardReader(clients.streams, streamArn as string, shardId, { type: 'TRIM_HORIZON' });
  const lag = new LagRecorder(originFromAttribute(WRITTEN_AT));
  const stop = new AbortController();
  let failure: unknown;
  const reading = (async () => {
    while (!stop.signal.aborted) {
      const page = await reader.next(stop.signal);
      const changes: Change[] = page.records.map((r, i) => changeFromSdkRecord(r, i, shardId));
      lag.onBatch({ shardId, changes, result: undefined as never, attempts: 1, appliedAt: Date.now() });
    }
  })().catch((error: unknown) => {
    if (!stop.signal.aborted) failure = error;
  });
  try {
    return await lagUnderLoad(clients, table, rate, seconds, lag, () => failure);
  } finally {
    stop.abort();
    await reading;
    await clients.source.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
  }
}

/**
 * The second floor, for layouts with a replica: a bare reader that writes each page's changes to the
 * replica table itself with plain SDK BatchWriteItem (the last change per key of the page, one
 * request per 25 of them, unprocessed items sent again), no checkpoint, no scheduler, no ordering
 * across pages. A page's requests are sent without waiting for the previous page's. Lag of a change
 * = its request acknowledged. No consumer that must write its replica on this emulator does less.
 */
async function bareReplicatorLag(clients: Clients, rate: number, seconds: number) {
  const suffix = Date.now().toString(36);
  const table = `bench-lag-bare-source-${suffix}`;
  const replicaTable = `bench-lag-bare-replica-${suffix}`;
  await createDemoTable(clients.source, table, true);
  await createDemoTable(clients.replica, replicaTable, false);
  const { streamArn } = await describeTable(clients.source, table);
  const stream = await describeStream(clients.streams, streamArn as string);
  const shardId = stream.shards[0]?.shardId as string;
  const reader = new ShardReader(clients.streams, streamArn as string, shardId, { type: 'TRIM_HORIZON' });
  const lag = new LagRecorder(originFromAttribute(WRITTEN_AT));
  const stop = new AbortController();
  const writes = new Set<Promise<void>>();
  let failure: unknown;
  const fail = (error: unknown) => {
    if (!stop.signal.aborted) failure ??= error;
  };
  const reading = (async () => {
    while (!stop.signal.aborted) {
      const page = await reader.next(stop.signal);
      const last = new Map<string, Change>();
      for (const [i, r] of page.records.entries()) {
        const change = changeFromSdkRecord(r, i, shardId);
        const key = canonicalKey(change.keys);
        last.delete(key);
        last.set(key, change);
      }
      const changes = [...last.values()];
      for (let i = 0; i < changes.length; i += 25) {
        const part = changes.slice(i, i + 25);
        const write = writeBare(clients.replica, replicaTable, part).then(
          () =>
            lag.onBatch({
              shardId,
              changes: part,
              result: undefined as never,
              attempts: 1,
              appliedAt: Date.now(),
            }),
          fail,
        );
        writes.add(write);
        void write.finally(() => writes.delete(write));
      }
    }
  })().catch(fail);
  try {
    return await lagUnderLoad(clients, table, rate, seconds, lag, () => failure);
  } finally {
    stop.abort();
    await reading;
    await Promise.all(writes);
    await clients.source.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
    await clients.replica.send(new DeleteTableCommand({ TableName: replicaTable })).catch(() => {});
  }
}

/** One BatchWriteItem of `changes` (distinct keys), sent again for its unprocessed items. */
async function writeBare(client: DynamoDBClient, table: string, changes: readonly Change[]): Promise<void> {
  let requests: SdkWriteRequest[] = changes.map((c) =>
    c.newImage ? { PutRequest: { Item: c.newImage } } : { DeleteRequest: { Key: c.keys } },
  );
  while (requests.length > 0) {
    const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
    requests = out.UnprocessedItems?.[table] ?? [];
  }
}

/** The runner replicating the same load from a fresh source table to a replica in another region. */
export async function runnerLag(clients: Clients, rate: number, seconds: number, applyNothing = false) {
  const suffix = Date.now().toString(36);
  const sourceTable = `bench-lag-source-${suffix}`;
  const replicaTable = `bench-lag-replica-${suffix}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-lag-'));
  const stop = new AbortController();
  let running: Promise<unknown> | undefined;
  let failure: unknown;
  try {
    await createDemoTable(clients.source, sourceTable, true);
    await createDemoTable(clients.replica, replicaTable, false);
    const { streamArn } = await describeTable(clients.source, sourceTable);
    const lag = new LagRecorder(originFromAttribute(WRITTEN_AT));
    const runner = new StreamRunner({
      streams: clients.streams,
      streamArn: streamArn as string,
      apply: {
        replicas: [{ client: clients.replica, table: replicaTable }],
        keySchema: { hash: { name: 'id', type: 'S' } },
      },
      checkpoint: new FileCheckpointStore(path.join(dir, 'checkpoint.json')),
      from: 'trim-horizon',
      originTime: originFromAttribute(WRITTEN_AT),
      onBatch: lag.onBatch,
      signal: stop.signal,
      // The runner's own cost: every change acknowledged at once, nothing written anywhere.
      ...(applyNothing ? { applier: async (changes: readonly Change[]) => acknowledgeAll(changes) } : {}),
    });
    running = runner.run().catch((error: unknown) => (failure = error));
    return await lagUnderLoad(clients, sourceTable, rate, seconds, lag, () => failure);
  } finally {
    stop.abort();
    await running;
    await clients.source.send(new DeleteTableCommand({ TableName: sourceTable })).catch(() => {});
    await clients.replica.send(new DeleteTableCommand({ TableName: replicaTable })).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

function acknowledgeAll(changes: readonly Change[]) {
  return {
    received: changes.length,
    applied: changes.length,
    skipped: 0,
    failed: [],
    rejected: [],
    rejectedRecords: 0,
    keys: new Set(changes.map((c) => JSON.stringify(c.keys))).size,
    durationMs: 0,
    retries: 0,
  };
}

function clientsFor(endpoint: string, replicaEndpoint: string): Clients & { destroy(): void } {
  const source = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  const replica = new DynamoDBClient({
    endpoint: replicaEndpoint,
    region: 'eu-west-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const streams = new DynamoDBStreamsClient({
    endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  return {
    source,
    replica,
    streams,
    destroy: () => [source, replica, streams].forEach((c) => c.destroy()),
  };
}

/**
 * Where the runner's replica lives: on the source's DynamoDB Local (`shared`: its replica writes load
 * the emulator that serves the source writes and the stream), or on a second one (`separate`: the
 * emulator serving the source carries the same load as under the bare reader), or nowhere
 * (`apply-nothing`: the runner reads, tracks and checkpoints as usual but its applier acknowledges
 * every change at once, so the figure is the runner's own cost without any replica write).
 */
type Layout = 'shared' | 'separate' | 'apply-nothing';
const LAYOUTS: readonly Layout[] = ['shared', 'separate', 'apply-nothing'];
const DEFAULT_LAYOUTS: readonly Layout[] = ['shared', 'apply-nothing'];
const LAYOUT_KEYS: Record<Layout, string> = {
  shared: 'runnerSharedEmulator',
  separate: 'runnerSeparateReplicaEmulator',
  'apply-nothing': 'runnerApplyingNothing',
};

/** Where each layout's bare replicator figures go. */
const FLOOR_KEYS: Record<Layout, string> = {
  shared: 'bareReplicatorSharedEmulator',
  separate: 'bareReplicatorSeparateReplicaEmulator',
  'apply-nothing': '',
};

function envLayouts(): Layout[] {
  const raw = process.env.BENCH_LAG_LAYOUTS;
  if (raw === undefined) return [...DEFAULT_LAYOUTS];
  const values = raw.split(',').map((s) => s.trim());
  const bad = values.find((v) => !(LAYOUTS as readonly string[]).includes(v));
  if (bad !== undefined || values.length === 0)
    throw new Error(`BENCH_LAG_LAYOUTS must be a comma list of ${LAYOUTS.join(', ')}, got "${raw}"`);
  return values as Layout[];
}

/** Runs one measurement on DynamoDB Local(s) of its own (see the module comment). */
export async function onFreshServer<T>(
  layout: Layout,
  measure: (clients: Clients) => Promise<T>,
): Promise<T> {
  const server = await startDynamoDbLocal({ timeoutMs: 120_000 });
  const replicaServer = layout === 'separate' ? await startDynamoDbLocal({ timeoutMs: 120_000 }) : undefined;
  const clients = clientsFor(server.endpoint, replicaServer?.endpoint ?? server.endpoint);
  try {
    return await measure(clients);
  } finally {
    clients.destroy();
    await server.stop();
    await replicaServer?.stop();
  }
}

/** The emulator itself falls behind: the asked rate is not reached, or its own PutItem p99 is slow. */
const SATURATED_PUT_P99_MS = 200;
const SATURATED_RATE_SHARE = 0.9;
/** The runner's goal against the bare reader at every rate the emulator sustains. */
const GOAL_P50_EXTRA_MS = 50;
const GOAL_P99_RATIO = 1.3;

type RunnerRun = Awaited<ReturnType<typeof runnerLag>>;
type BaseRun = Awaited<ReturnType<typeof streamReadLag>>;

type FloorRun = Awaited<ReturnType<typeof bareReplicatorLag>>;

/** The runner's goal against a floor: p50 within +50 ms, p99 within 1.3x. */
function meetsGoal(r: RunnerRun['lag'], floor: BaseRun['lag']): boolean {
  return (
    (r.p50 ?? Infinity) <= (floor.p50 ?? NaN) + GOAL_P50_EXTRA_MS &&
    (r.p99 ?? Infinity) <= (floor.p99 ?? NaN) * GOAL_P99_RATIO
  );
}

const ratio = (a: number | undefined, b: number | undefined) =>
  Math.round(((a ?? NaN) / (b ?? NaN)) * 100) / 100;

/**
 * One layout's runner figures at one rate, against the bare reader's at the same rate and, in a
 * layout with a replica, against the bare replicator's on the same layout.
 */
function runnerFigures(run: RunnerRun, base: BaseRun, floor?: FloorRun): Record<string, unknown> {
  const r = run.lag;
  const b = base.lag;
  const puts = latencies(run.load.putLatencies);
  return {
    achievedWritesPerSecond: Math.round(run.load.achievedWritesPerSecond),
    changes: run.load.measuredWrites,
    lagSamples: r.count,
    lagP50Ms: Math.round(r.p50 ?? NaN),
    lagP99Ms: Math.round(r.p99 ?? NaN),
    lagMaxMs: Math.round(r.max ?? NaN),
    sourcePutP50Ms: puts.p50,
    sourcePutP99Ms: puts.p99,
    lagP50VsStreamRead: ratio(r.p50, b.p50),
    lagP99VsStreamRead: ratio(r.p99, b.p99),
    meetsTargets: (r.p50 ?? Infinity) <= 100 && (r.p99 ?? Infinity) <= 500,
    meetsCurveGoal: meetsGoal(r, b),
    ...(floor
      ? {
          lagP50VsBareReplicator: ratio(r.p50, floor.lag.p50),
          lagP99VsBareReplicator: ratio(r.p99, floor.lag.p99),
          meetsCurveGoalVsBareReplicator: meetsGoal(r, floor.lag),
        }
      : {}),
  };
}

/** The bare replicator's own figures in one layout. */
function floorFigures(floor: FloorRun): Record<string, unknown> {
  const puts = latencies(floor.load.putLatencies);
  return {
    achievedWritesPerSecond: Math.round(floor.load.achievedWritesPerSecond),
    lagSamples: floor.lag.count,
    lagP50Ms: Math.round(floor.lag.p50 ?? NaN),
    lagP99Ms: Math.round(floor.lag.p99 ?? NaN),
    sourcePutP99Ms: puts.p99,
  };
}

/**
 * Runner lag as a curve: the write rate steps up (BENCH_LAG_RATES, default 100, 250, 500, 1000,
 * 2000, 4000) until DynamoDB Local itself falls behind under the bare reader's load (rate not
 * reached, or source PutItem p99 over 200 ms); that last step is still reported, marked
 * `emulatorSaturated`, and no higher one is tried. At each step the runner's lag is measured in each
 * layout (BENCH_LAG_LAYOUTS, default `shared,separate`: the replica on the source's emulator, or on
 * a second one) and compared with the bare reader's: goal p50 within +50 ms and p99 within 1.3x.
 */
export async function measureReplicationLag(
  options: { rates?: readonly number[]; seconds?: number; layouts?: readonly Layout[] } = {},
): Promise<Record<string, unknown>> {
  const rates = options.rates ?? envNumbers('BENCH_LAG_RATES', [100, 250, 500, 1000, 2000, 4000]);
  const seconds = options.seconds ?? envNumbers('BENCH_LAG_SECONDS', [30])[0] ?? 30;
  const layouts = options.layouts ?? envLayouts();
  const out: Record<string, unknown> = {
    lagDefinition: 'replica write acknowledged minus client time before the source PutItem',
    baselineDefinition: 'the same load read by a bare shard reader (record in hand), nothing applied',
    replicaFloorDefinition:
      'layouts with a replica: the same load read by a bare shard reader that writes each page to the ' +
      'replica on the same layout with plain BatchWriteItem (25 per request, no checkpoint, no scheduler)',
    layouts: {
      shared: "the replica table on the source's DynamoDB Local",
      separate: 'the replica table on a second DynamoDB Local',
      'apply-nothing': 'no replica: every change acknowledged at once (the runner alone)',
    },
    seconds,
    targets: { lagP50Ms: 100, lagP99Ms: 500 },
    curveGoal: { p50ExtraMs: GOAL_P50_EXTRA_MS, p99Ratio: GOAL_P99_RATIO },
    saturation: { sourcePutP99Ms: SATURATED_PUT_P99_MS, rateShare: SATURATED_RATE_SHARE },
  };
  for (const rate of rates) {
    const base = await onFreshServer('shared', (clients) => streamReadLag(clients, rate, seconds));
    const basePuts = latencies(base.load.putLatencies);
    const saturated =
      base.load.achievedWritesPerSecond < rate * SATURATED_RATE_SHARE || basePuts.p99 > SATURATED_PUT_P99_MS;
    const step: Record<string, unknown> = {
      targetWritesPerSecond: rate,
      streamReadAchievedWritesPerSecond: Math.round(base.load.achievedWritesPerSecond),
      streamReadLagP50Ms: Math.round(base.lag.p50 ?? NaN),
      streamReadLagP99Ms: Math.round(base.lag.p99 ?? NaN),
      streamReadSourcePutP99Ms: basePuts.p99,
      emulatorSaturated: saturated,
    };
    for (const layout of layouts) {
      const floor =
        layout === 'apply-nothing'
          ? undefined
          : await onFreshServer(layout, (clients) => bareReplicatorLag(clients, rate, seconds));
      if (floor) step[FLOOR_KEYS[layout]] = floorFigures(floor);
      const run = await onFreshServer(layout, (clients) =>
        runnerLag(clients, rate, seconds, layout === 'apply-nothing'),
      );
      step[LAYOUT_KEYS[layout]] = runnerFigures(run, base, floor);
    }
    out[`rate${rate}`] = step;
    process.stderr.write(`bench replicate-lag: ${JSON.stringify(step)}\n`);
    if (saturated) break;
  }
  return out;
}

export const replicateLagSuite: BenchSuite = {
  name: 'replicate-lag',
  run: () => measureReplicationLag(),
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.stdout.write(JSON.stringify({ 'replicate-lag': await measureReplicationLag() }, null, 2) + '\n');
}
