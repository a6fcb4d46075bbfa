import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { fromDynamoJson } from '../../src/core/ddb-json.js';
import { itemsEqual } from '../../src/core/equality.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint } from '../harness/dynamodb.js';
import { byId, scanAll } from '../harness/table-items.js';

test('tables lists the table names of an endpoint, as text and as JSON', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint, 'ap-south-1');
  const a = await createTestTable(client);
  const b = await createTestTable(client);
  const text = await runCliCapture(['tables', `${endpoint}?region=ap-south-1`]);
  assert.equal(text.code, 0, text.stderr);
  const names = text.stdout.split('\n').filter((l) => l !== '');
  assert.ok(names.includes(a) && names.includes(b));
  const json = await runCliCapture(['tables', `${endpoint}?region=ap-south-1`, '--json']);
  assert.equal(json.code, 0);
  assert.deepEqual(JSON.parse(json.stdout), names);
  client.destroy();
});

test('describe prints the DescribeTable description as JSON', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client, { range: { name: 'at', type: 'N' }, stream: 'NEW_IMAGE' });
  const result = await runCliCapture(['describe', `${endpoint}/${table}`]);
  assert.equal(result.code, 0, result.stderr);
  const d = JSON.parse(result.stdout);
  assert.equal(d.TableName, table);
  assert.deepEqual(d.KeySchema, [
    { AttributeName: 'id', KeyType: 'HASH' },
    { AttributeName: 'at', KeyType: 'RANGE' },
  ]);
  assert.equal(d.StreamSpecification.StreamViewType, 'NEW_IMAGE');
  const compact = await runCliCapture(['describe', `${endpoint}/${table}`, '--json']);
  assert.equal(compact.stdout.trim().split('\n').length, 1);
  client.destroy();
});

test('scan prints every item as DynamoDB JSON; --segment shares are disjoint and cover the table', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client);
  for (let i = 0; i < 120; i++) {
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          id: { S: `k${i}` },
          n: { N: `1234567890123456789012345678901234567${i % 10}` },
          b: { B: new Uint8Array([i]) },
        },
      }),
    );
  }
  const parse = (stdout: string) =>
    stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l, i) => fromDynamoJson(JSON.parse(l), `line ${i + 1}`));

  const all = await runCliCapture(['scan', `${endpoint}/${table}`, '--parallel', '3']);
  assert.equal(all.code, 0, all.stderr);
  const scanned = byId(parse(all.stdout));
  const truth = byId(await scanAll(client, table));
  assert.equal(scanned.size, 120);
  for (const [id, item] of truth) assert.ok(itemsEqual(item, scanned.get(id)), id);

  const shares = await Promise.all(
    [0, 1, 2].map((s) =>
      runCliCapture(['scan', `${endpoint}/${table}`, '--segment', String(s), '--segments', '3']),
    ),
  );
  const ids = shares.flatMap((r) => {
    assert.deepEqual([r.code, r.stderr], [0, '']);
    return parse(r.stdout).map((item) => (item.id as { S: string }).S);
  });
  assert.equal(ids.length, 120);
  assert.equal(new Set(ids).size, 120);
  assert.ok(
    shares.every((r) => r.stdout.split('\n').length - 1 < 120),
    'each share holds part of the table',
  );

  // The older spellings work for one release, with a line on stderr saying what to write instead.
  const old = await runCliCapture([
    'scan',
    `${endpoint}/${table}`,
    '--segment',
    '0',
    '--total-segments',
    '3',
  ]);
  assert.equal(old.code, 0);
  assert.equal(old.stdout, shares[0]?.stdout);
  assert.equal(
    old.stderr,
    'warning: scan --total-segments is deprecated; use --segments (as in diff-tables)\n',
  );
  const oldParallel = await runCliCapture(['scan', `${endpoint}/${table}`, '--segments', '3']);
  assert.equal(oldParallel.code, 0);
  assert.equal(byId(parse(oldParallel.stdout)).size, 120);
  assert.match(oldParallel.stderr, /^warning: scan --segments N without --segment means --parallel N/);
  client.destroy();
});

test('--help prints the usage line first for every table command', async () => {
  for (const name of ['tables', 'describe', 'scan', 'export', 'import', 'copy']) {
    const result = await runCliCapture([name, '--help']);
    assert.equal(result.code, 0);
    assert.ok(result.stdout.startsWith(`Usage: dynamodb-replicator ${name} `), result.stdout);
  }
});
