/**
 * The template command's YAML writer and the Lambda packages' zip writer, read back with independent
 * parsers (`yaml`, `fflate`). Strings YAML would read as numbers, booleans or nulls stay strings;
 * nesting and empties survive; zips are byte-for-byte reproducible.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unzipSync } from 'fflate';
import { parse } from 'yaml';
import { toYaml } from '../../src/cdk/yaml.js';
import { createZip } from '../../src/deploy/zip.js';

test('toYaml round-trips JSON values, with look-alike strings kept as strings', () => {
  const value = {
    Description: 'line one\nline "two" \\ \u2603',
    Strings: [
      'true',
      'no',
      'null',
      '~',
      '0123',
      '1e3',
      '2026-01-01',
      '',
      ' padded ',
      '- dash',
      '#hash',
      'a: b',
    ],
    Numbers: [0, -1.5, 1e-7, 12345678901234],
    Flags: [true, false, null],
    'Fn::GetAtt': ['Function', 'Arn'],
    '1': { yes: {}, nested: [[], [{}], [[1, 2], { a: [] }]] },
    'key with spaces': 'x',
  };
  const text = toYaml(value);
  assert.deepEqual(parse(text), value);
  assert.match(text, /^Fn::GetAtt:$/m, 'intrinsic function keys stay plain');
  assert.match(text, /^ {2}"yes": \{\}$/m, 'reserved words as keys are quoted');
});

test('toYaml refuses values JSON cannot hold', () => {
  assert.throws(() => toYaml({ a: Infinity }), /no YAML form/);
  assert.throws(() => toYaml({ a: () => 1 }), /cannot write a function/);
});

test('createZip: entries read back by an independent reader, same bytes for the same input', () => {
  const files = [
    { name: 'index.mjs', data: Buffer.from('export const x = 1;\n'.repeat(1000)) },
    { name: 'empty.txt', data: new Uint8Array(0) },
    { name: 'dir/ünïcode.json', data: Buffer.from('{"a":1}') },
  ];
  const zip = createZip(files);
  const entries = unzipSync(zip);
  assert.deepEqual(
    Object.keys(entries),
    files.map((f) => f.name),
  );
  for (const f of files) assert.deepEqual(Buffer.from(entries[f.name] as Uint8Array), Buffer.from(f.data));
  assert.ok(zip.length < 1000, `compressed to ${zip.length} bytes`);
  assert.deepEqual(createZip(files), zip);
  assert.throws(() => createZip([files[0]!, files[0]!]), /duplicate entry index\.mjs/);
});
