import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { CliIO } from '../../src/cli/command.js';
import { progressReporter } from '../../src/cli/progress.js';
import { virtualClock } from '../harness/virtual-clock.js';

function terminal(isTTY: boolean): { io: CliIO; text(): string } {
  const stderr = Object.assign(new PassThrough(), { isTTY });
  const chunks: Buffer[] = [];
  stderr.on('data', (c: Buffer) => chunks.push(c));
  const io: CliIO = { stdout: new PassThrough(), stderr, env: {} };
  return { io, text: () => Buffer.concat(chunks).toString('utf8') };
}

test('the progress line groups counts with commas and redraws at most every 200 ms', () => {
  const { io, text } = terminal(true);
  const clock = virtualClock(10_000);
  const progress = progressReporter(io, 'export of t', 1_234_567, clock.now);
  clock.advance(500);
  progress.update(1_032);
  clock.advance(100);
  progress.update(1_100); // within 200 ms of the last redraw: not shown
  clock.advance(500);
  progress.update(12_345);
  progress.done();
  assert.equal(
    text(),
    '\r\x1b[Kexport of t: 1,032 of ~1,234,567 items (2,064/s)' +
      '\r\x1b[Kexport of t: 12,345 of ~1,234,567 items (11,223/s)' +
      '\r\x1b[K',
  );
});

test('no progress when stderr is not a terminal', () => {
  const { io, text } = terminal(false);
  const progress = progressReporter(io, 'export of t');
  progress.update(5);
  progress.done();
  assert.equal(text(), '');
});
