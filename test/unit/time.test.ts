import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { UsageError } from '../../src/core/errors.js';
import { formatTime, parseTimeArgument } from '../../src/core/time.js';
import { turnoverOption } from '../../src/cli/time-option.js';

test('time arguments: epoch ms, or ISO 8601 where a missing offset means UTC', () => {
  assert.equal(parseTimeArgument('1795771800000', '--at'), 1_795_771_800_000);
  assert.equal(parseTimeArgument('2026-11-27T09:30:00Z', '--at'), 1_795_771_800_000);
  assert.equal(parseTimeArgument('2026-11-27T09:30:00', '--at'), 1_795_771_800_000);
  assert.equal(parseTimeArgument('2026-11-27T09:30', '--at'), 1_795_771_800_000);
  assert.equal(parseTimeArgument('2026-11-27T11:30:00+02:00', '--at'), 1_795_771_800_000);
  assert.equal(parseTimeArgument('2026-11-27T11:30:00+0200', '--at'), 1_795_771_800_000);
  assert.equal(parseTimeArgument('2026-11-27T09:30:00.250z', '--at'), 1_795_771_800_250);
  assert.equal(parseTimeArgument('2026-11-27', '--at'), 1_795_737_600_000);
  assert.equal(formatTime(1_795_771_800_000), '2026-11-27T09:30:00.000Z (1795771800000)');
  for (const bad of ['yesterday', '2026-13-01', '27/11/2026', '1.5', '']) {
    assert.throws(() => parseTimeArgument(bad, '--at'), {
      name: 'UsageError',
      message: `--at must be an ISO 8601 time (e.g. 2026-11-27T09:30:00Z) or epoch milliseconds, got "${bad}"`,
    });
  }
});

test('the same instant in every time zone', () => {
  const code =
    "import('./src/core/time.ts').then((m) => console.log(m.parseTimeArgument('2026-11-27T09:30:00', 'x'), m.parseTimeArgument('2026-11-27', 'x')))";
  for (const tz of ['UTC', 'America/Los_Angeles', 'Asia/Kolkata', 'Pacific/Kiritimati']) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
      env: { ...process.env, TZ: tz },
      encoding: 'utf8',
    });
    assert.equal(r.stdout, '1795771800000 1795737600000\n', `${tz}: ${r.stderr}`);
  }
});

test('--turnover-at takes ISO 8601 or epoch ms, inside the range every deployment accepts', () => {
  const args = (at: string) => ({
    values: { 'turnover-role': 'BEFORE', 'turnover-at': at },
    positionals: [],
  });
  assert.deepEqual(turnoverOption(args('2026-11-27T09:30:00Z')), { role: 'BEFORE', at: 1_795_771_800_000 });
  assert.deepEqual(turnoverOption(args('1795771800000')), { role: 'BEFORE', at: 1_795_771_800_000 });
  assert.throws(
    () => turnoverOption(args('1795771800')),
    /looks like epoch seconds; in milliseconds that is 1795771800000/,
  );
  assert.throws(() => turnoverOption(args('1999-01-01')), UsageError);
  assert.throws(
    () => turnoverOption({ values: { 'turnover-at': '2026-11-27' }, positionals: [] }),
    /--turnover-role must be BEFORE or AFTER \(with --turnover-at\)/,
  );
  assert.equal(turnoverOption({ values: {}, positionals: [] }), undefined);
});
