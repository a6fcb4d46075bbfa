/**
 * Property test: random sequences of puts, updates and deletes over a small key space, delivered to
 * the replicate Lambda handler in batches of random size, through a fault proxy that leaves writes
 * unprocessed and throttles (so batches really fail part-way), following Lambda's protocol: a
 * batchItemFailures answer re-delivers from the named record, a throw re-delivers the whole batch,
 * and on top of that random duplicate re-deliveries from an earlier record of the batch. The replica
 * must always end equal to the source's final state. The seed is printed on failure.
 *
 * The stream records are synthesized from an in-memory model of the source (INSERT / MODIFY /
 * REMOVE with NEW_AND_OLD_IMAGES, increasing sequence numbers), exactly as DynamoDB would emit them
 * for those operations, so thousands of operations need no source table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromDynamoJson } from '../../src/core/ddb-json.js';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import { readReplicateConfig } from '../../src/lambda/config.js';
import { createLogger } from '../../src/lambda/log.js';
import { createReplicateHandler } from '../../src/lambda/replicate.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { seededRandom, startFaultProxy } from '../harness/fault-proxy.js';
import { scanAll } from '../harness/table-items.js';
import { PROFILE } from './profile.js';

type Json = Record<string, unknown>;
interface EventRecord {
  eventID: string;
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  eventSource: 'aws:dynamodb';
  eventVersion: '1.1';
  awsRegion: string;
  eventSourceARN: string;
  dynamodb: Json & { SequenceNumber: string };
}

const KEYS = 6;
const ARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/property-source/stream/2026-01-01T00:00:00.000';

/** The records DynamoDB would emit for `ops` random operations, and the source's final state. */
function generate(seed: number, ops: number): { records: EventRecord[]; state: Map<string, Json> } {
  const random = seededRandom(seed);
  const state = new Map<string, Json>();
  const records: EventRecord[] = [];
  let seq = 1000n + BigInt(seed) * 1_000_000n;
  const base = Math.floor(Date.now() / 1000);
  for (let i = 0; i < ops; i++) {
    const id = `s${seed}-k${Math.floor(random() * KEYS)}`;
    const keys = { id: { S: id } };
    const old = state.get(id);
    const r = random();
    let next: Json | undefined;
    if (r < 0.45) next = { ...keys, v: { N: `${i}.${seed}00000000000000000000000000001` }, op: { S: 'put' } };
    else if (r < 0.75)
      next = {
        ...(old ?? keys),
        u: { N: String(i) },
        b: { B: Buffer.from([i % 256, seed % 256]).toString('base64') },
        tags: { SS: [`t${i % 3}`, 'x'] },
      };
    if (next === undefined && old === undefined) continue; // deleting a missing item emits nothing
    seq += BigInt(1 + Math.floor(random() * 5));
    const eventName = next === undefined ? 'REMOVE' : old === undefined ? 'INSERT' : 'MODIFY';
    if (next === undefined) state.delete(id);
    else state.set(id, next);
    records.push({
      eventID: `e${seq}`,
      eventName,
      eventSource: 'aws:dynamodb',
      eventVersion: '1.1',
      awsRegion: 'us-east-1',
      eventSourceARN: ARN,
      dynamodb: {
        ApproximateCreationDateTime: base + Math.floor(i / 50),
        Keys: keys,
        ...(next ? { NewImage: next } : {}),
        ...(old ? { OldImage: old } : {}),
        SequenceNumber: String(seq).padStart(21, '0'),
        SizeBytes: 100,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
  }
  return { records, state };
}

test(`${PROFILE.propertySeeds} random change sequences with failed batches and re-deliveries converge`, async (t) => {
  const endpoint = await dynamoEndpoint();
  const replicaRegion = 'eu-west-1';
  const replica = dynamoClient(endpoint, replicaRegion);
  const table = await createTestTable(replica);
  const proxy = await startFaultProxy(endpoint, { seed: 99 });
  // Part of the replica's writes are held back or throttled, so batches fail part-way for real.
  proxy.setRules([
    {
      operation: 'BatchWriteItem',
      probability: 0.03,
      fault: { kind: 'throttle', error: 'ProvisionedThroughputExceededException' },
    },
    { operation: 'BatchWriteItem', probability: 0.4, fault: { kind: 'unprocessed', fraction: 0.3 } },
  ]);
  const config = readReplicateConfig({
    ReplicaTable: table,
    ReplicaRegion: replicaRegion,
    ReplicaEndpoint: proxy.endpoint,
    ReplicaAccessKeyId: 'local',
    ReplicaSecretAccessKey: 'local',
    LogLevel: 'error',
  });
  const handle = createReplicateHandler(config, {
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
    logger: createLogger({ level: 'error', write: () => undefined }),
    metrics: () => undefined,
  });
  const stats = { deliveries: 0, partial: 0, thrown: 0, duplicates: 0, records: 0 };
  const firstSeed = Number(process.env.PROPERTY_SEED ?? 1);
  for (let seed = firstSeed; seed < firstSeed + PROFILE.propertySeeds; seed++) {
    const random = seededRandom(seed * 7919);
    const { records, state } = generate(seed, PROFILE.propertyOps);
    stats.records += records.length;
    try {
      let start = 0;
      while (start < records.length) {
        const size = 1 + Math.floor(random() * 20);
        let batch = records.slice(start, start + size);
        for (let attempt = 0; batch.length > 0; attempt++) {
          assert.ok(attempt < 100, 'the batch never got through');
          stats.deliveries++;
          let failedAt: string | undefined;
          try {
            const response = await handle(JSON.parse(JSON.stringify({ Records: batch })));
            failedAt = response.batchItemFailures[0]?.itemIdentifier;
            if (failedAt !== undefined) stats.partial++;
          } catch {
            stats.thrown++;
            failedAt = batch[0]?.dynamodb.SequenceNumber;
          }
          if (failedAt !== undefined) {
            const from = batch.findIndex((r) => r.dynamodb.SequenceNumber === failedAt);
            assert.ok(from >= 0, `batchItemFailures names a record of the batch (${failedAt})`);
            batch = batch.slice(from);
          } else if (random() < 0.25) {
            // A duplicate re-delivery from an earlier record (e.g. a timeout after the writes).
            stats.duplicates++;
            batch = batch.slice(Math.floor(random() * batch.length));
          } else batch = [];
        }
        start += size;
      }
      const prefix = `s${seed}-`;
      const got = (await scanAll(replica, table)).filter((i) => (i.id as { S: string }).S.startsWith(prefix));
      assert.equal(got.length, state.size, 'item count');
      for (const item of got) {
        const want = state.get((item.id as { S: string }).S);
        assert.ok(want && itemsEqual(item, fromDynamoJson(want) as Item), `item ${JSON.stringify(item.id)}`);
      }
    } catch (error) {
      t.diagnostic(`failing seed: ${seed} (rerun with PROPERTY_SEED=${seed})`);
      throw new Error(`seed ${seed}: ${(error as Error).message}`, { cause: error });
    }
  }
  t.diagnostic(`${JSON.stringify(stats)} faults ${JSON.stringify(proxy.counts)}`);
  assert.ok(stats.partial > 0, 'some batches failed part-way');
  assert.ok(stats.duplicates > 0, 'some batches were re-delivered');
  assert.ok(proxy.injected('unprocessed') > 0 && proxy.injected('throttle') > 0);
});
