import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCliCapture } from '../harness/cli.js';
import { createPair, putItems, row, scanAll, keyText } from './diff-fixtures.js';

test('diff-record shows both items and exits 0 when equal, 1 when different; keys in either JSON form', async () => {
  const pair = await createPair();
  await putItems(pair.primaryClient, pair.primary, [
    row('same', { SS: ['a', 'b'] }),
    row('changed', { N: '2' }),
  ]);
  await putItems(pair.replicaClient, pair.replica, [
    row('same', { SS: ['b', 'a'] }),
    row('changed', { N: '10000' }),
  ]);

  let r = await runCliCapture([
    'diff-record',
    pair.primaryLocation,
    pair.replicaLocation,
    '{"hash":"hash1","range":"same"}',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const same = JSON.parse(r.stdout) as { equal: boolean; primary: unknown; replica: unknown };
  assert.equal(same.equal, true);
  assert.deepEqual(same.primary && Object.keys(same.primary).sort(), ['hash', 'other', 'range']);

  r = await runCliCapture([
    'diff-record',
    pair.primaryLocation,
    pair.replicaLocation,
    '{"hash":{"S":"hash1"},"range":{"S":"changed"}}',
    '--json',
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    key: { hash: { S: 'hash1' }, range: { S: 'changed' } },
    equal: false,
    kind: 'different',
    primary: { hash: { S: 'hash1' }, range: { S: 'changed' }, other: { N: '2' } },
    replica: { hash: { S: 'hash1' }, range: { S: 'changed' }, other: { N: '10000' } },
  });

  r = await runCliCapture([
    'diff-record',
    pair.primaryLocation,
    pair.replicaLocation,
    '{"hash":"hash1","range":"nope"}',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /result {3}absent from both tables\n$/);

  r = await runCliCapture([
    'diff-record',
    pair.primaryLocation,
    pair.replicaLocation,
    '{"hash":"hash1","range":"changed"}',
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /"N": "10000"/);
  assert.match(r.stdout, /result {3}different\n$/);
});

test('replicate-record puts the primary item on the replica, or deletes it there when the primary has none', async () => {
  const pair = await createPair();
  await putItems(pair.primaryClient, pair.primary, [row('range1', { N: '1' })]);
  await putItems(pair.replicaClient, pair.replica, [row('range1', { N: '99' }), row('range3', { N: '3' })]);

  let r = await runCliCapture([
    'replicate-record',
    pair.primaryLocation,
    pair.replicaLocation,
    '{"hash":"hash1","range":"range1"}',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    key: { hash: { S: 'hash1' }, range: { S: 'range1' } },
    action: 'put',
  });

  r = await runCliCapture([
    'replicate-record',
    pair.primaryLocation,
    pair.replicaLocation,
    '{"hash":{"S":"hash1"},"range":{"S":"range3"}}',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^deleted \{"hash":\{"S":"hash1"\},"range":\{"S":"range3"\}\} from /);

  const replica = await scanAll(pair.replicaClient, pair.replica);
  assert.deepEqual([...replica.keys()], [keyText('range1')]);
  assert.deepEqual(replica.get(keyText('range1')), row('range1', { N: '1' }));
});

test('malformed or mismatched keys and missing tables: clear error, exit 2, nothing written', async () => {
  const pair = await createPair();
  await putItems(pair.primaryClient, pair.primary, [row('range1', { N: '1' })]);
  for (const command of ['diff-record', 'replicate-record']) {
    for (const [key, message] of [
      ['{"hash":"hash1"', /key/i],
      ['{"hash":"hash1"}', /range/],
      ['{"hash":"hash1","range":"range1","extra":1}', /extra/],
      ['{"hash":1,"range":"range1"}', /hash/],
    ] as const) {
      const r = await runCliCapture([command, pair.primaryLocation, pair.replicaLocation, key]);
      assert.equal(r.code, 2, `${command} ${key}`);
      assert.match(r.stderr, /^error: /);
      assert.match(r.stderr, message, `${command} ${key}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    const missing = pair.replicaLocation.replace(pair.replica, 'missing-replica-table');
    const r = await runCliCapture([
      command,
      pair.primaryLocation,
      missing,
      '{"hash":"hash1","range":"range1"}',
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /missing-replica-table/);
    const r2 = await runCliCapture([command, pair.primaryLocation, pair.replicaLocation]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /expected 3 arguments, got 2/);
  }
  assert.equal((await scanAll(pair.replicaClient, pair.replica)).size, 0);
});
