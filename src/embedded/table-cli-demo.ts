import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { canonicalKey, keyOf } from '../core/canonical-key.js';
import { itemsEqual } from '../core/equality.js';
import { parseTableLocation } from '../core/location.js';
import type { Item, KeySchema } from '../core/types.js';
import { runCli } from '../cli/run.js';
import { createDynamoClient } from '../dynamodb/client.js';
import { scanItems } from '../dynamodb/scan.js';
import { createTableFromDescription } from '../dynamodb/tables.js';
import { writeAll } from '../dynamodb/writer.js';
import { sampleItems } from './sample-items.js';

export interface TableCliDemoResult {
  readonly items: number;
  readonly equal: number;
  readonly different: readonly string[];
  readonly missing: readonly string[];
}

const SCHEMA: KeySchema = { hash: { name: 'id', type: 'S' } };

/**
 * The table CLI end to end on a DynamoDB endpoint: create a table, load varied items, `export` it
 * to a gzip file, `import` the file into a second table created from the export's description,
 * then compare both tables item by item. `log` receives the human-readable report line by line.
 */
export async function runTableCliDemo(
  endpoint: string,
  log: (line: string) => void,
  options: { items?: number } = {},
): Promise<TableCliDemoResult> {
  const count = options.items ?? 300;
  const suffix = Date.now().toString(36);
  const source = `${endpoint}/demo-source-${suffix}`;
  const target = `${endpoint}/demo-copy-${suffix}`;
  const client = createDynamoClient(parseTableLocation(source));
  const dir = await mkdtemp(path.join(tmpdir(), 'ddbr-demo-'));
  try {
    const sourceTable = parseTableLocation(source).table;
    await createTable(client, sourceTable);
    const items = sampleItems(count);
    await writeAll(
      client,
      sourceTable,
      items.map((put) => ({ put })),
      { keySchema: SCHEMA },
    );
    log(
      `created ${sourceTable} and loaded ${count} items: 38-digit and 1E-130 numbers, binary and binary sets, ` +
        'string and number sets, nested maps and lists, empty strings',
    );

    const file = path.join(dir, 'demo-source.ndjson.gz');
    await cli(['export', source, file], log);
    await cli(['import', file, target, '--create'], log);

    const result = await compareTables(client, sourceTable, parseTableLocation(target).table);
    log(
      result.different.length === 0 && result.missing.length === 0
        ? `compared ${result.items} items: all ${result.equal} equal, value for value`
        : `compared ${result.items} items: ${result.different.length} differ, ${result.missing.length} missing`,
    );
    return result;
  } finally {
    client.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A plain on-demand table keyed by `id` (S), created as a description would recreate it. */
async function createTable(client: DynamoDBClient, table: string): Promise<void> {
  await createTableFromDescription(client, {
    TableName: table,
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
  });
}

/** Runs one CLI command in-process, echoing it and its output; a non-zero exit is an error. */
async function cli(argv: string[], log: (line: string) => void): Promise<void> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  log(`$ dynamodb-replicator ${argv.join(' ')}`);
  const code = await runCli(argv, { stdout: out, stderr: out, env: process.env });
  for (const line of text.trimEnd().split('\n')) log(`  ${line}`);
  if (code !== 0) throw new Error(`dynamodb-replicator ${argv[0]} exited with code ${code}`);
}

async function compareTables(client: DynamoDBClient, a: string, b: string): Promise<TableCliDemoResult> {
  const expected = new Map<string, Item>();
  for await (const item of scanItems(client, { table: a, segments: 2 })) {
    expected.set(canonicalKey(keyOf(item, SCHEMA)), item);
  }
  const different: string[] = [];
  let equal = 0;
  for await (const item of scanItems(client, { table: b, segments: 2 })) {
    const key = canonicalKey(keyOf(item, SCHEMA));
    if (itemsEqual(expected.get(key), item)) equal++;
    else different.push(key);
    expected.delete(key);
  }
  return { items: equal + different.length + expected.size, equal, different, missing: [...expected.keys()] };
}
