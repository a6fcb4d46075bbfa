import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCliCapture } from '../harness/cli.js';
import { createTestTable } from '../harness/dynamodb.js';
import {
  createPair,
  HASH_RANGE,
  diffCli,
  kindsByRange,
  putItems,
  readReport,
  row,
  scanAll,
  type Pair,
} from './diff-fixtures.js';
import type { Item } from '../../src/core/types.js';
import { backfill } from '../../src/diff/diff-tables.js';
import { tableSide, tableTarget } from '../../src/diff/side.js';

const HELLO = new Uint8Array(Buffer.from('hello world'));

function tempFile(name: string): string {
  return path.join(mkdtempSync(path.join(tmpdir(), 'diff-test-')), name);
}

/** The fixture: range1 missing, range2 different, range3 extraneous, range4 equal (binary). */
async function seedFixture(pair: Pair): Promise<{ primary: Map<string, Item>; replica: Map<string, Item> }> {
  await putItems(pair.primaryClient, pair.primary, [
    row('range1', { N: '1' }),
    row('range2', { N: '2' }),
    row('range4', { B: HELLO }),
  ]);
  await putItems(pair.replicaClient, pair.replica, [
    row('range2', { N: '10000' }),
    row('range3', { N: '3' }),
    row('range4', { B: new Uint8Array(Buffer.from('hello world')) }),
  ]);
  return {
    primary: await scanAll(pair.primaryClient, pair.primary),
    replica: await scanAll(pair.replicaClient, pair.replica),
  };
}

const EXPECTED = ['different range2', 'extraneous range3', 'missing range1'];

test('diff-tables reports missing, different and extraneous once each and writes nothing', async () => {
  const pair = await createPair();
  const before = await seedFixture(pair);
  const report = tempFile('report.jsonl');
  const r = await diffCli(pair, ['--report', report, '--show-items', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const summary = JSON.parse(r.stdout) as {
    discrepancies: Record<string, number>;
    scanned: Record<string, number>;
    repair: boolean;
  };
  assert.deepEqual(summary.discrepancies, { missing: 1, different: 1, extraneous: 1, total: 3 });
  assert.deepEqual(summary.scanned, { primary: 3, replica: 3 });
  assert.equal(summary.repair, false);
  const lines = readReport(report);
  assert.deepEqual(kindsByRange(lines), EXPECTED);
  const different = lines.find((l) => l.kind === 'different');
  assert.deepEqual(different?.primary, { hash: { S: 'hash1' }, range: { S: 'range2' }, other: { N: '2' } });
  assert.deepEqual(different?.replica, {
    hash: { S: 'hash1' },
    range: { S: 'range2' },
    other: { N: '10000' },
  });
  assert.equal(lines.find((l) => l.kind === 'missing')?.replica, null);
  // Nothing written on either side.
  assert.deepEqual(await scanAll(pair.primaryClient, pair.primary), before.primary);
  assert.deepEqual(await scanAll(pair.replicaClient, pair.replica), before.replica);
});

test('diff-tables human output lists each key once and says nothing was written', async () => {
  const pair = await createPair();
  await seedFixture(pair);
  const r = await diffCli(pair, []);
  assert.equal(r.code, 1, r.stderr);
  const kinds = r.stdout
    .split('\n')
    .filter((l) => /^(missing|different|extraneous) /.test(l))
    .map((l) => `${l.split(' ')[0]} ${/"range":\{"S":"(\w+)"\}/.exec(l)?.[1]}`)
    .sort();
  assert.deepEqual(kinds, EXPECTED);
  assert.match(r.stdout, /discrepancies: 3 \(missing 1, different 1, extraneous 1\)/);
  assert.match(r.stdout, /nothing was written/);
  assert.equal(r.stderr, '');
});

test('diff-tables --repair reports the same three, fixes them, and a second run finds 0', async () => {
  const pair = await createPair();
  const before = await seedFixture(pair);
  const report = tempFile('report.jsonl');
  const r = await diffCli(pair, ['--repair', '--report', report]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(kindsByRange(readReport(report)), EXPECTED);
  assert.match(r.stdout, /repaired: 3 writes .*\(2 puts, 1 deletes\); the replica now matches the primary/);
  // The replica is now exactly the primary; the primary is untouched.
  assert.deepEqual(await scanAll(pair.primaryClient, pair.primary), before.primary);
  assert.deepEqual(await scanAll(pair.replicaClient, pair.replica), before.primary);
  const again = await diffCli(pair, ['--json']);
  assert.equal(again.code, 0, again.stderr);
  const summary = JSON.parse(again.stdout) as { discrepancies: { total: number } };
  assert.equal(summary.discrepancies.total, 0);
});

test('--backfill --repair copies every primary item onto an empty replica; a plain re-run finds 0', async () => {
  const pair = await createPair();
  const items = Array.from({ length: 300 }, (_, i) =>
    row(
      `r${String(i).padStart(3, '0')}`,
      { M: { n: { N: `${i}.5` }, tags: { SS: ['x', `t${i}`] } } },
      `h${i % 7}`,
    ),
  );
  await putItems(pair.primaryClient, pair.primary, items);
  const r = await diffCli(pair, ['--backfill', '--repair', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { mode: string; scanned: number; written: number };
  assert.equal(summary.mode, 'backfill');
  assert.equal(summary.scanned, 300);
  assert.equal(summary.written, 300);
  assert.deepEqual(
    await scanAll(pair.replicaClient, pair.replica),
    await scanAll(pair.primaryClient, pair.primary),
  );
  const again = await diffCli(pair, ['--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { discrepancies: { total: number } }).discrepancies.total, 0);
});

test('backfill() into a repair target that has only write() (no writePages) copies every item', async () => {
  const pair = await createPair();
  const items = Array.from({ length: 1200 }, (_, i) => row(`r${String(i).padStart(4, '0')}`, { N: `${i}` }));
  await putItems(pair.primaryClient, pair.primary, items);
  const full = tableTarget(pair.replicaClient, pair.replica, { keySchema: HASH_RANGE });
  const result = await backfill(
    tableSide(pair.primaryClient, pair.primary, HASH_RANGE),
    { label: full.label, write: (requests, onProgress, signal) => full.write(requests, onProgress, signal) },
    { parallel: 3 },
  );
  assert.equal(result.scanned, 1200);
  assert.equal(result.written, 1200);
  assert.deepEqual(
    await scanAll(pair.replicaClient, pair.replica),
    await scanAll(pair.primaryClient, pair.primary),
  );
});

test('--backfill without --repair is refused with exit 2 and writes nothing', async () => {
  const pair = await createPair();
  await putItems(pair.primaryClient, pair.primary, [row('a', { S: 'x' })]);
  const r = await diffCli(pair, ['--backfill']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: --backfill .*add --repair to confirm \(nothing was written\)\n$/);
  assert.equal((await scanAll(pair.replicaClient, pair.replica)).size, 0);
});

test('sets in another order and "1.50" vs "1.5" are equal; a difference in the 38th digit is not', async () => {
  const pair = await createPair();
  const n37 = '1234567890123456789012345678901234567';
  await putItems(pair.primaryClient, pair.primary, [
    row('ss', { SS: ['a', 'b', 'c', 'd'] }),
    row('ns', { NS: ['1', '2.5', '300', '-4'] }),
    row('bs', { BS: [new Uint8Array([1]), new Uint8Array([2, 3]), new Uint8Array([4])] }),
    row('decimal', { N: '1.50' }),
    row('digits38', { N: n37 + '1' }),
  ]);
  await putItems(pair.replicaClient, pair.replica, [
    row('ss', { SS: ['d', 'c', 'b', 'a'] }),
    row('ns', { NS: ['-4', '300', '2.50', '1'] }),
    row('bs', { BS: [new Uint8Array([4]), new Uint8Array([2, 3]), new Uint8Array([1])] }),
    row('decimal', { N: '1.5' }),
    row('digits38', { N: n37 + '2' }),
  ]);
  const report = tempFile('report.jsonl');
  const r = await diffCli(pair, ['--report', report, '--show-items', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const lines = readReport(report);
  assert.deepEqual(kindsByRange(lines), ['different digits38']);
  assert.deepEqual(lines[0]?.primary, row('digits38', { N: n37 + '1' }));
  assert.deepEqual(lines[0]?.replica, row('digits38', { N: n37 + '2' }));
});

test('--segment N --segments 4: each share examines only its part; the four together cover every key once', async () => {
  const pair = await createPair();
  const primary: Item[] = [];
  const replica: Item[] = [];
  const expected: string[] = [];
  for (let i = 0; i < 400; i++) {
    const range = `r${String(i).padStart(3, '0')}`;
    const hash = `h${i % 40}`;
    if (i % 10 !== 0) primary.push(row(range, { N: String(i) }, hash));
    if (i % 10 !== 1) replica.push(row(range, { N: String(i % 10 === 2 ? -i : i) }, hash));
    if (i % 10 === 0) expected.push(`extraneous ${range}`);
    if (i % 10 === 1) expected.push(`missing ${range}`);
    if (i % 10 === 2) expected.push(`different ${range}`);
  }
  await putItems(pair.primaryClient, pair.primary, primary);
  await putItems(pair.replicaClient, pair.replica, replica);
  const found: string[] = [];
  let scannedPrimary = 0;
  let scannedReplica = 0;
  for (let segment = 0; segment < 4; segment++) {
    const report = tempFile(`share-${segment}.jsonl`);
    const r = await diffCli(pair, [
      '--segment',
      String(segment),
      '--segments',
      '4',
      '--report',
      report,
      '--json',
    ]);
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    const s = JSON.parse(r.stdout) as { scanned: { primary: number; replica: number }; share: unknown };
    assert.deepEqual(s.share, { segment, segments: 4 });
    assert.ok(
      s.scanned.primary > 0 && s.scanned.primary < 360,
      `share ${segment} scanned ${s.scanned.primary}`,
    );
    scannedPrimary += s.scanned.primary;
    scannedReplica += s.scanned.replica;
    found.push(...kindsByRange(readReport(report)));
  }
  assert.equal(scannedPrimary, 360);
  assert.equal(scannedReplica, 360);
  assert.deepEqual(found.sort(), expected.sort());
  assert.equal(new Set(found).size, 120);
});

test('bad arguments: clear errors, exit 2, nothing written', async () => {
  const pair = await createPair();
  await putItems(pair.primaryClient, pair.primary, [row('a', { S: 'x' })]);
  const missingReplica = pair.replicaLocation.replace(pair.replica, 'no-such-table-xyz');
  let r = await runCliCapture(['diff-tables', pair.primaryLocation, missingReplica, '--repair']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no-such-table-xyz/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);

  r = await runCliCapture(['diff-tables', pair.primaryLocation]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /expected 2 arguments, got 1/);

  const hashOnly = await createTestTable(pair.replicaClient, { hash: { name: 'hash', type: 'S' } });
  const other = pair.replicaLocation.replace(pair.replica, hashOnly);
  r = await runCliCapture(['diff-tables', pair.primaryLocation, other, '--repair']);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /^error: Key schemas differ: primary .* has hash hash \(S\), range range \(S\); replica .* has hash hash \(S\), no range key\n$/,
  );

  for (const argv of [
    ['--segment', '1'],
    ['--segment', '4', '--segments', '4'],
    ['--segment', '0', '--segments', '2', '--parallel', '2'],
    ['--settle', 'soon'],
    ['--parallel', '0'],
  ]) {
    r = await diffCli(pair, ['--repair', ...argv]);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.stderr, /^error: --/, argv.join(' '));
  }
  assert.equal((await scanAll(pair.replicaClient, pair.replica)).size, 0);
  assert.equal((await scanAll(pair.replicaClient, hashOnly as string)).size, 0);
});

test('--read-budget and --items-per-second with --parallel 2: the same three discrepancies', async () => {
  const pair = await createPair();
  await seedFixture(pair);
  const report = tempFile('report.jsonl');
  const r = await diffCli(pair, [
    '--read-budget',
    '50',
    '--items-per-second',
    '100',
    '--parallel',
    '2',
    '--report',
    report,
    '--json',
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(kindsByRange(readReport(report)), EXPECTED);
  assert.equal((JSON.parse(r.stdout) as { discrepancies: { total: number } }).discrepancies.total, 3);
  for (const bad of [
    ['--read-budget', '0'],
    ['--items-per-second', 'fast'],
  ]) {
    const b = await diffCli(pair, bad);
    assert.equal(b.code, 2, bad.join(' '));
    assert.match(b.stderr, /^error: --(read-budget|items-per-second) must be a positive number/);
  }
});
