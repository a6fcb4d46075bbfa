import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runReplicationDemo } from '../../src/embedded/replication-demo.js';
import { dynamoEndpoint } from '../harness/dynamodb.js';

test('the npm start demo replicates a short mixed load and finds the tables equal', async () => {
  const lines: string[] = [];
  const result = await runReplicationDemo(await dynamoEndpoint(), (l) => lines.push(l), {
    seconds: 3,
    writesPerSecond: 100,
    keys: 100,
  });
  assert.deepEqual(result.differences, []);
  assert.ok(result.writes > 0);
  assert.ok(result.records > 0 && result.records <= result.writes);
  assert.equal(result.replicaItems, result.sourceItems);
  assert.ok(result.lag.count > 0);
  assert.ok(lines.some((l) => l.includes('lag p50')));
  const page = lines.find((l) => l.startsWith('status page on http://127.0.0.1:'));
  assert.ok(page, 'the demo prints the status page address');
  // The verify job's run after the catch-up, as the runner's --verify-every runs it.
  assert.deepEqual(result.verified, { missing: 0, different: 0, extraneous: 0, total: 0 });
  const verifyLine = lines.find((l) => l.startsWith('verify '));
  assert.match(
    verifyLine ?? '',
    /^verify us-east-1\/demo-source -> eu-west-1\/demo-replica: 0 discrepancies \(0 missing, 0 different, 0 extraneous; (\d+) \+ \1 items scanned\)/,
  );
});
