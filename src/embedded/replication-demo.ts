/**
 * The main job on DynamoDB Local: a source table with a stream in one region, a replica in another,
 * the stream runner in-process, a mixed write load (puts, updates, deletes, 38-digit numbers,
 * binary), live lag and throughput, then an item-by-item comparison of the two tables.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { canonicalKey, keyOf } from '../core/canonical-key.js';
import { itemsEqual } from '../core/equality.js';
import type { Item, KeySchema } from '../core/types.js';
import { keepProtoAttributes } from '../dynamodb/attribute-names.js';
import { scanItems } from '../dynamodb/scan.js';
import { createTableFromDescription, describeTable } from '../dynamodb/tables.js';
import { FileCheckpointStore } from '../replicate/checkpoint.js';
import { LagRecorder, originFromAttribute } from '../replicate/lag.js';
import { StreamRunner } from '../replicate/runner.js';
import { LOCAL_CREDENTIALS } from './dynamodb-local.js';
import { sampleItem } from './sample-items.js';

export const SOURCE_REGION = 'us-east-1';
export const REPLICA_REGION = 'eu-west-1';
const KEY_SCHEMA: KeySchema = { hash: { name: 'id', type: 'S' } };
/** The load generator stamps each write with its time, for millisecond lag figures. */
const WRITTEN_AT = 'writtenAt';

export interface ReplicationDemoOptions {
  /** Seconds of write load (default 20). */
  readonly seconds?: number;
  /** Target writes per second (default 300). */
  readonly writesPerSecond?: number;
  /** Distinct keys the load touches (default 1,500). */
  readonly keys?: number;
}

export interface ReplicationDemoResult {
  readonly writes: number;
  readonly records: number;
  readonly sourceItems: number;
  readonly replicaItems: number;
  /** Keys (canonical JSON) that differ or exist on one side only. */
  readonly differences: readonly string[];
  readonly lag: { count: number; p50?: number; p99?: number; max?: number };
}

/** A table keyed by `id` (S), on demand, optionally with a NEW_AND_OLD_IMAGES stream. */
export async function createDemoTable(client: DynamoDBClient, name: string, stream: boolean): Promise<void> {
  await createTableFromDescription(client, {
    TableName: name,
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    ...(stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } } : {}),
  });
}

/** One write of the mixed load: half puts of varied items, 30% updates, 20% deletes. */
async function randomWrite(client: DynamoDBClient, table: string, n: number, keys: number): Promise<void> {
  const k = Math.floor(Math.random() * keys);
  const id = `item-${String(k).padStart(5, '0')}`;
  const now = { N: String(Date.now()) };
  const roll = Math.random();
  if (roll < 0.5) {
    const item: Item = { ...sampleItem(k), [WRITTEN_AT]: now, version: { N: String(n) } };
    await client.send(new PutItemCommand({ TableName: table, Item: item }));
  } else if (roll < 0.8) {
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { id: { S: id } },
        UpdateExpression: 'SET #w = :w, #c = if_not_exists(#c, :zero) + :one, big = :big, payload = :bin',
        ExpressionAttributeNames: { '#w': WRITTEN_AT, '#c': 'counter' },
        ExpressionAttributeValues: {
          ':w': now,
          ':zero': { N: '0' },
          ':one': { N: '1' },
          ':big': { N: `${(n % 9) + 1}${'9'.repeat(36)}.${n % 10}` },
          ':bin': { B: Uint8Array.from({ length: 8 }, (_, i) => (n * 13 + i * 17) % 256) },
        },
      }),
    );
  } else {
    await client.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: id } } }));
  }
}

/** Every item of a table by canonical key. */
async function itemsByKey(client: DynamoDBClient, table: string): Promise<Map<string, Item>> {
  const map = new Map<string, Item>();
  for await (const item of scanItems(client, { table, consistentRead: true }))
    map.set(canonicalKey(keyOf(item, KEY_SCHEMA)), item);
  return map;
}

export async function compareTables(
  source: { client: DynamoDBClient; table: string },
  replica: { client: DynamoDBClient; table: string },
): Promise<{ sourceItems: number; replicaItems: number; differences: string[] }> {
  const [a, b] = await Promise.all([
    itemsByKey(source.client, source.table),
    itemsByKey(replica.client, replica.table),
  ]);
  const differences: string[] = [];
  for (const [key, item] of a) if (!itemsEqual(item, b.get(key))) differences.push(key);
  for (const key of b.keys()) if (!a.has(key)) differences.push(key);
  return { sourceItems: a.size, replicaItems: b.size, differences };
}

function fmt(ms: number | undefined): string {
  return ms === undefined ? '-' : `${Math.round(ms)} ms`;
}

export async function runReplicationDemo(
  endpoint: string,
  log: (line: string) => void,
  options: ReplicationDemoOptions = {},
  signal?: AbortSignal,
): Promise<ReplicationDemoResult> {
  const seconds = options.seconds ?? 20;
  const rate = options.writesPerSecond ?? 300;
  const keys = options.keys ?? 1_500;
  const client = (region: string) =>
    keepProtoAttributes(new DynamoDBClient({ endpoint, region, credentials: LOCAL_CREDENTIALS }));
  const source = client(SOURCE_REGION);
  const replica = client(REPLICA_REGION);
  const streams = keepProtoAttributes(
    new DynamoDBStreamsClient({ endpoint, region: SOURCE_REGION, credentials: LOCAL_CREDENTIALS }),
  );
  const dir = await mkdtemp(path.join(tmpdir(), 'dynamodb-replicator-demo-'));
  const sourceTable = 'demo-source';
  const replicaTable = 'demo-replica';
  const stopRunner = new AbortController();
  let runner: Promise<unknown> | undefined;
  try {
    await createDemoTable(source, sourceTable, true);
    await createDemoTable(replica, replicaTable, false);
    const info = await describeTable(source, sourceTable);
    log(`source  ${SOURCE_REGION}/${sourceTable} (stream NEW_AND_OLD_IMAGES)`);
    log(`replica ${REPLICA_REGION}/${replicaTable}`);

    const lag = new LagRecorder(originFromAttribute(WRITTEN_AT));
    const total = new LagRecorder(originFromAttribute(WRITTEN_AT));
    const stream = new StreamRunner({
      streams,
      streamArn: info.streamArn as string,
      apply: {
        replicas: [{ client: replica, table: replicaTable, label: `${REPLICA_REGION}/${replicaTable}` }],
        keySchema: KEY_SCHEMA,
      },
      checkpoint: new FileCheckpointStore(path.join(dir, 'checkpoint.json')),
      from: 'trim-horizon',
      originTime: originFromAttribute(WRITTEN_AT),
      onBatch: (event) => {
        lag.onBatch(event);
        total.onBatch(event);
      },
      signal: stopRunner.signal,
    });
    let runnerError: unknown;
    runner = stream.run().catch((error: unknown) => {
      runnerError = error;
    });
    log(
      `runner started; writing ~${rate} changes/s for ${seconds} s (puts, updates, deletes, 38-digit numbers, binary)`,
    );

    // The load: a fixed schedule of `rate` writes per second spread over a few concurrent writers.
    let writes = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const writers = Array.from({ length: 8 }, async () => {
      while (performance.now() < deadline && !signal?.aborted && runnerError === undefined) {
        const due = started + (writes * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const n = writes++;
        await randomWrite(source, sourceTable, n, keys);
      }
    });
    let previous = { records: 0, writes: 0, at: performance.now() };
    const ticker = setInterval(() => {
      const stats = stream.stats();
      const now = performance.now();
      const dt = (now - previous.at) / 1000;
      const window = lag.summary();
      lag.reset();
      log(
        `  ${((now - started) / 1000).toFixed(0).padStart(3)} s  writes ${Math.round((writes - previous.writes) / dt)}/s  ` +
          `replicated ${Math.round((stats.records - previous.records) / dt)}/s  ` +
          `lag p50 ${fmt(window.p50)} p99 ${fmt(window.p99)}  (total ${stats.records} records)`,
      );
      previous = { records: stats.records, writes, at: now };
    }, 2_000);
    try {
      await Promise.all(writers);
    } finally {
      clearInterval(ticker);
    }
    if (runnerError) throw runnerError;
    if (signal?.aborted) throw new Error('interrupted');
    log(`load stopped after ${writes} writes; waiting for the replica to catch up`);

    const catchUpStart = performance.now();
    let last = -1;
    let stableSince = performance.now();
    for (;;) {
      if (runnerError) throw runnerError;
      const stats = stream.stats();
      const caughtUp = stats.shards.every((s) => s.state !== 'reading' || s.caughtUp);
      if (stats.records !== last || !caughtUp) {
        last = stats.records;
        stableSince = performance.now();
      } else if (performance.now() - stableSince > 750) break;
      if (performance.now() - catchUpStart > 60_000)
        throw new Error('the replica did not catch up within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    log(
      `caught up in ${((performance.now() - catchUpStart) / 1000).toFixed(1)} s; comparing the tables item by item`,
    );
    stopRunner.abort();
    await runner;
    if (runnerError) throw runnerError;
    const comparison = await compareTables(
      { client: source, table: sourceTable },
      { client: replica, table: replicaTable },
    );
    return {
      writes,
      records: stream.stats().records,
      ...comparison,
      lag: total.summary(),
    };
  } finally {
    stopRunner.abort();
    await runner?.catch(() => {});
    source.destroy();
    replica.destroy();
    streams.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}
