import { COMMANDS } from './commands/index.js';
import type { Command } from './command.js';
import { globalHelp } from './run.js';

/**
 * The CLI reference (docs/cli.md) as Markdown, made from each command's own `--help` text: one
 * section per command, in the order `dynamodb-replicator --help` lists them.
 */
export function cliReference(commands: readonly Command[] = COMMANDS): string {
  const sections = commands.map((c) =>
    [`## ${c.name}`, '', c.summary + '.', '', fence(c.help), ''].join('\n'),
  );
  return [
    '# Command reference',
    '',
    "<!-- Generated from the commands' --help text by `npm run docs:cli`; do not edit by hand. -->",
    '',
    'Every command is a subcommand of one binary, `dynamodb-replicator`. Exit codes: `0` ok, `1`',
    'differences found, `2` error (bad arguments, missing tables, failed writes).',
    '',
    fence(globalHelp(commands)),
    '',
    ...sections,
  ].join('\n');
}

function fence(text: string): string {
  return ['```text', text.trimEnd(), '```'].join('\n');
}
