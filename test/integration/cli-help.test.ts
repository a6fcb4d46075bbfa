import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { runCliCapture } from '../harness/cli.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

test('--version and -V print the name and the version', async () => {
  for (const flag of ['--version', '-V']) {
    const r = await runCliCapture([flag]);
    assert.deepEqual(r, { code: 0, stdout: `dynamodb-replicator ${VERSION}\n`, stderr: '' });
  }
});

test('help <command> prints exactly what <command> --help prints, for every command', async () => {
  for (const command of COMMANDS) {
    const viaHelp = await runCliCapture(['help', command.name]);
    const viaFlag = await runCliCapture([command.name, '--help']);
    assert.equal(viaHelp.code, 0, command.name);
    assert.deepEqual(viaHelp, viaFlag, command.name);
    assert.ok(viaHelp.stdout.startsWith(`Usage: dynamodb-replicator ${command.name}`), command.name);
  }
});

test('an unknown command or option suggests the closest one, exit 2', async () => {
  const command = await runCliCapture(['restroe', 'a', 'b']);
  assert.equal(command.code, 2);
  assert.match(command.stderr, /^error: unknown command "restroe" \(did you mean "restore"\?\)\n/);
  const help = await runCliCapture(['help', 'copie']);
  assert.equal(help.code, 2);
  assert.match(help.stderr, /^error: unknown command "copie" \(did you mean "copy"\?\)\n/);
  const flag = await runCliCapture(['scan', 'us-east-1/t', '--segmets', '2']);
  assert.deepEqual(flag, {
    code: 2,
    stdout: '',
    stderr: "error: scan: Unknown option '--segmets' (did you mean --segments?)\n",
  });
  const far = await runCliCapture(['scan', 'us-east-1/t', '--launch-rockets']);
  assert.deepEqual(far, { code: 2, stdout: '', stderr: "error: scan: Unknown option '--launch-rockets'\n" });
});
