/**
 * The cross-account replica path: with ReplicaRoleArn the replicate handler assumes the role with
 * STS (signed with the base credentials) and signs every replica write with the session it got,
 * renewing the session before it expires. STS is the stand-in of test/harness/sts-stand-in.ts
 * (nothing local plays STS); the replica is DynamoDB Local behind the fault proxy, which records
 * the access key that signed each request (and presents it to DynamoDB Local under the tests' key,
 * since DynamoDB Local keeps one database per access key).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromDynamoJson } from '../../src/core/ddb-json.js';
import { itemsEqual } from '../../src/core/equality.js';
import type { Item } from '../../src/core/types.js';
import { LOCAL_CREDENTIALS } from '../../src/embedded/dynamodb-local.js';
import { ServiceError } from '../../src/core/errors.js';
import { assumeRoleCredentials, REFRESH_MARGIN_MS } from '../../src/dynamodb/assume-role.js';
import { readReplicateConfig } from '../../src/lambda/config.js';
import { createLogger } from '../../src/lambda/log.js';
import { createReplicateHandler } from '../../src/lambda/replicate.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { startFaultProxy } from '../harness/fault-proxy.js';
import { startStsStandIn } from '../harness/sts-stand-in.js';
import { scanAll } from '../harness/table-items.js';
import { generateChanges, streamArn } from '../reliability/synthetic-stream.js';

const ROLE = 'arn:aws:iam::210987654321:role/replica-writer';

test('ReplicaRoleArn: writes are signed with the assumed role session, renewed before it expires', async () => {
  const endpoint = await dynamoEndpoint();
  const replica = dynamoClient(endpoint, 'eu-west-1');
  const table = await createTestTable(replica);
  const proxy = await startFaultProxy(endpoint, { asAccessKey: LOCAL_CREDENTIALS.accessKeyId });
  // Each session is inside the renewal margin 5 s after it is handed out (the first batch takes far
  // less, even on a loaded machine).
  const sts = await startStsStandIn(REFRESH_MARGIN_MS + 5000);
  process.env.AWS_ENDPOINT_URL_STS = sts.endpoint;
  const config = readReplicateConfig({
    ReplicaTable: table,
    ReplicaRegion: 'eu-west-1',
    ReplicaEndpoint: proxy.endpoint,
    ReplicaAccessKeyId: 'AKIABASECREDENTIALS',
    ReplicaSecretAccessKey: 'base-secret',
    ReplicaRoleArn: ROLE,
    LogLevel: 'error',
  });
  const handle = createReplicateHandler(config, {
    logger: createLogger({ level: 'error', write: () => undefined }),
    metrics: () => undefined,
  });
  const { records, state } = generateChanges(3, 60, {
    keys: 8,
    arn: streamArn('role-source'),
    prefix: '',
    startSecond: Math.floor(Date.now() / 1000),
    changesPerSecond: 50,
  });
  const half = Math.floor(records.length / 2);

  assert.deepEqual(await handle({ Records: records.slice(0, half) }), { batchItemFailures: [] });
  assert.deepEqual(sts.calls, [
    { roleArn: ROLE, sessionName: 'dynamodb-replicator', signedBy: 'AKIABASECREDENTIALS' },
  ]);
  const firstSession = proxy.signedBy[sts.accessKeyId(1)] ?? 0;
  assert.ok(firstSession > 0, JSON.stringify(proxy.signedBy));

  await new Promise((r) => setTimeout(r, 5100));
  assert.deepEqual(await handle({ Records: records.slice(half) }), { batchItemFailures: [] });
  assert.equal(sts.calls.length, 2, 'the session was renewed once');
  assert.equal(proxy.signedBy[sts.accessKeyId(1)], firstSession, 'the old session signs nothing more');
  assert.ok((proxy.signedBy[sts.accessKeyId(2)] ?? 0) > 0, JSON.stringify(proxy.signedBy));
  assert.deepEqual(
    Object.keys(proxy.signedBy).sort(),
    [sts.accessKeyId(1), sts.accessKeyId(2)],
    'never the base keys',
  );

  const got = await scanAll(replica, table);
  assert.equal(got.length, state.size);
  for (const item of got) {
    const want = state.get((item.id as { S: string }).S);
    assert.ok(want && itemsEqual(item, fromDynamoJson(want) as Item), JSON.stringify(item));
  }
});

test('a role STS refuses fails as a ServiceError naming STS, the role and the region', async () => {
  const denied = 'arn:aws:iam::210987654321:role/not-for-you';
  const sts = await startStsStandIn(REFRESH_MARGIN_MS + 5000, { deny: [denied] });
  process.env.AWS_ENDPOINT_URL_STS = sts.endpoint;
  const credentials = assumeRoleCredentials(denied, {
    region: 'eu-west-1',
    base: { accessKeyId: 'AKIABASECREDENTIALS', secretAccessKey: 'base-secret' },
  }) as () => Promise<unknown>;
  const error = await credentials().then(
    () => assert.fail('a refused role gave credentials'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ServiceError, String(error));
  assert.equal(
    error.message,
    `STS AssumeRole ${denied} at region eu-west-1 failed: AccessDenied: not authorized to perform sts:AssumeRole`,
  );
  assert.equal(sts.calls.length, 0);
});
