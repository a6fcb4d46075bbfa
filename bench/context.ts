import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** Ceilings measured at the start of the run; every figure is reported as a ratio of one of them. */
export interface Baselines {
  /** Raw BatchWriteItem items/s with several requests in flight: the write ceiling. */
  readonly writeItemsPerSecond: number;
  /** Raw parallel Scan items/s: the read ceiling. */
  readonly scanItemsPerSecond: number;
}

export interface BenchContext {
  /** DynamoDB Local started for this run. */
  readonly endpoint: string;
  /** Client for region us-east-1 with the local credentials (the same database the CLI sees). */
  readonly client: DynamoDBClient;
  /** Items per data set (env BENCH_ITEMS, default 50,000). */
  readonly items: number;
  readonly baselines: Baselines;
  /** A table holding `items` benchmark items (hash key `id` S), shared by suites: do not write to it. */
  readonly sourceTable: string;
  /** A new empty table with the benchmark key schema (hash key `id` S). */
  createEmptyTable(prefix?: string): Promise<string>;
  /** Deletes a table the suite created, to keep the emulator's memory flat between suites. */
  dropTable(table: string): Promise<void>;
}

/**
 * One benchmark module. `run` returns named figures (rates, ratios to the baselines, latencies);
 * the runner collects them under `name` in one JSON object. Add a suite to bench/suites.ts.
 */
export interface BenchSuite {
  readonly name: string;
  run(ctx: BenchContext): Promise<Record<string, unknown>>;
}

/** Rounds a ratio or rate for the report. */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The middle value (upper middle for an even count): rounds of a noisy measurement. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}
