import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';
import { InvalidDataError, ItemTooLargeError } from '../../src/core/errors.js';
import { splitLines } from '../../src/dynamodb/export-file.js';
import {
  descriptionLine,
  itemLine,
  parseDescriptionLine,
  parseItemLine,
} from '../../src/dynamodb/export-format.js';
import type { KeySchema } from '../../src/core/types.js';

const SCHEMA: KeySchema = { hash: { name: 'id', type: 'S' }, range: { name: 'at', type: 'N' } };

async function lines(chunks: Array<string | Buffer>): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  for await (const l of splitLines(Readable.from(chunks), 'test')) out.push([l.lineNumber, l.text]);
  return out;
}

test('splitLines: LF and CRLF ends, blank lines kept with their numbers, a last line without newline', async () => {
  assert.deepEqual(await lines(['a\r\n\nb', 'c\n', '\r\n', 'last']), [
    [1, 'a'],
    [2, ''],
    [3, 'bc'],
    [4, ''],
    [5, 'last'],
  ]);
  assert.deepEqual(await lines(['x\n']), [[1, 'x']]);
  assert.deepEqual(await lines([]), []);
});

test('splitLines: a multi-byte character split across chunks survives', async () => {
  const bytes = Buffer.from('é✓😀\nz', 'utf8');
  const chunks = [...bytes].map((b) => Buffer.from([b]));
  assert.deepEqual(await lines(chunks), [
    [1, 'é✓😀'],
    [2, 'z'],
  ]);
});

test('splitLines: a truncated gzip stream is InvalidDataError naming the source', async () => {
  const truncated = gzipSync(Buffer.from('a\nb\nc\n'.repeat(100))).subarray(0, 20);
  const gunzip = Readable.from([truncated]).pipe(createGunzip());
  await assert.rejects(
    async () => {
      for await (const _ of splitLines(gunzip, 'backup.gz')) void _;
    },
    (e: unknown) => e instanceof InvalidDataError && /backup\.gz: not a valid gzip stream/.test(e.message),
  );
});

test('item lines round trip exactly: 38 digits, binary as base64, sets', () => {
  const item = {
    id: { S: 'k' },
    at: { N: '12345678901234567890123456789012345678' },
    b: { B: Uint8Array.of(0, 255) },
    ns: { NS: ['1E-130', '-0.000000000000000000000000000000000001'] },
  };
  const line = itemLine(item);
  assert.equal(
    line,
    '{"id":{"S":"k"},"at":{"N":"12345678901234567890123456789012345678"},"b":{"B":"AP8="},' +
      '"ns":{"NS":["1E-130","-0.000000000000000000000000000000000001"]}}\n',
  );
  assert.deepEqual(parseItemLine(line.trimEnd(), 2, SCHEMA), item);
});

test('item lines: every problem names its line number', () => {
  const bad: Array<[string, RegExp]> = [
    ['{"id":', /^line 7: not valid JSON/],
    ['[1,2]', /^line 7: /],
    ['{"id":{"S":"k"}}', /^line 7: .*at/],
    ['{"id":{"N":"1"},"at":{"N":"1"}}', /^line 7: .*id/],
    ['{"id":{"S":"k"},"at":{"N":"one"}}', /^line 7: /],
  ];
  for (const [text, message] of bad) {
    assert.throws(
      () => parseItemLine(text, 7, SCHEMA),
      (e: unknown) => e instanceof InvalidDataError && message.test(e.message),
      text,
    );
  }
  const huge = JSON.stringify({ id: { S: 'k' }, at: { N: '1' }, blob: { S: 'x'.repeat(410_000) } });
  assert.throws(
    () => parseItemLine(huge, 9, SCHEMA),
    (e: unknown) => e instanceof ItemTooLargeError && /^line 9: /.test(e.message),
  );
});

test('description lines: the Table object or the whole DescribeTable output; anything else names line 1', () => {
  const table = {
    TableName: 't',
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
  };
  assert.deepEqual(parseDescriptionLine(descriptionLine(table as never).trimEnd(), 1), table);
  assert.deepEqual(parseDescriptionLine(JSON.stringify({ Table: table }), 1), table);
  assert.throws(
    () => parseDescriptionLine('{"id":{"S":"k"}}', 1),
    /line 1: the first line of an export must be the table description/,
  );
  assert.throws(() => parseDescriptionLine('nope', 1), /line 1: not valid JSON/);
});
