/**
 * `--help`, `help <command>` and `--version` answer without loading the AWS SDK (the bulk of a
 * command's start-up time), so they answer at once. Checked by recording every module the process
 * resolves, not by timing it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { COMMANDS } from '../../src/cli/commands/index.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const RECORDER = path.join(ROOT, 'test/harness/record-imports.mjs');

async function modulesLoadedBy(
  args: string[],
): Promise<{ status: number | null; stdout: string; urls: string[] }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'help-load-'));
  const file = path.join(dir, 'imports.txt');
  try {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--import', RECORDER, 'src/cli/main.ts', ...args],
      {
        cwd: ROOT,
        env: { ...process.env, RECORD_IMPORTS_FILE: file },
        encoding: 'utf8',
      },
    );
    const urls = (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');
    return { status: r.status, stdout: r.stdout, urls };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const heavy = (urls: string[]) =>
  urls.filter((u) => /\/node_modules\/(@aws-sdk|@smithy|aws-cdk-lib)\//.test(u));

test('--help, help <command> and --version load no AWS SDK', async () => {
  for (const args of [
    ['--help'],
    ['--version'],
    ...COMMANDS.map((c) => ['help', c.name]),
    ['scan', '--help'],
  ]) {
    const r = await modulesLoadedBy(args);
    assert.equal(r.status, 0, args.join(' '));
    assert.ok(r.urls.length > 10, `the recorder saw the process load its modules (${r.urls.length})`);
    assert.deepEqual(heavy(r.urls), [], `${args.join(' ')} loaded the SDK`);
  }
});

test('running a command does load the SDK (the recorder sees it)', async () => {
  const r = await modulesLoadedBy(['describe', 'localhost:1/t']);
  assert.equal(r.status, 2);
  assert.ok(heavy(r.urls).length > 0);
});

test('table-to-table commands load neither the S3 nor the Streams client unless they use them', async () => {
  const s3 = (urls: string[]) =>
    urls.filter((u) => /\/node_modules\/@aws-sdk\/(client-s3|lib-storage|client-dynamodb-streams)\//.test(u));
  // Port 1 refuses at once: each command fails (exit 2) after loading what its run needs.
  for (const args of [
    ['copy', 'localhost:1/a', 'localhost:1/b'],
    ['diff-tables', 'localhost:1/a', 'localhost:1/b'],
    ['describe', 'localhost:1/a'],
  ]) {
    const r = await modulesLoadedBy(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.ok(heavy(r.urls).length > 0, `${args.join(' ')} loaded the SDK (the recorder sees it)`);
    assert.deepEqual(s3(r.urls), [], `${args.join(' ')} loaded the S3 or Streams client`);
  }
  const job = await modulesLoadedBy(['copy', 'localhost:1/a', 'localhost:1/b', '--work', 'localhost-work']);
  assert.ok(s3(job.urls).length > 0, 'with --work the job runner (and the S3 client) is loaded');
});
