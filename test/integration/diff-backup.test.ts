import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { backupTable } from '../../src/backup/full-backup.js';
import { openObjectStore } from '../../src/storage/open-store.js';
import { runCliCapture } from '../harness/cli.js';
import { createPair, kindsByRange, putItems, readReport, row } from './diff-fixtures.js';

test('diff-tables --against-backup proves a backup complete, then names exactly what changed since', async () => {
  const pair = await createPair();
  const items = Array.from({ length: 250 }, (_, i) =>
    row(`r${String(i).padStart(3, '0')}`, { M: { n: { N: `${i}.25` }, s: { SS: ['b', 'a'] } } }, `h${i % 9}`),
  );
  await putItems(pair.primaryClient, pair.primary, items);
  const dir = mkdtempSync(path.join(tmpdir(), 'diff-backup-'));
  const backup = await backupTable(pair.primaryClient, openObjectStore(dir), { table: pair.primary });
  assert.equal(backup.itemCount, 250);

  const diff = (...args: string[]) =>
    runCliCapture(['diff-tables', pair.primaryLocation, dir, '--against-backup', ...args]);
  let r = await diff('--json');
  assert.equal(r.code, 0, r.stderr);
  const equal = JSON.parse(r.stdout) as { discrepancies: { total: number }; scanned: Record<string, number> };
  assert.equal(equal.discrepancies.total, 0);
  assert.deepEqual(equal.scanned, { primary: 250, replica: 250 });

  // After the backup: one new item, one changed, one deleted.
  await putItems(pair.primaryClient, pair.primary, [
    row('new', { S: 'x' }, 'h1'),
    row('r007', { M: { n: { N: '7.26' }, s: { SS: ['a', 'b'] } } }, 'h7'),
  ]);
  await pair.primaryClient.send(
    new DeleteItemCommand({ TableName: pair.primary, Key: { hash: { S: 'h3' }, range: { S: 'r012' } } }),
  );
  const report = path.join(dir, 'report.jsonl');
  r = await diff('--report', report);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(kindsByRange(readReport(report)), ['different r007', 'extraneous r012', 'missing new']);
  assert.match(r.stdout, /discrepancies: 3 \(missing 1, different 1, extraneous 1\)/);
  assert.match(r.stdout, /the backup does not hold the table's current state/);

  r = await diff('--repair');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: --against-backup compares a table with a backup/);
  r = await runCliCapture([
    'diff-tables',
    pair.primaryLocation,
    path.join(dir, 'nothing-here'),
    '--against-backup',
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: /);
});
