import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BatchWriteItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { fromDynamoJson } from '../../src/core/ddb-json.js';
import { compareNumberStrings, itemsEqual } from '../../src/core/equality.js';
import type { AttributeValue, Item } from '../../src/core/types.js';
import { runCliCapture } from '../harness/cli.js';
import { spawnCli, waitFor } from '../harness/cli-process.js';
import { createTestTable, dynamoClient, dynamoEndpoint, uniqueName } from '../harness/dynamodb.js';
import { byId, prototypeNamed, scanAll } from '../harness/table-items.js';

const bytes = (...b: number[]) => new Uint8Array(b);

/** Every kind of value the old tool lost or mangled. */
const TRICKY: Item[] = [
  { id: { S: 'big' }, n: { N: '12345678901234567890123456789012345678' } },
  { id: { S: 'tiny' }, n: { N: '1E-130' } },
  { id: { S: 'negative' }, n: { N: '-0.000000000000000000000000000000000001' } },
  {
    id: { S: 'binary' },
    b: { B: bytes(0, 1, 2, 127, 128, 254, 255) },
    bs: { BS: [bytes(1), bytes(2, 3), bytes(255, 0, 255)] },
  },
  { id: { S: 'empty' }, s: { S: '' }, b: { B: bytes() }, m: { M: { e: { S: '' } } }, l: { L: [{ S: '' }] } },
  {
    id: { S: 'nested' },
    m: {
      M: {
        a: {
          L: [
            { N: '1' },
            { S: 'x' },
            { M: { deep: { L: [{ BOOL: true }, { NULL: true }, { BOOL: false }] } } },
          ],
        },
        big: { N: '-99999999999999999999999999999999999999' },
        ss: { SS: ['z', 'y'] },
      },
    },
    l: { L: [{ L: [{ L: [] }] }, { M: {} }, { B: bytes(9, 9) }] },
  },
  {
    id: { S: 'sets' },
    ss: { SS: ['a', 'b', 'c', 'ünïcødé ✓'] },
    ns: { NS: ['1', '2.5', '-3', '12345678901234567890123456789012345678', '1E-130'] },
  },
  { id: { S: 'prototype names' }, ...prototypeNamed('export') },
  { id: { S: 'unicode and "quotes"\n' }, text: { S: 'line1\nline2\r\n\t"quoted" \\ back\u0000slash 😀' } },
];

/** A few hundred ordinary items so the parallel scan has several segments' worth of data. */
function fillerItems(count: number): Item[] {
  return Array.from({ length: count }, (_, i) => ({
    id: { S: `item-${String(i).padStart(4, '0')}` },
    n: { N: String(i * 7919) },
    price: { N: `${i}.${String(i % 100).padStart(2, '0')}1` },
    tags: { SS: [`t${i % 5}`, `u${i % 7}`] },
  }));
}

async function setup(count = 300): Promise<{ endpoint: string; source: string; items: Item[] }> {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const source = await createTestTable(client);
  const items = [...TRICKY, ...fillerItems(count)];
  for (const item of TRICKY)
    await client.send(new PutItemCommand({ TableName: source, Item: item as never }));
  const filler = items.slice(TRICKY.length);
  for (let i = 0; i < filler.length; i += 25) {
    const batch = filler.slice(i, i + 25).map((item) => ({ PutRequest: { Item: item as never } }));
    const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [source]: batch } }));
    assert.equal(Object.keys(out.UnprocessedItems ?? {}).length, 0);
  }
  client.destroy();
  return { endpoint, source, items };
}

/** The exact wire strings of every N and NS value, in a stable order (sets sorted). */
function numberStrings(value: AttributeValue): string[] {
  if ('N' in value) return [value.N];
  if ('NS' in value) return [...value.NS].sort();
  if ('M' in value)
    return Object.keys(value.M)
      .sort()
      .flatMap((k) => numberStrings(value.M[k] as AttributeValue));
  if ('L' in value) return value.L.flatMap(numberStrings);
  return [];
}

function bytesOf(value: AttributeValue): string[] {
  if ('B' in value) return [Buffer.from(value.B).toString('hex')];
  if ('BS' in value) return value.BS.map((b) => Buffer.from(b).toString('hex')).sort();
  if ('M' in value)
    return Object.keys(value.M)
      .sort()
      .flatMap((k) => bytesOf(value.M[k] as AttributeValue));
  if ('L' in value) return value.L.flatMap(bytesOf);
  return [];
}

/** Equal item for item (itemsEqual), with the exact same number strings and bytes as the source. */
async function assertSameTables(endpoint: string, source: string, target: string, expected: number) {
  const client = dynamoClient(endpoint);
  const a = byId(await scanAll(client, source));
  const b = byId(await scanAll(client, target));
  client.destroy();
  assert.equal(a.size, expected);
  assert.equal(b.size, expected);
  for (const [id, item] of a) {
    const copy = b.get(id);
    assert.ok(itemsEqual(item, copy), `item ${id} differs`);
    assert.ok(copy);
    assert.deepEqual(Object.keys(copy).sort(), Object.keys(item).sort(), `attributes of ${id}`);
    for (const name of Object.keys(item)) {
      const x = item[name] as AttributeValue;
      const y = copy[name] as AttributeValue;
      assert.deepEqual(numberStrings(y), numberStrings(x), `numbers of ${id}.${name}`);
      assert.deepEqual(bytesOf(y), bytesOf(x), `bytes of ${id}.${name}`);
    }
  }
}

/**
 * The source table kept the tricky values (so the comparisons mean something). DynamoDB stores
 * numbers normalized: DynamoDB Local returns 1E-130 as a plain decimal, equal in value.
 */
async function assertTrickyValuesStored(endpoint: string, table: string): Promise<Map<string, Item>> {
  const client = dynamoClient(endpoint);
  const items = byId(await scanAll(client, table));
  client.destroy();
  assert.deepEqual(items.get('big')?.n, { N: '12345678901234567890123456789012345678' });
  assert.deepEqual(items.get('negative')?.n, { N: '-0.000000000000000000000000000000000001' });
  const tiny = items.get('tiny')?.n as { N: string };
  assert.equal(compareNumberStrings(tiny.N, '1E-130'), 0, tiny.N);
  assert.equal(compareNumberStrings(tiny.N, '1E-129'), -1);
  assert.deepEqual(items.get('empty')?.s, { S: '' });
  return items;
}

/** Every item line of an export carries exactly the source's wire values (numbers, bytes). */
function assertLinesMatch(itemLines: readonly string[], source: Map<string, Item>): void {
  assert.equal(itemLines.length, source.size);
  for (const [i, line] of itemLines.entries()) {
    const item = fromDynamoJson(JSON.parse(line), `line ${i + 2}`);
    const id = (item.id as { S: string }).S;
    const original = source.get(id);
    assert.ok(original && itemsEqual(item, original), `line ${i + 2} (${id})`);
    for (const name of Object.keys(original)) {
      const x = original[name] as AttributeValue;
      const y = item[name] as AttributeValue;
      assert.deepEqual(numberStrings(y), numberStrings(x), `numbers of ${id}.${name}`);
      assert.deepEqual(bytesOf(y), bytesOf(x), `bytes of ${id}.${name}`);
    }
  }
}

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'cli-export-'));
}

function loc(endpoint: string, table: string): string {
  return `${endpoint}/${table}`;
}

for (const fileName of ['export.ndjson', 'export.ndjson.gz']) {
  test(`export -> import round trip through ${fileName} keeps every value exactly`, async () => {
    const { endpoint, source, items } = await setup();
    const dir = await tempDir();
    const file = path.join(dir, fileName);

    const exported = await runCliCapture(['export', loc(endpoint, source), file, '--parallel', '3']);
    assert.equal(exported.stderr, exported.stderr.replace(/\s+at /, ''), 'no stack trace');
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stderr, new RegExp(`^exported ${items.length} items from `));
    assert.equal(exported.stdout, '');

    const raw = await readFile(file);
    const gz = fileName.endsWith('.gz');
    assert.equal(raw[0] === 0x1f && raw[1] === 0x8b, gz, 'gzip exactly when the name ends in .gz');
    const lines = (gz ? gunzipSync(raw) : raw).toString('utf8').split('\n');
    assert.equal(lines.pop(), '', 'the file ends with a newline');
    assert.equal(lines.length, items.length + 1);
    const description = JSON.parse(lines[0] as string);
    assert.equal(description.TableName, source);
    assert.deepEqual(description.KeySchema, [{ AttributeName: 'id', KeyType: 'HASH' }]);
    // The wire strings in the file are the exact ones DynamoDB stored, B as base64.
    const stored = await assertTrickyValuesStored(endpoint, source);
    assertLinesMatch(lines.slice(1), stored);
    const lineOf = (id: string) => lines.find((l) => JSON.parse(l).id?.S === id) as string;
    const big = lineOf('big');
    assert.ok(big.includes('"n":{"N":"12345678901234567890123456789012345678"}'), big);
    const binary = JSON.parse(lineOf('binary'));
    assert.equal(binary.b.B, Buffer.from([0, 1, 2, 127, 128, 254, 255]).toString('base64'));

    const target = uniqueName('imported');
    const imported = await runCliCapture(['import', file, loc(endpoint, target), '--create']);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, new RegExp(`^imported ${items.length} items into .*/${target} \\(created`));

    await assertSameTables(endpoint, source, target, items.length);
    await rm(dir, { recursive: true });
  });
}

test('export to stdout and import from stdin (gzip detected by content, not name)', async () => {
  const { endpoint, source, items } = await setup(50);
  const exported = await runCliCapture(['export', loc(endpoint, source), '--json']);
  assert.equal(exported.code, 0, exported.stderr);
  const lines = exported.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, items.length + 1);
  const summary = JSON.parse(exported.stderr);
  assert.equal(summary.items, items.length);

  const target = uniqueName('stdin');
  const imported = await runCliCapture(['import', '-', loc(endpoint, target), '--create', '--json'], {
    stdin: exported.stdout,
  });
  assert.equal(imported.code, 0, imported.stderr);
  assert.equal(JSON.parse(imported.stdout).items, items.length);
  await assertSameTables(endpoint, source, target, items.length);
  // Importing again into the now existing table (same key schema) needs no --create.
  const again = await runCliCapture(['import', '-', loc(endpoint, target), '--json'], {
    stdin: exported.stdout,
  });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).created, false);
  assert.equal(JSON.parse(again.stdout).items, items.length);

  // A gzip export under a name without .gz is still read as gzip.
  const dir = await tempDir();
  const gz = path.join(dir, 'a.ndjson.gz');
  assert.equal((await runCliCapture(['export', loc(endpoint, source), gz])).code, 0);
  const misnamed = path.join(dir, 'misnamed.json');
  await copyFile(gz, misnamed);
  const second = uniqueName('misnamed');
  const fromGz = await runCliCapture(['import', misnamed, loc(endpoint, second), '--create']);
  assert.equal(fromGz.code, 0, fromGz.stderr);
  await assertSameTables(endpoint, source, second, items.length);
  await rm(dir, { recursive: true });
});

test('progress goes to stderr only when it is a terminal; the final count always', async () => {
  const { endpoint, source, items } = await setup(40);
  const dir = await tempDir();
  const plain = await runCliCapture(['export', loc(endpoint, source), path.join(dir, 'a.ndjson')]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stderr.split('\n').length, 2, 'one line and the final newline');
  assert.doesNotMatch(plain.stderr, /\r/);
  const tty = await runCliCapture(['export', loc(endpoint, source), path.join(dir, 'b.ndjson')], {
    stderrIsTTY: true,
  });
  assert.equal(tty.code, 0, tty.stderr);
  // \r and the ANSI "erase line" sequence redraw the line in place.
  assert.ok(tty.stderr.includes('\r\x1b[Kexport '), JSON.stringify(tty.stderr));
  // Counts are grouped with commas (1,032) whatever the machine's speed or locale.
  assert.match(
    tty.stderr,
    /export [^\n]*: \d{1,3}(,\d{3})* (of ~\d{1,3}(,\d{3})* )?items \(\d{1,3}(,\d{3})*\/s\)/,
  );
  assert.match(tty.stderr, new RegExp(`exported ${items.length} items from `));
  await rm(dir, { recursive: true });
});

test('import of 1001 items with blank lines, CRLF and a final partial batch loads exactly 1001', async () => {
  const endpoint = await dynamoEndpoint();
  const table = uniqueName('blank');
  const description = {
    TableName: 'original-name',
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
  };
  const parts = [JSON.stringify(description), ''];
  for (let i = 0; i < 1001; i++) {
    parts.push(JSON.stringify({ id: { S: `k${i}` }, n: { N: String(i) } }));
    // blank lines, whitespace-only lines and CRLF ends between items
    parts.push(i % 3 === 0 ? '' : i % 3 === 1 ? '   \r' : '\r');
  }
  const dir = await tempDir();
  const file = path.join(dir, 'items.ndjson');
  await writeFile(file, parts.join('\n'));

  const result = await runCliCapture(['import', file, loc(endpoint, table), '--create']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^imported 1001 items into /);

  const client = dynamoClient(endpoint);
  const count = await client.send(
    new ScanCommand({ TableName: table, Select: 'COUNT', ConsistentRead: true }),
  );
  assert.equal(count.Count, 1001);
  assert.equal(count.LastEvaluatedKey, undefined);
  const ids = [...byId(await scanAll(client, table)).keys()].sort();
  assert.deepEqual(ids, Array.from({ length: 1001 }, (_, i) => `k${i}`).sort());
  client.destroy();
  await rm(dir, { recursive: true });
});

/** A table of `count` items of ~300 bytes: big enough that an export takes a while. */
async function paddedTable(count: number) {
  const endpoint = await dynamoEndpoint();
  const client = dynamoClient(endpoint);
  const table = await createTestTable(client);
  const items = Array.from({ length: count }, (_, i) => ({
    id: { S: `k${i}` },
    pad: { S: 'x'.repeat(300) },
  }));
  for (let i = 0; i < items.length; i += 25)
    await client.send(
      new BatchWriteItemCommand({
        RequestItems: { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) },
      }),
    );
  return { endpoint, client, table };
}

test('export to a reader that goes away (`| head -1`) stops quietly with exit 0', async () => {
  const { endpoint, client, table } = await paddedTable(3000);
  const { child, output } = spawnCli(['export', `${endpoint}/${table}`]);
  // Read the first line, then close the pipe as `head -1` would.
  await new Promise<void>((resolve) => {
    let seen = '';
    child.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('\n')) {
        child.stdout?.destroy();
        resolve();
      }
    });
  });
  const result = await output;
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /EPIPE|error/i);
  client.destroy();
});

/** An export to `<dir>/out.json` as a child process, running for seconds, once its temporary file exists. */
async function slowExportToFile() {
  const { endpoint, client, table } = await paddedTable(3000);
  const dir = await mkdtemp(path.join(tmpdir(), 'export-int-'));
  const file = path.join(dir, 'out.json');
  // About 115 read units at 20 units/s: the export runs for several seconds.
  const { child, output } = spawnCli(['export', `${endpoint}/${table}`, file, '--read-budget', '20']);
  await waitFor(
    async () => (await readdir(dir)).some((f) => f.includes('.partial')),
    20_000,
    'the partial file',
  );
  return { endpoint, client, table, dir, file, child, output };
}

test('an interrupted export to a file leaves neither the file nor its temporary file (exit 130)', async () => {
  const { client, dir, child, output } = await slowExportToFile();
  child.kill('SIGINT');
  const result = await output;
  assert.equal(result.code, 130, result.stderr);
  assert.deepEqual(await readdir(dir), []);
  await rm(dir, { recursive: true, force: true });
  client.destroy();
});

test('a SIGKILLed export leaves its temporary file, which the next export to that file removes', async () => {
  const { endpoint, client, table, dir, file, child, output } = await slowExportToFile();
  child.kill('SIGKILL');
  assert.equal((await output).signal, 'SIGKILL');
  assert.deepEqual(await readdir(dir), [`.out.json.partial-${child.pid}`]);
  const again = await runCliCapture(['export', `${endpoint}/${table}`, file]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await readdir(dir), ['out.json']);
  await rm(dir, { recursive: true, force: true });
  client.destroy();
});
