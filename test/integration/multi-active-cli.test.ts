// Bad group configurations are refused with exit 2 and a message naming the problem, before
// anything is written: no checkpoint directory, no conflict log, no item changed on any member.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { scanItems } from '../../src/dynamodb/scan.js';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';

test('bad multi-active configurations exit 2 before anything is written', async () => {
  const endpoint = await dynamoEndpoint();
  const us = dynamoClient(endpoint, 'us-east-1');
  const eu = dynamoClient(endpoint, 'eu-west-1');
  const name = uniqueName('group');
  await createTestTable(us, { name, stream: 'NEW_AND_OLD_IMAGES' });
  await createTestTable(eu, { name, stream: 'NEW_AND_OLD_IMAGES' });
  const other = await createTestTable(eu, { hash: { name: 'pk', type: 'N' }, stream: 'NEW_AND_OLD_IMAGES' });
  const noStream = await createTestTable(eu, {});
  const newImage = await createTestTable(eu, { stream: 'NEW_IMAGE' });
  const foreign = await createTestTable(eu, { stream: 'NEW_AND_OLD_IMAGES' });
  await eu.send(new PutItemCommand({ TableName: foreign, Item: { id: { S: 'x' }, 'rep:v': { N: '7' } } }));
  const at = (region: string, table: string): string => `${endpoint}/${table}?region=${region}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'multi-cli-'));
  const group = (...args: string[]) =>
    runCliCapture([
      'replicate',
      '--multi-active',
      ...args,
      '--checkpoint-dir',
      path.join(dir, 'cp'),
      '--conflict-log',
      path.join(dir, 'log'),
    ]);
  const cases: [Promise<{ code: number; stderr: string }>, RegExp][] = [
    [group(at('us-east-1', name), at('us-east-1', name), '--member-ids', 'a,b'), /listed twice/],
    [group(at('us-east-1', name), at('eu-west-1', other)), /Key schemas differ/],
    [group(at('us-east-1', name), at('eu-west-1', noStream)), /has no stream enabled/],
    [
      group(at('us-east-1', name), at('eu-west-1', newImage)),
      /NEW_IMAGE; a group member needs NEW_AND_OLD_IMAGES/,
    ],
    [group(at('us-east-1', name), at('eu-west-1', foreign)), /rep:v = \{"N":"7"\}.*--metadata-attributes/],
    [
      group(at('us-east-1', name), at('eu-west-1', name), '--metadata-attributes', 'id,rep:ttl'),
      /"id" is a key attribute/,
    ],
    [
      group(at('us-east-1', name), at('eu-west-1', name), '--member-ids', 'a,a'),
      /member id "a" is given to two members/,
    ],
    [
      group(at('us-east-1', name), at('eu-west-1', name), '--member-ids', 'a b,c'),
      /member id "a b" is not usable/,
    ],
    [
      group(at('us-east-1', name), at('eu-west-1', name), '--member-ids', 'a'),
      /names 1 member\(s\), but 2 are given/,
    ],
    [group(`${endpoint}/${name}`, `${endpoint}/${name}?region=eu-west-1`), /give --member-ids/],
    [group(at('us-east-1', name)), /at least two members/],
    [
      group(at('us-east-1', name), at('eu-west-1', name), '--backfill'),
      /--backfill cannot be used with --multi-active/,
    ],
    [group(at('us-east-1', name), at('eu-west-1', name), '--tombstone-ttl', '10m'), /at least 1h/],
    [
      runCliCapture(['replicate', at('us-east-1', name), at('eu-west-1', name), '--member-ids', 'a,b']),
      /--member-ids applies to a multi-active group only/,
    ],
    [
      runCliCapture([
        'diff-tables',
        at('us-east-1', name),
        at('eu-west-1', name),
        '--group-metadata',
        '--repair',
      ]),
      /cannot be combined with --repair/,
    ],
    [
      runCliCapture([
        'diff-tables',
        at('us-east-1', name),
        at('eu-west-1', name),
        '--metadata-attributes',
        'a,b',
      ]),
      /with --group-metadata only/,
    ],
  ];
  for (const [i, [run, message]] of cases.entries()) {
    const result = await run;
    assert.equal(result.code, 2, `case ${i}: ${result.stderr}`);
    assert.match(result.stderr, message, `case ${i}`);
    assert.doesNotMatch(result.stderr, /\n\s+at /, `case ${i}: no stack trace`);
  }
  assert.deepEqual(await readdir(dir), []);
  for (const [client, table] of [
    [us, name],
    [eu, name],
    [eu, foreign],
  ] as const) {
    const items = [];
    for await (const item of scanItems(client, { table })) items.push(item);
    assert.equal(items.length, table === foreign ? 1 : 0, table);
  }
});
