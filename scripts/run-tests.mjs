#!/usr/bin/env node
// Runs every *.test.ts under test/ (or the paths given) with Node's test runner. Starts one shared
// DynamoDB Local for the whole run so each test file does not pay Java's start-up; tests that need a
// server of their own (to kill it) start one through test/harness.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function findTests(p) {
  if (statSync(p).isFile()) return [p];
  return readdirSync(p)
    .flatMap((e) => findTests(path.join(p, e)))
    .filter((f) => f.endsWith('.test.ts'));
}

const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const roots = args.filter((a) => !a.startsWith('--'));
const files = (roots.length ? roots : ['test']).flatMap(findTests).sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(2);
}

const { startDynamoDbLocal } = await import('../src/embedded/dynamodb-local.ts');
const server = await startDynamoDbLocal();
const env = {
  ...process.env,
  DDB_LOCAL_ENDPOINT: server.endpoint,
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_REGION: 'us-east-1',
  // The SDK's Node 20 end-of-support notice is harmless; keep it out of test output.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  NODE_NO_WARNINGS: '1',
};
// The full reliability profile (50,000 changes with kills, 5 hand-offs at 300 changes/s) runs for
// tens of minutes per file; everything else must finish a file within 10 minutes.
const timeoutMs = process.env.RELIABILITY_PROFILE === 'full' ? 3_600_000 : 600_000;
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${timeoutMs}`, ...flags, ...files],
  { stdio: 'inherit', env },
);
const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await server.stop();
process.exit(code);
