/**
 * `npm run bench`: starts DynamoDB Local, measures the raw ceilings (BatchWriteItem items/s, parallel
 * Scan items/s), runs every suite of bench/suites.ts in sequence, prints one JSON object and writes
 * it to bench/results/latest.json (and a Markdown table to latest.md). Figures are ratios to ceilings measured in the same run, because
 * the machines are shared and noisy. Env: BENCH_ITEMS (default 50000), BENCH_SUITES (comma list of
 * suite names to run; default all).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTableFromDescription } from '../src/dynamodb/tables.js';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from '../src/embedded/dynamodb-local.js';
import { rawBatchWrite, rawParallelScan, RAW_SCAN_SEGMENTS, RAW_WRITE_CONCURRENCY } from './baselines.js';
import { round, type BenchContext } from './context.js';
import { markdownReport } from './report-markdown.js';
import { SUITES } from './suites.js';

// The CLI commands run in-process resolve credentials from the environment: use the same local pair
// as `client` so both see the same DynamoDB Local database.
process.env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function benchItems(): number {
  const raw = process.env.BENCH_ITEMS ?? '50000';
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 100)
    throw new Error(`BENCH_ITEMS must be a whole number >= 100, got "${raw}"`);
  return n;
}

let tableCounter = 0;

async function createTable(client: DynamoDBClient, prefix: string): Promise<string> {
  const name = `${prefix}-${++tableCounter}-${Date.now().toString(36)}`;
  await createTableFromDescription(client, {
    TableName: name,
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
  });
  return name;
}

async function main(): Promise<void> {
  const items = benchItems();
  const only = process.env.BENCH_SUITES?.split(',').map((s) => s.trim());
  const suites = only ? SUITES.filter((s) => only.includes(s.name)) : SUITES;
  const server = await startDynamoDbLocal({ timeoutMs: 120_000 });
  const client = new DynamoDBClient({
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    // Warm the emulator's JVM first: a cold JIT would make the ceilings, and so every ratio, wrong.
    const warmup = await createTable(client, 'bench-warmup');
    await rawBatchWrite(client, warmup, Math.min(items, 10_000));
    await rawParallelScan(client, warmup);
    await client.send(new DeleteTableCommand({ TableName: warmup }));
    const sourceTable = await createTable(client, 'bench-source');
    const writeItemsPerSecond = await rawBatchWrite(client, sourceTable, items);
    const scan = await rawParallelScan(client, sourceTable);
    if (scan.items !== items) throw new Error(`raw scan read ${scan.items} of ${items} items`);
    const ctx: BenchContext = {
      endpoint: server.endpoint,
      client,
      items,
      baselines: { writeItemsPerSecond, scanItemsPerSecond: scan.itemsPerSecond },
      sourceTable,
      createEmptyTable: (prefix = 'bench') => createTable(client, prefix),
      dropTable: async (table) => {
        await client.send(new DeleteTableCommand({ TableName: table }));
      },
    };
    const results: Record<string, unknown> = {};
    for (const suite of suites) {
      process.stderr.write(`bench: ${suite.name}...\n`);
      const started = performance.now();
      // Peak resident memory of this process while the suite runs (child processes not included).
      let peakRss = process.memoryUsage.rss();
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
      try {
        results[suite.name] = {
          ...(await suite.run(ctx)),
          seconds: round((performance.now() - started) / 1000, 1),
          peakRssMb: Math.round(Math.max(peakRss, process.memoryUsage.rss()) / 2 ** 20),
        };
      } catch (error) {
        results[suite.name] = { error: error instanceof Error ? error.message : String(error) };
      } finally {
        clearInterval(sampler);
      }
    }
    const report = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      items,
      baselines: {
        rawBatchWriteItemsPerSecond: Math.round(writeItemsPerSecond),
        rawBatchWriteConcurrency: RAW_WRITE_CONCURRENCY,
        rawParallelScanItemsPerSecond: Math.round(scan.itemsPerSecond),
        rawScanSegments: RAW_SCAN_SEGMENTS,
      },
      suites: results,
    };
    const text = JSON.stringify(report, null, 2);
    process.stdout.write(text + '\n');
    const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'latest.json'), text + '\n');
    await writeFile(path.join(dir, 'latest.md'), markdownReport(report));
    if (Object.values(results).some((r) => (r as { error?: unknown }).error !== undefined))
      process.exitCode = 1;
  } finally {
    client.destroy();
    await server.stop();
  }
}

await main();
