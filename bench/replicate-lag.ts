/**
 * End-to-end replication lag of the stream runner at a steady write rate (default 500 writes/s for
 * 30 s; env BENCH_LAG_RATE, BENCH_LAG_SECONDS).
 *
 * Lag of one change = the moment the item is durably on the replica (the runner's BatchWriteItem
 * acknowledged; the checkpoint save follows off the critical path) minus the client's clock just
 * before the source PutItem was sent. It therefore includes the source write itself, the stream
 * publication, GetRecords polling and the replica write. The write time travels in the item (`writtenAt`), because
 * DynamoDB Local truncates a record's ApproximateCreationDateTime to the minute.
 *
 * Latencies are not ratios, so the same run also reports the source PutItem round trip (p50/p99) as
 * the baseline of this machine's noise. Runs in `npm run bench`, or alone:
 * `node --import tsx bench/replicate-lag.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DeleteTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { describeTable } from '../src/dynamodb/tables.js';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from '../src/embedded/dynamodb-local.js';
import { createDemoTable } from '../src/embedded/replication-demo.js';
import { FileCheckpointStore } from '../src/replicate/checkpoint.js';
import { LagRecorder, originFromAttribute } from '../src/replicate/lag.js';
import { StreamRunner } from '../src/replicate/runner.js';
import type { BenchSuite } from './context.js';

const WRITTEN_AT = 'writtenAt';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!(n > 0)) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return n;
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

export async function measureReplicationLag(
  endpoint: string,
  options: { rate?: number; seconds?: number; warmupSeconds?: number } = {},
): Promise<Record<string, unknown>> {
  const rate = options.rate ?? envNumber('BENCH_LAG_RATE', 500);
  const seconds = options.seconds ?? envNumber('BENCH_LAG_SECONDS', 30);
  const warmup = options.warmupSeconds ?? 3;
  const source = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  const replica = new DynamoDBClient({ endpoint, region: 'eu-west-1', credentials: LOCAL_CREDENTIALS });
  const streams = new DynamoDBStreamsClient({
    endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const suffix = Date.now().toString(36);
  const sourceTable = `bench-lag-source-${suffix}`;
  const replicaTable = `bench-lag-replica-${suffix}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-lag-'));
  const stop = new AbortController();
  let running: Promise<unknown> | undefined;
  try {
    await createDemoTable(source, sourceTable, true);
    await createDemoTable(replica, replicaTable, false);
    const { streamArn } = await describeTable(source, sourceTable);
    const lag = new LagRecorder(originFromAttribute(WRITTEN_AT));
    const runner = new StreamRunner({
      streams,
      streamArn: streamArn as string,
      apply: {
        replicas: [{ client: replica, table: replicaTable }],
        keySchema: { hash: { name: 'id', type: 'S' } },
      },
      checkpoint: new FileCheckpointStore(path.join(dir, 'checkpoint.json')),
      from: 'trim-horizon',
      originTime: originFromAttribute(WRITTEN_AT),
      onBatch: lag.onBatch,
      signal: stop.signal,
    });
    let failure: unknown;
    running = runner.run().catch((error: unknown) => (failure = error));

    const putLatencies: number[] = [];
    let writes = 0;
    let measuredWrites = 0;
    const load = async (durationSeconds: number, record: boolean): Promise<number> => {
      const started = performance.now();
      const end = started + durationSeconds * 1000;
      let sent = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          for (;;) {
            const due = started + (sent * 1000) / rate;
            if (due >= end || failure) return;
            sent++;
            const wait = due - performance.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            const n = writes++;
            const t0 = performance.now();
            await source.send(
              new PutItemCommand({
                TableName: sourceTable,
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
    await load(warmup, false);
    await new Promise((r) => setTimeout(r, 500));
    lag.reset();
    const before = writes;
    const achieved = await load(seconds, true);
    measuredWrites = writes - before;
    // Let the last changes arrive before reading the figures.
    const deadline = performance.now() + 10_000;
    while (lag.count < measuredWrites && performance.now() < deadline && !failure)
      await new Promise((r) => setTimeout(r, 50));
    if (failure) throw failure;
    const summary = lag.summary();
    const sortedPuts = [...putLatencies].sort((a, b) => a - b);
    return {
      lagDefinition:
        'replica write acknowledged + checkpoint saved, minus client time before the source PutItem',
      targetWritesPerSecond: rate,
      achievedWritesPerSecond: Math.round(achieved),
      seconds,
      changes: measuredWrites,
      lagSamples: summary.count,
      lagP50Ms: Math.round(summary.p50 ?? NaN),
      lagP99Ms: Math.round(summary.p99 ?? NaN),
      lagMaxMs: Math.round(summary.max ?? NaN),
      baselineSourcePutP50Ms: Math.round(percentile(sortedPuts, 0.5) * 10) / 10,
      baselineSourcePutP99Ms: Math.round(percentile(sortedPuts, 0.99) * 10) / 10,
      // Lag in units of one source write on this machine in this run: comparable across noisy runs.
      lagP50ToSourcePutP50: Math.round(((summary.p50 ?? NaN) / percentile(sortedPuts, 0.5)) * 10) / 10,
      targets: { lagP50Ms: 100, lagP99Ms: 500 },
      meetsTargets: (summary.p50 ?? Infinity) <= 100 && (summary.p99 ?? Infinity) <= 500,
    };
  } finally {
    stop.abort();
    await running;
    await source.send(new DeleteTableCommand({ TableName: sourceTable })).catch(() => {});
    await replica.send(new DeleteTableCommand({ TableName: replicaTable })).catch(() => {});
    source.destroy();
    replica.destroy();
    streams.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

export const replicateLagSuite: BenchSuite = {
  name: 'replicate-lag',
  run: (ctx) => measureReplicationLag(ctx.endpoint),
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const server = await startDynamoDbLocal();
  try {
    process.stdout.write(
      JSON.stringify({ 'replicate-lag': await measureReplicationLag(server.endpoint) }, null, 2) + '\n',
    );
  } finally {
    await server.stop();
  }
}
