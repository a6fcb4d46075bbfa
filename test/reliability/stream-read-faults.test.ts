/**
 * Source stream faults: the runner reads its source's stream through the fault proxy, which answers
 * GetRecords with ExpiredIteratorException (DynamoDB Local never expires an iterator within a test:
 * iterators live 15 minutes) and LimitExceededException, fails GetShardIterator with 500s and drops
 * connections. The runner must renew each iterator from the last record it handed out, so it loses
 * no change and reads none twice: its record count equals the stream's, and the replica equals the
 * source.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestTable, dynamoClient, dynamoEndpoint, streamsClient } from '../harness/dynamodb.js';
import { seededRandom, startFaultProxy } from '../harness/fault-proxy.js';
import { readStream } from '../harness/stream-capture.js';
import { PROFILE } from './profile.js';
import { assertDiffClean, assertSameItems, jsonLines, loc, mixedLoad, spawnCli } from './helpers.js';

test(`expired iterators and failing stream reads during ${PROFILE.streamFaultChanges} changes: nothing lost, nothing read twice`, async (t) => {
  const endpoint = await dynamoEndpoint();
  const source = dynamoClient(endpoint, 'us-east-1');
  const replica = dynamoClient(endpoint, 'eu-west-1');
  const sourceTable = await createTestTable(source, { stream: 'NEW_AND_OLD_IMAGES' });
  const replicaTable = await createTestTable(replica);
  const proxy = await startFaultProxy(endpoint, { seed: 11 });
  proxy.setRules([
    {
      operation: 'GetRecords',
      probability: 0.2,
      fault: { kind: 'stream-error', error: 'ExpiredIteratorException' },
    },
    {
      operation: 'GetRecords',
      probability: 0.1,
      fault: { kind: 'stream-error', error: 'LimitExceededException' },
    },
    { operation: 'GetRecords', probability: 0.05, fault: { kind: 'drop' } },
    { operation: 'GetShardIterator', probability: 0.2, fault: { kind: 'status', status: 500 } },
  ]);
  const dir = await mkdtemp(path.join(tmpdir(), 'stream-faults-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const run = spawnCli([
    'replicate',
    loc(proxy.endpoint, sourceTable),
    loc(endpoint, replicaTable, 'eu-west-1'),
    '--checkpoint',
    path.join(dir, 'checkpoint.json'),
    '--json',
    '--stop-when-idle',
    '8s',
  ]);
  const load = mixedLoad(source, sourceTable, {
    keys: 200,
    total: PROFILE.streamFaultChanges,
    perSecond: 150,
    random: seededRandom(3),
  });
  await load;
  const out = await run.output;
  assert.equal(out.code, 0, out.stderr);
  const stopped = jsonLines(out.stdout).find((l) => l.event === 'stopped');
  const streamed = (await readStream(source, streamsClient(endpoint), sourceTable, 0)).records.length;
  assert.ok(streamed > PROFILE.streamFaultChanges / 2, `${streamed} stream records`);
  assert.equal(stopped?.records, streamed, 'every stream record applied exactly once');
  await assertSameItems({ client: source, table: sourceTable }, { client: replica, table: replicaTable });
  await assertDiffClean(loc(endpoint, sourceTable), loc(endpoint, replicaTable, 'eu-west-1'));
  assert.ok((proxy.counts['GetRecords:stream-error'] ?? 0) >= 5, JSON.stringify(proxy.counts));
  assert.ok((proxy.counts['GetRecords:drop'] ?? 0) >= 1, JSON.stringify(proxy.counts));
  assert.ok((proxy.counts['GetShardIterator:status'] ?? 0) >= 1, JSON.stringify(proxy.counts));
  t.diagnostic(`${streamed} stream records; proxy ${JSON.stringify(proxy.counts)}`);
});
