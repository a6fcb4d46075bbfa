/**
 * The main job on DynamoDB Local: a source table with a stream in one region, a replica in another,
 * the stream runner in-process, a mixed write load (puts, updates, deletes, 38-digit numbers,
 * binary), live lag and throughput, then an item-by-item comparison of the two tables.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { canonicalKey, keyOf } from '../core/canonical-key.js';
import { itemsEqual } from '../core/equality.js';
import type { Item, KeySchema } from '../core/types.js';
import { createDynamoClient } from '../dynamodb/client.js';
import { createStreamsClient } from '../streams/client.js';
import { scanItems } from '../dynamodb/scan.js';
import { createTableFromDescription, describeTable } from '../dynamodb/tables.js';
import { FileCheckpointStore } from '../replicate/checkpoint.js';
import { LagRecorder, originFromAttribute } from '../replicate/lag.js';
import { StreamRunner } from '../replicate/runner.js';
import { StatusTracker } from '../replicate/status.js';
import { startStatusPage, type StatusPage } from '../cli/status-server.js';
import { formatVerifyOutcome, runVerifyChecks, verifyChecks } from '../diff/verify.js';
import type { DiscrepancyCounts } from '../diff/diff-tables.js';
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
  /** The status page's port on 127.0.0.1 (default 0: any free port). */
  readonly statusPort?: number;
}

export interface ReplicationDemoResult {
  readonly writes: number;
  readonly records: number;
  readonly sourceItems: number;
  readonly replicaItems: number;
  /** Keys (canonical JSON) that differ or exist on one side only. */
  readonly differences: readonly string[];
  readonly lag: { count: number; p50?: number; p99?: number; max?: number };
  /** The verify job's run after the catch-up (what `replicate --verify-every` runs each interval). */
  readonly verified: DiscrepancyCounts;
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
  const demo = new DemoRun(endpoint, log, options, signal);
  try {
    await demo.makeWorkDir();
    const streamArn = await demo.createTables();
    await demo.startStatusPage();
    demo.startRunner(streamArn);
    await demo.runLoad();
    await demo.waitForCatchUp();
    await demo.stopRunner();
    return await demo.result(await demo.verify());
  } finally {
    await demo.close();
  }
}

const SOURCE_TABLE = 'demo-source';
const REPLICA_TABLE = 'demo-replica';

/** One demo: its clients, the runner in-process, the load's count and the lag it measures. */
class DemoRun {
  private readonly source: DynamoDBClient;
  private readonly replica: DynamoDBClient;
  private readonly streams: ReturnType<typeof createStreamsClient>;
  private readonly seconds: number;
  private readonly rate: number;
  private readonly keys: number;
  private readonly stopSignal = new AbortController();
  /** Lag of the batches since the last tick, and of the whole run. */
  private readonly lag = new LagRecorder(originFromAttribute(WRITTEN_AT));
  private readonly total = new LagRecorder(originFromAttribute(WRITTEN_AT));
  private readonly tracker = new StatusTracker({
    source: `${SOURCE_REGION}/${SOURCE_TABLE}`,
    replicas: [`${REPLICA_REGION}/${REPLICA_TABLE}`],
    origin: originFromAttribute(WRITTEN_AT),
  });
  private page: StatusPage | undefined;
  private dir: string | undefined;
  private stream: StreamRunner | undefined;
  private runner: Promise<unknown> | undefined;
  private runnerError: unknown;
  private writes = 0;

  constructor(
    endpoint: string,
    private readonly log: (line: string) => void,
    private readonly options: ReplicationDemoOptions,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.seconds = options.seconds ?? 20;
    this.rate = options.writesPerSecond ?? 300;
    this.keys = options.keys ?? 1_500;
    const at = (region: string) => ({ kind: 'endpoint', endpoint, region }) as const;
    const local = { credentials: LOCAL_CREDENTIALS };
    this.source = createDynamoClient(at(SOURCE_REGION), local);
    this.replica = createDynamoClient(at(REPLICA_REGION), local);
    this.streams = createStreamsClient(at(SOURCE_REGION), local);
  }

  /** The source table with its stream and the replica table; returns the stream's ARN. */
  async createTables(): Promise<string> {
    await createDemoTable(this.source, SOURCE_TABLE, true);
    await createDemoTable(this.replica, REPLICA_TABLE, false);
    const info = await describeTable(this.source, SOURCE_TABLE);
    this.log(`source  ${SOURCE_REGION}/${SOURCE_TABLE} (stream NEW_AND_OLD_IMAGES)`);
    this.log(`replica ${REPLICA_REGION}/${REPLICA_TABLE}`);
    return info.streamArn as string;
  }

  /** The runner's status page (open while the demo runs), its address printed. */
  async startStatusPage(): Promise<void> {
    this.page = await startStatusPage(this.options.statusPort ?? 0, this.tracker);
    this.log(`status page on ${this.page.url} (lag chart, shards, /metrics, /healthz) while the demo runs`);
  }

  /** A private directory for the runner's checkpoint file, removed by close(). */
  async makeWorkDir(): Promise<void> {
    this.dir = await mkdtemp(path.join(tmpdir(), 'dynamodb-replicator-demo-'));
  }

  /** The stream runner, in-process, its checkpoint a file in the work directory; a failure is kept for later. */
  startRunner(streamArn: string): void {
    this.stream = new StreamRunner({
      streams: this.streams,
      streamArn,
      apply: {
        replicas: [
          { client: this.replica, table: REPLICA_TABLE, label: `${REPLICA_REGION}/${REPLICA_TABLE}` },
        ],
        keySchema: KEY_SCHEMA,
      },
      checkpoint: new FileCheckpointStore(path.join(this.dir as string, 'checkpoint.json')),
      from: 'trim-horizon',
      originTime: originFromAttribute(WRITTEN_AT),
      onBatch: (event) => {
        this.lag.onBatch(event);
        this.total.onBatch(event);
        this.tracker.onBatch(event);
      },
      signal: this.stopSignal.signal,
    });
    this.tracker.attach(this.stream, Date.now());
    this.runner = this.stream.run().then(
      (summary) => this.tracker.onEvent({ event: 'stopped', ...summary }, Date.now()),
      (error: unknown) => {
        this.runnerError = error;
        this.tracker.finish(error);
      },
    );
    this.log(
      `runner started; writing ~${this.rate} changes/s for ${this.seconds} s (puts, updates, deletes, 38-digit numbers, binary)`,
    );
  }

  private get running(): StreamRunner {
    return this.stream as StreamRunner;
  }

  /** The load: a fixed schedule of `rate` writes per second spread over a few concurrent writers. */
  async runLoad(): Promise<void> {
    const started = performance.now();
    const deadline = started + this.seconds * 1000;
    const writers = Array.from({ length: 8 }, async () => {
      while (performance.now() < deadline && !this.signal?.aborted && this.runnerError === undefined) {
        const due = started + (this.writes * 1000) / this.rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const n = this.writes++;
        await randomWrite(this.source, SOURCE_TABLE, n, this.keys);
      }
    });
    const ticker = this.startTicker(started);
    try {
      await Promise.all(writers);
    } finally {
      clearInterval(ticker);
    }
    if (this.runnerError) throw this.runnerError;
    if (this.signal?.aborted) throw new Error('interrupted');
    this.log(`load stopped after ${this.writes} writes; waiting for the replica to catch up`);
  }

  /** Every 2 s: write and replication rates and the lag of the batches since the last line. */
  private startTicker(started: number): ReturnType<typeof setInterval> {
    let previous = { records: 0, writes: 0, at: performance.now() };
    return setInterval(() => {
      const stats = this.running.stats();
      const now = performance.now();
      const dt = (now - previous.at) / 1000;
      const window = this.lag.summary();
      this.lag.reset();
      this.log(
        `  ${((now - started) / 1000).toFixed(0).padStart(3)} s  writes ${Math.round((this.writes - previous.writes) / dt)}/s  ` +
          `replicated ${Math.round((stats.records - previous.records) / dt)}/s  ` +
          `lag p50 ${fmt(window.p50)} p99 ${fmt(window.p99)}  (total ${stats.records} records)`,
      );
      previous = { records: stats.records, writes: this.writes, at: now };
    }, 2_000);
  }

  /** Until every reading shard is caught up and the record count has not moved for 750 ms (60 s at most). */
  async waitForCatchUp(): Promise<void> {
    const catchUpStart = performance.now();
    let last = -1;
    let stableSince = performance.now();
    for (;;) {
      if (this.runnerError) throw this.runnerError;
      const stats = this.running.stats();
      const caughtUp = stats.shards.every((s) => s.state !== 'reading' || s.caughtUp);
      if (stats.records !== last || !caughtUp) {
        last = stats.records;
        stableSince = performance.now();
      } else if (performance.now() - stableSince > 750) break;
      if (performance.now() - catchUpStart > 60_000)
        throw new Error('the replica did not catch up within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    this.log(
      `caught up in ${((performance.now() - catchUpStart) / 1000).toFixed(1)} s; comparing the tables item by item`,
    );
  }

  async stopRunner(): Promise<void> {
    this.stopSignal.abort();
    await this.runner;
    if (this.runnerError) throw this.runnerError;
  }

  /** One run of the verify job (the diff engine) over the pair, as the runner's --verify-every runs it. */
  async verify(): Promise<DiscrepancyCounts> {
    const [outcome] = await runVerifyChecks(
      verifyChecks({
        source: { client: this.source, table: SOURCE_TABLE, label: `${SOURCE_REGION}/${SOURCE_TABLE}` },
        replicas: [
          { client: this.replica, table: REPLICA_TABLE, label: `${REPLICA_REGION}/${REPLICA_TABLE}` },
        ],
      }),
    );
    if (!outcome?.ok) throw outcome?.error ?? new Error('the verify job ran no check');
    this.log(formatVerifyOutcome(outcome));
    return outcome.discrepancies;
  }

  /** The two tables compared item by item, with the load's and the runner's counts and the lag. */
  async result(verified: DiscrepancyCounts): Promise<ReplicationDemoResult> {
    const comparison = await compareTables(
      { client: this.source, table: SOURCE_TABLE },
      { client: this.replica, table: REPLICA_TABLE },
    );
    return {
      writes: this.writes,
      records: this.running.stats().records,
      ...comparison,
      lag: this.total.summary(),
      verified,
    };
  }

  async close(): Promise<void> {
    this.stopSignal.abort();
    await this.runner?.catch(() => {});
    await this.page?.close();
    this.source.destroy();
    this.replica.destroy();
    this.streams.destroy();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
