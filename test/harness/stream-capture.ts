/**
 * Real stream records for tests: make changes on a DynamoDB Local table that has a stream, read the
 * records back with GetRecords through the SDK, and hand them over both as SDK records and in the
 * exact shape a Lambda DynamoDB stream event carries (DynamoDB JSON, B as base64, creation time in
 * epoch seconds). Used by the Lambda handler tests and the stream runner tests.
 */
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import type { LambdaStreamEvent, LambdaStreamRecord } from '../../src/core/change-sources.js';
import { toDynamoJson } from '../../src/core/ddb-json.js';
import { waitUntilActive } from '../../src/dynamodb/tables.js';
import type { Item } from '../../src/core/types.js';

export interface StreamCapture {
  readonly streamArn: string;
  readonly region: string;
  /** Every record currently in the stream, in order (parents' shards before children's). */
  readonly records: readonly _Record[];
}

/**
 * A PAY_PER_REQUEST table with hash key `id` (S) and a NEW_AND_OLD_IMAGES stream, named
 * `<prefix>-<time>`, for benchmarks (tests use createTestTable from ./dynamodb.ts).
 */
export async function createStreamTable(client: DynamoDBClient, prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}`;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  await waitUntilActive(client, name);
  return name;
}

export async function streamArnOf(client: DynamoDBClient, table: string): Promise<string> {
  const d = await client.send(new DescribeTableCommand({ TableName: table }));
  const arn = d.Table?.LatestStreamArn;
  if (!arn) throw new Error(`table ${table} has no stream`);
  return arn;
}

/** Shards ordered parent before child. */
async function orderedShards(streams: DynamoDBStreamsClient, streamArn: string): Promise<string[]> {
  const shards: { id: string; parent?: string }[] = [];
  let start: string | undefined;
  do {
    const out = await streams.send(
      new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }),
    );
    for (const s of out.StreamDescription?.Shards ?? []) {
      if (s.ShardId) shards.push({ id: s.ShardId, ...(s.ParentShardId ? { parent: s.ParentShardId } : {}) });
    }
    start = out.StreamDescription?.LastEvaluatedShardId;
  } while (start);
  const ids = new Set(shards.map((s) => s.id));
  const ordered: string[] = [];
  const visit = (s: { id: string; parent?: string }): void => {
    if (ordered.includes(s.id)) return;
    const parent = s.parent && ids.has(s.parent) ? shards.find((p) => p.id === s.parent) : undefined;
    if (parent) visit(parent);
    ordered.push(s.id);
  };
  shards.forEach(visit);
  return ordered;
}

/** Reads every record of every shard from TRIM_HORIZON up to the shard's current end. */
async function readAll(streams: DynamoDBStreamsClient, streamArn: string): Promise<_Record[]> {
  const records: _Record[] = [];
  for (const shardId of await orderedShards(streams, streamArn)) {
    const it = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    let iterator = it.ShardIterator;
    while (iterator) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      records.push(...(page.Records ?? []));
      // An open shard returns empty pages at its end; stop there.
      if ((page.Records ?? []).length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return records;
}

/**
 * Waits until the table's stream holds at least `count` records and returns them all. DynamoDB
 * Local publishes records right after the write; the wait only covers scheduling.
 */
export async function readStream(
  client: DynamoDBClient,
  streams: DynamoDBStreamsClient,
  table: string,
  count: number,
  timeoutMs = 10_000,
): Promise<StreamCapture> {
  const streamArn = await streamArnOf(client, table);
  const region = await client.config.region();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = await readAll(streams, streamArn);
    if (records.length >= count) return { streamArn, region, records };
    if (Date.now() > deadline)
      throw new Error(`stream of ${table} has ${records.length} records, expected ${count}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Runs `act` (writes to `table`) and returns the records it produced: those after the ones already
 * in the stream. `expected` is how many records `act` makes.
 */
export async function captureChanges(
  client: DynamoDBClient,
  streams: DynamoDBStreamsClient,
  table: string,
  expected: number,
  act: () => Promise<void>,
): Promise<StreamCapture> {
  const before = (await readStream(client, streams, table, 0)).records.length;
  await act();
  const all = await readStream(client, streams, table, before + expected);
  return { ...all, records: all.records.slice(before) };
}

/** One SDK record in Lambda's event shape: what a Lambda function subscribed to the stream receives. */
export function toLambdaRecord(record: _Record, streamArn: string, region: string): LambdaStreamRecord {
  const d = record.dynamodb ?? {};
  const image = (i: unknown): Record<string, unknown> | undefined =>
    i ? toDynamoJson(i as Item) : undefined;
  const dynamodb: NonNullable<LambdaStreamRecord['dynamodb']> = {};
  // Lambda sends whole epoch seconds.
  if (d.ApproximateCreationDateTime)
    dynamodb.ApproximateCreationDateTime = Math.floor(d.ApproximateCreationDateTime.getTime() / 1000);
  const keys = image(d.Keys);
  const newImage = image(d.NewImage);
  const oldImage = image(d.OldImage);
  if (keys) dynamodb.Keys = keys;
  if (newImage) dynamodb.NewImage = newImage;
  if (oldImage) dynamodb.OldImage = oldImage;
  if (d.SequenceNumber !== undefined) dynamodb.SequenceNumber = d.SequenceNumber;
  if (d.SizeBytes !== undefined) dynamodb.SizeBytes = d.SizeBytes;
  if (d.StreamViewType !== undefined) dynamodb.StreamViewType = d.StreamViewType;
  return {
    ...(record.eventID !== undefined ? { eventID: record.eventID } : {}),
    ...(record.eventName !== undefined ? { eventName: record.eventName } : {}),
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    dynamodb,
    eventSourceARN: streamArn,
  };
}

/** A Lambda DynamoDB stream event, passed through JSON as Lambda would deliver it. */
export function toLambdaEvent(
  capture: StreamCapture,
  records: readonly _Record[] = capture.records,
): LambdaStreamEvent {
  const event = { Records: records.map((r) => toLambdaRecord(r, capture.streamArn, capture.region)) };
  return JSON.parse(JSON.stringify(event)) as LambdaStreamEvent;
}
