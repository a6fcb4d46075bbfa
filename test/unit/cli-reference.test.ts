import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { cliReference } from '../../src/cli/reference.js';

test("docs/cli.md is the commands' own help text (run `npm run docs:cli` after changing a help)", () => {
  const written = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');
  assert.equal(written, cliReference(), 'docs/cli.md is stale: run npm run docs:cli');
  for (const command of COMMANDS) assert.ok(written.includes(`## ${command.name}\n`), command.name);
});
