import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ListTablesCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { runCliCapture, type CliResult } from '../harness/cli.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { scanAll } from '../harness/table-items.js';

/** A user error: exit 2, one clear message on stderr, no stack trace, nothing on stdout. */
function assertUserError(result: CliResult, message: RegExp): void {
  assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
  assert.match(result.stderr, /^error: /);
  assert.match(result.stderr, message);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(result.stdout, '');
}

async function tableNames(client: DynamoDBClient): Promise<string[]> {
  return (await client.send(new ListTablesCommand({}))).TableNames ?? [];
}

const DESCRIPTION = JSON.stringify({
  TableName: 'from-file',
  KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
  AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
  BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
});

function exportText(lines: string[]): string {
  return [DESCRIPTION, ...lines].join('\n') + '\n';
}

const good = (i: number) => JSON.stringify({ id: { S: `k${i}` }, n: { N: String(i) } });

async function fileWith(name: string, content: string | Uint8Array): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cli-errors-'));
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

test('import: a malformed line fails with its line number; nothing is created or written', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const cases: Array<[string, string[], RegExp]> = [
    ['bad JSON', [good(1), good(2), '{"id":{"S":"k3"}', good(4)], /line 4: not valid JSON/],
    ['missing key', [good(1), '{"other":{"S":"x"}}'], /line 3: .*id/],
    ['wrong key type', [good(1), good(2), good(3), '{"id":{"N":"5"}}'], /line 5: .*id/],
    ['bad number', ['{"id":{"S":"a"},"n":{"N":"12abc"}}'], /line 2: /],
    ['unknown type', ['{"id":{"S":"a"},"x":{"Q":"1"}}'], /line 2: /],
  ];
  for (const [label, lines, message] of cases) {
    const file = await fileWith('bad.ndjson', exportText(lines));
    const fresh = uniqueName('never');
    assertUserError(await runCliCapture(['import', file, `${endpoint}/${fresh}`, '--create']), message);
    assert.ok(!(await tableNames(client)).includes(fresh), `${label}: the table was created`);

    const existing = await createTestTable(client);
    assertUserError(await runCliCapture(['import', file, `${endpoint}/${existing}`]), message);
    assert.equal((await scanAll(client, existing)).length, 0, `${label}: items were written`);
  }
  client.destroy();
});

test('import: a blank line 2 and a bad line in stdin report the right line number', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client);
  const text = [DESCRIPTION, '', good(1), '\r', 'not json', good(2)].join('\r\n');
  assertUserError(
    await runCliCapture(['import', '-', `${endpoint}/${table}`], { stdin: text }),
    /line 5: not valid JSON/,
  );
  assert.equal((await scanAll(client, table)).length, 0);
  client.destroy();
});

test('import: bad files, descriptions, missing tables and key schema mismatches are clear errors', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const fresh = uniqueName('never');
  const target = `${endpoint}/${fresh}`;

  assertUserError(
    await runCliCapture(['import', '/nonexistent/x.ndjson', target, '--create']),
    /no such file/,
  );
  assertUserError(
    await runCliCapture(['import', await fileWith('e.ndjson', ''), target, '--create']),
    /is empty/,
  );
  assertUserError(
    await runCliCapture(['import', await fileWith('e.ndjson', '\n \r\n\n'), target, '--create']),
    /is empty/,
  );
  assertUserError(
    await runCliCapture(['import', await fileWith('d.ndjson', `${good(1)}\n`), target, '--create']),
    /line 1: the first line of an export must be the table description/,
  );
  const truncated = gzipSync(Buffer.from(exportText([good(1), good(2), good(3)]))).subarray(0, 30);
  assertUserError(
    await runCliCapture(['import', await fileWith('t.ndjson.gz', truncated), target, '--create']),
    /gzip/,
  );
  assert.ok(!(await tableNames(client)).includes(fresh));

  // A missing table without --create: the message says how to create it.
  const file = await fileWith('ok.ndjson', exportText([good(1), good(2)]));
  assertUserError(await runCliCapture(['import', file, target]), /does not exist; pass --create/);
  assert.ok(!(await tableNames(client)).includes(fresh));

  // An existing table whose key schema differs from the export's.
  const numeric = await createTestTable(client, { hash: { name: 'id', type: 'N' } });
  assertUserError(
    await runCliCapture(['import', file, `${endpoint}/${numeric}`, '--create']),
    /Key schemas differ/,
  );
  assert.equal((await scanAll(client, numeric)).length, 0);
  client.destroy();
});

test('export: missing tables and bad locations write no file', async () => {
  const endpoint = await dynamoEndpoint();
  const dir = await mkdtemp(path.join(tmpdir(), 'cli-errors-'));
  const file = path.join(dir, 'out.ndjson');
  assertUserError(
    await runCliCapture(['export', `${endpoint}/${uniqueName('missing')}`, file]),
    /was not found/,
  );
  assertUserError(await runCliCapture(['export', 'not a location', file]), /expected region\/table/);
  assertUserError(await runCliCapture(['export', `${endpoint}/tbl`, file, '--parallel', '0']), /--parallel/);
  assert.deepEqual(await readdir(dir), []);
  const noDir = await runCliCapture(['export', `${endpoint}/${uniqueName('missing')}`]);
  assertUserError(noDir, /was not found/);
});

test('export: a directory that does not exist is a clear error', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client);
  assertUserError(
    await runCliCapture(['export', `${endpoint}/${table}`, '/nonexistent/dir/out.ndjson']),
    /cannot write/,
  );
  client.destroy();
});

test('copy: missing tables, mismatched key schemas and bad options are clear errors and write nothing', async () => {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  await client.send(new PutItemCommand({ TableName: source, Item: { id: { S: 'a' } } }));
  const missing = uniqueName('missing');

  assertUserError(
    await runCliCapture(['copy', `${endpoint}/${source}`, `${endpoint}/${missing}`]),
    /does not exist; pass --create/,
  );
  assertUserError(
    await runCliCapture(['copy', `${endpoint}/${missing}`, `${endpoint}/${uniqueName('t')}`, '--create']),
    /was not found/,
  );
  const ranged = await createTestTable(client, { range: { name: 'r', type: 'S' } });
  assertUserError(
    await runCliCapture(['copy', `${endpoint}/${source}`, `${endpoint}/${ranged}`, '--create']),
    /Key schemas differ/,
  );
  assert.equal((await scanAll(client, ranged)).length, 0);
  assertUserError(
    await runCliCapture(['copy', `${endpoint}/${source}`, `${endpoint}/${source}`]),
    /same table/,
  );
  assertUserError(await runCliCapture(['copy', `${endpoint}/${source}`]), /expected 2 arguments/);
  assertUserError(
    await runCliCapture([
      'copy',
      `${endpoint}/${source}`,
      `${endpoint}/${missing}`,
      '--write-budget',
      'lots',
    ]),
    /--write-budget must be a positive number/,
  );
  assertUserError(
    await runCliCapture(['copy', `${endpoint}/${source}`, `${endpoint}/${missing}`, '--bogus']),
    /Unknown option '--bogus'/,
  );
  assertUserError(
    await runCliCapture(['copy', `${endpoint}/${source}`, 'us-east-1']),
    /expected region\/table/,
  );
  assert.ok(!(await tableNames(client)).includes(missing));
  client.destroy();
});

test('tables, describe, scan: bad locations, missing tables and bad options', async () => {
  const endpoint = await dynamoEndpoint();
  assertUserError(await runCliCapture(['tables', 'nowhere']), /expected a region/);
  assertUserError(await runCliCapture(['tables', 'us-east-1', 'eu-west-1']), /expected 0 to 1 argument/);
  assertUserError(await runCliCapture(['describe', `${endpoint}/${uniqueName('missing')}`]), /was not found/);
  assertUserError(await runCliCapture(['describe', 'us-east-1']), /expected region\/table/);
  assertUserError(await runCliCapture(['scan', `${endpoint}/${uniqueName('missing')}`]), /was not found/);
  assertUserError(
    await runCliCapture(['scan', `${endpoint}/tbl`, '--segment', '1']),
    /--segment and --segments must be given together/,
  );
  assertUserError(
    await runCliCapture(['scan', `${endpoint}/tbl`, '--segment', '3', '--segments', '3']),
    /--segment must be less than --segments \(3\), got 3/,
  );
  assertUserError(
    await runCliCapture(['scan', `${endpoint}/tbl`, '--parallel', 'x']),
    /--parallel must be a whole number/,
  );
  assertUserError(
    await runCliCapture(['scan', `${endpoint}/tbl`, '--json']),
    /scan has no --json: its output/,
  );
  assertUserError(
    await runCliCapture(['template', '--source-stream-arn', 'x', '--json']),
    /template has no --json: the template itself is JSON/,
  );
});
