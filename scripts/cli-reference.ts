// Writes docs/cli.md from the commands' own help text, so the reference cannot drift from `--help`
// (test/unit/cli-reference.test.ts fails when the file is stale). Run: npm run docs:cli
import { writeFileSync } from 'node:fs';
import { cliReference } from '../src/cli/reference.js';

writeFileSync(new URL('../docs/cli.md', import.meta.url), cliReference());
