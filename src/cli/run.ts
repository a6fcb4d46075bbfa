import { readFileSync } from 'node:fs';
import { ReplicatorError } from '../core/errors.js';
import { closestName } from '../core/closest.js';
import { redactUrls } from '../core/redact.js';
import { parseCommandArgs, type CliIO, type Command } from './command.js';
import { COMMANDS } from './commands/index.js';

const BIN = 'dynamodb-replicator';

/** The package's version, read from its package.json (two folders up from src/cli or dist/cli). */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return String(manifest.version);
}

export function globalHelp(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(0, ...commands.map((c) => c.name.length));
  return [
    `Usage: ${BIN} <command> [arguments] [options]`,
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run \`${BIN} help <command>\` (or \`${BIN} <command> --help\`) for a command's arguments and options.`,
    `\`${BIN} --version\` prints the version.`,
    'Exit codes: 0 ok, 1 differences found, 2 error.',
    '',
  ].join('\n');
}

/**
 * Maps an error to what the user sees and the exit code. User mistakes never show a stack trace;
 * credentials inside URLs (in our messages or an SDK's) never show at all.
 */
export function reportError(error: unknown, io: CliIO, debug: boolean): number {
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(redactUrls(`error: ${message}\n`));
  if (debug && error instanceof Error && error.stack) io.stderr.write(redactUrls(error.stack + '\n'));
  return error instanceof ReplicatorError ? error.exitCode : 2;
}

/** Runs one CLI invocation and returns its exit code; never calls process.exit. */
export async function runCli(
  argv: readonly string[],
  io: CliIO,
  commands: readonly Command[] = COMMANDS,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest.length > 0) return runCli([rest[0] as string, '--help'], io, commands);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(globalHelp(commands));
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${BIN} ${packageVersion()}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    const near = closestName(
      name,
      commands.map((c) => c.name),
    );
    const hint = near ? ` (did you mean "${near}"?)` : '';
    io.stderr.write(`error: unknown command "${name}"${hint}\n\n${globalHelp(commands)}`);
    return 2;
  }
  const debug = rest.includes('--debug');
  try {
    const args = parseCommandArgs(command, [...rest]);
    if (args.values.help) {
      io.stdout.write(command.help.endsWith('\n') ? command.help : command.help + '\n');
      return 0;
    }
    return await command.run(args, io);
  } catch (error) {
    return reportError(error, io, debug);
  }
}
