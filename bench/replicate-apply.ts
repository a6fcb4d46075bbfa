/**
 * Replication apply throughput: the `replicate` Lambda handler fed 20,000 records captured from a real
 * DynamoDB Local stream, in the exact Lambda event shape, in batches of 100 (Lambda's default batch
 * size). Reported as records/s and as a ratio of the raw BatchWriteItem ceiling of the same run.
 * `sequential` is one shard (one batch at a time, as Lambda delivers a shard): at most 100 writes are
 * in flight and each batch ends with a drain, against the raw ceiling's 8 x 25 = 200 in flight
 * without pauses, so it cannot reach the ceiling whatever the handler does. `shards4` runs four
 * batches at once, as Lambda does for four shards or a ParallelizationFactor of 4: that is the
 * engine's apply rate once the stream delivers enough records. Each is measured
 * right after a raw BatchWriteItem run of the same items into a fresh table, so the ratio compares
 * like with like on a warm, noisy machine; three rounds, median ratio reported (every round listed).
 */
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { LOCAL_CREDENTIALS } from '../src/embedded/dynamodb-local.js';
import { readReplicateConfig } from '../src/lambda/config.js';
import { createLogger } from '../src/lambda/log.js';
import { createReplicateHandler } from '../src/lambda/replicate.js';
import type { LambdaStreamEvent } from '../src/core/change-sources.js';
import { createStreamTable, readStream, toLambdaEvent } from '../test/harness/stream-capture.js';
import { benchItem, rawBatchWrite } from './baselines.js';
import { median, round, type BenchContext, type BenchSuite } from './context.js';

const RECORDS = 20_000;
const BATCH = 100;
const ROUNDS = 3;

/** Runs `events` through the handler with `parallel` invocations at a time; returns records/s. */
async function feed(
  ctx: BenchContext,
  events: readonly LambdaStreamEvent[],
  parallel: number,
): Promise<{ recordsPerSecond: number; failures: number }> {
  const table = await ctx.createEmptyTable('bench-replica');
  const config = readReplicateConfig({
    ReplicaTable: table,
    ReplicaRegion: 'us-east-1',
    ReplicaEndpoint: ctx.endpoint,
    ReplicaAccessKeyId: LOCAL_CREDENTIALS.accessKeyId,
    ReplicaSecretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
  });
  // Log and EMF metric lines are built as in Lambda, then discarded instead of mixing into the report.
  const handle = createReplicateHandler(config, {
    logger: createLogger({ level: 'info', write: () => {} }),
    metrics: () => {},
  });
  await handle({ Records: [] });
  let failures = 0;
  let next = 0;
  const records = events.reduce((n, e) => n + e.Records.length, 0);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < events.length) {
        const event = events[next++] as LambdaStreamEvent;
        const out = await handle(event);
        failures += out.batchItemFailures.length;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await ctx.dropTable(table);
  return { recordsPerSecond: records / seconds, failures };
}

export const replicateApplySuite: BenchSuite = {
  name: 'replicate-apply',
  async run(ctx) {
    const client = new DynamoDBClient({
      endpoint: ctx.endpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
    const streams = new DynamoDBStreamsClient({
      endpoint: ctx.endpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
    const source = await createStreamTable(client, 'bench-stream');
    try {
      await rawBatchWrite(client, source, RECORDS, benchItem);
      const capture = await readStream(client, streams, source, RECORDS, 60_000);
      const records = capture.records.slice(0, RECORDS);
      const events: LambdaStreamEvent[] = [];
      for (let i = 0; i < records.length; i += BATCH)
        events.push(toLambdaEvent(capture, records.slice(i, i + BATCH)));
      const ceiling = ctx.baselines.writeItemsPerSecond;
      const rawCeiling = async (): Promise<number> => {
        const table = await ctx.createEmptyTable('bench-raw');
        const rate = await rawBatchWrite(client, table, RECORDS, benchItem);
        await ctx.dropTable(table);
        return rate;
      };
      // DynamoDB Local's speed drifts by +-20% between runs of a few seconds (JIT, GC, table growth):
      // each handler run is paired with a raw run right before it, and the median ratio is reported.
      const rounds: Array<{ sequential: number; shards4: number }> = [];
      let failures = 0;
      let sequentialRate = 0;
      let shards4Rate = 0;
      for (let round_ = 0; round_ < ROUNDS; round_++) {
        const ceiling1 = await rawCeiling();
        const sequential = await feed(ctx, events, 1);
        const ceiling4 = await rawCeiling();
        const shards4 = await feed(ctx, events, 4);
        failures += sequential.failures + shards4.failures;
        sequentialRate = Math.max(sequentialRate, sequential.recordsPerSecond);
        shards4Rate = Math.max(shards4Rate, shards4.recordsPerSecond);
        rounds.push({
          sequential: round(sequential.recordsPerSecond / ceiling1),
          shards4: round(shards4.recordsPerSecond / ceiling4),
        });
      }
      return {
        records: records.length,
        batchSize: BATCH,
        rounds: ROUNDS,
        sequentialRatioToWriteCeiling: median(rounds.map((r) => r.sequential)),
        shards4RatioToWriteCeiling: median(rounds.map((r) => r.shards4)),
        sequentialRatios: rounds.map((r) => r.sequential),
        shards4Ratios: rounds.map((r) => r.shards4),
        bestSequentialRecordsPerSecond: Math.round(sequentialRate),
        bestShards4RecordsPerSecond: Math.round(shards4Rate),
        runWriteCeiling: Math.round(ceiling),
        batchItemFailures: failures,
      };
    } finally {
      await client.send(new DeleteTableCommand({ TableName: source }));
      client.destroy();
      streams.destroy();
    }
  },
};
