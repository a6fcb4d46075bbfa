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
import { deliver, generateChanges, streamArn } from './synthetic-stream.js';

const KEYS = 6;
const ARN = streamArn('property-source');

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
    const { records, state } = generateChanges(seed, PROFILE.propertyOps, {
      keys: KEYS,
      arn: ARN,
      prefix: `s${seed}-`,
      startSecond: Math.floor(Date.now() / 1000),
      changesPerSecond: 50,
    });
    stats.records += records.length;
    try {
      await deliver(records, handle, { random, maxBatch: 20, duplicates: 0.25 }, stats);
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
