import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseTableLocation } from '../src/core/location.js';
import { createDynamoClient } from '../src/dynamodb/client.js';
import { createRegionalClient } from '../src/dynamodb/regional-client.js';
import { median, round, type BenchContext, type BenchSuite } from './context.js';

const ROUNDS = 10;
const READS_PER_ROUND = 200;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Sequential GetItems of existing keys (bench/baselines.ts names them); returns each read's latency in ms. */
async function reads(client: DynamoDBClient, table: string, keys: readonly string[]): Promise<number[]> {
  const latencies: number[] = [];
  for (const id of keys) {
    const started = performance.now();
    await client.send(new GetItemCommand({ TableName: table, Key: { id: { S: id } } }));
    latencies.push(performance.now() - started);
  }
  return latencies;
}

/**
 * The failover client's cost per read: sequential GetItem latency through a plain client, through
 * the regional client served by its first member, and through the regional client while its first
 * member is down (an endpoint nobody listens on: the breaker is open, reads go to the second).
 * Rounds alternate between the three so the machine's drift hits them alike; figures are p50/p99
 * in ms and the regional/plain ratios of the medians.
 */
export const regionalClientSuite: BenchSuite = {
  name: 'regional-client',
  async run(ctx: BenchContext) {
    const location = `${ctx.endpoint}/${ctx.sourceTable}`;
    const plain = createDynamoClient(parseTableLocation(location));
    const healthy = createRegionalClient({ members: [location], home: location, table: 'bench' });
    const failedOver = createRegionalClient({
      members: [
        { name: 'gone', location: 'http://127.0.0.1:1/bench' },
        { name: 'up', location },
      ],
      home: 'up',
      table: 'bench',
      breaker: { failureThreshold: 1 },
    });
    const keys = Array.from({ length: READS_PER_ROUND }, (_, i) => `item-${String(i).padStart(8, '0')}`);
    const samples = { plain: [] as number[], healthy: [] as number[], failedOver: [] as number[] };
    try {
      // Warm-up: connections, the JIT, and the failed-over client's breaker opening.
      await reads(plain, ctx.sourceTable, keys.slice(0, 20));
      await reads(healthy, 'bench', keys.slice(0, 20));
      await reads(failedOver, 'bench', keys.slice(0, 20));
      for (let r = 0; r < ROUNDS; r++) {
        samples.plain.push(...(await reads(plain, ctx.sourceTable, keys)));
        samples.healthy.push(...(await reads(healthy, 'bench', keys)));
        samples.failedOver.push(...(await reads(failedOver, 'bench', keys)));
      }
    } finally {
      plain.destroy();
      healthy.close();
      failedOver.close();
    }
    const stats = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return { p50Ms: round(median(sorted)), p99Ms: round(percentile(sorted, 99)) };
    };
    const plainStats = stats(samples.plain);
    const healthyStats = stats(samples.healthy);
    const failedOverStats = stats(samples.failedOver);
    return {
      reads: samples.plain.length,
      plain: plainStats,
      regional: healthyStats,
      regionalFailedOver: failedOverStats,
      regionalP50Ratio: round(healthyStats.p50Ms / plainStats.p50Ms),
      failedOverP50Ratio: round(failedOverStats.p50Ms / plainStats.p50Ms),
    };
  },
};
