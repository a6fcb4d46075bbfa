/** Shared set-up for the diff-* integration tests: a primary and a replica "region" on one DynamoDB Local. */
import { BatchWriteItemCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { runCliCapture, type CliResult } from '../harness/cli.js';
import { canonicalKey, keyOf } from '../../src/core/canonical-key.js';
import type { Item, KeySchema } from '../../src/core/types.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';

export const HASH_RANGE: KeySchema = {
  hash: { name: 'hash', type: 'S' },
  range: { name: 'range', type: 'S' },
};

export interface Pair {
  readonly primaryClient: DynamoDBClient;
  readonly replicaClient: DynamoDBClient;
  readonly primary: string;
  readonly replica: string;
  /** Locations as the CLI takes them. */
  readonly primaryLocation: string;
  readonly replicaLocation: string;
  readonly endpoint: string;
}

/** Two hash+range tables: the primary in us-east-1, the replica in eu-west-1 of the same server. */
export async function createPair(options: { stream?: boolean } = {}): Promise<Pair> {
  const endpoint = await dynamoEndpoint();
  const primaryClient = dynamoClient(endpoint, 'us-east-1');
  const replicaClient = dynamoClient(endpoint, 'eu-west-1');
  const spec = {
    hash: HASH_RANGE.hash,
    range: HASH_RANGE.range as NonNullable<KeySchema['range']>,
  };
  const primary = await createTestTable(primaryClient, {
    ...spec,
    ...(options.stream ? { stream: 'NEW_AND_OLD_IMAGES' as const } : {}),
  });
  const replica = await createTestTable(replicaClient, spec);
  return {
    primaryClient,
    replicaClient,
    primary,
    replica,
    primaryLocation: `${endpoint}/${primary}?region=us-east-1`,
    replicaLocation: `${endpoint}/${replica}?region=eu-west-1`,
    endpoint,
  };
}

/** Puts items with plain BatchWriteItem (test set-up only), resending anything unprocessed. */
export async function putItems(client: DynamoDBClient, table: string, items: readonly Item[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    let request = { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) };
    for (;;) {
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: request }));
      const rest = out.UnprocessedItems?.[table];
      if (!rest?.length) break;
      request = { [table]: rest as (typeof request)[string] };
    }
  }
}

/** Every item of a table, by canonical key. */
export async function scanAll(client: DynamoDBClient, table: string): Promise<Map<string, Item>> {
  const out = new Map<string, Item>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start as never }),
    );
    for (const item of (page.Items ?? []) as Item[]) out.set(canonicalKey(keyOf(item, HASH_RANGE)), item);
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

export function row(range: string, other: Item[string], hash = 'hash1'): Item {
  return { hash: { S: hash }, range: { S: range }, other };
}

export function keyText(range: string, hash = 'hash1'): string {
  return canonicalKey({ hash: { S: hash }, range: { S: range } });
}

/** The JSON lines of a report file, parsed. */
export function readReport(
  file: string,
): Array<{ kind: string; key: Record<string, unknown>; [k: string]: unknown }> {
  const text = readFileSync(file, 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { kind: string; key: Record<string, unknown> });
}

/** A report line's key as `kind range` for hash+range test tables, sorted for exact comparison. */
export function kindsByRange(lines: ReadonlyArray<{ kind: string; key: Record<string, unknown> }>): string[] {
  return lines.map((l) => `${l.kind} ${(l.key.range as { S: string }).S}`).sort();
}

/** `diff-tables <primary> <replica> ...args` in-process. */
export function diffCli(pair: Pair, args: readonly string[] = []): Promise<CliResult> {
  return runCliCapture(['diff-tables', pair.primaryLocation, pair.replicaLocation, ...args]);
}

export interface Outcome {
  readonly code: number;
  readonly counts: unknown;
  readonly scanned: unknown;
  readonly rechecked: unknown;
  /** Report lines, sorted. */
  readonly lines: string[];
  readonly result: CliResult;
}

/** A diff-tables run with --json and --report: its exit code, counts and sorted report lines. */
export async function outcome(argv: string[], env?: NodeJS.ProcessEnv): Promise<Outcome> {
  const report = path.join(mkdtempSync(path.join(tmpdir(), 'verify-report-')), 'report.jsonl');
  const r = await runCliCapture([...argv, '--json', '--report', report], env ? { env } : {});
  const out = r.code === 2 ? {} : (JSON.parse(r.stdout) as Record<string, unknown>);
  const text = r.code === 2 ? '' : readFileSync(report, 'utf8');
  return {
    code: r.code,
    counts: out.discrepancies,
    scanned: out.scanned,
    rechecked: out.rechecked,
    lines: text.split('\n').filter(Boolean).sort(),
    result: r,
  };
}

/** The one-process diff and the job on the same data: the same exit code, counts and report lines. */
export async function assertSameAsOneProcess(
  table: string,
  backup: string,
  job: string[],
  extra: string[] = [],
  env?: NodeJS.ProcessEnv,
): Promise<Outcome> {
  const one = await outcome(['diff-tables', table, backup, '--against-backup', ...extra], env);
  assert.notEqual(one.code, 2, one.result.stderr);
  const viaJob = await outcome(['diff-tables', table, backup, '--against-backup', ...extra, ...job], env);
  assert.equal(viaJob.code, one.code, viaJob.result.stderr);
  assert.deepEqual(viaJob.counts, one.counts);
  assert.deepEqual(viaJob.scanned, one.scanned);
  assert.deepEqual(viaJob.rechecked, one.rechecked);
  assert.deepEqual(viaJob.lines, one.lines);
  return viaJob;
}
