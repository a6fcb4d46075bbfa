import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { closestName } from '../core/closest.js';
import { UsageError } from '../core/errors.js';

export interface CliIO {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Standard input for commands that read `-`; defaults to process.stdin when absent. */
  readonly stdin?: Readable;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * A subcommand of `dynamodb-replicator`. `run` returns the exit code: 0 ok, 1 differences found,
 * 2 error. Throwing a UsageError (or any ReplicatorError) is turned into a message and exit 2.
 */
export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Full help text printed by `--help`: usage line, arguments, options. */
  readonly help: string;
  readonly options: Options;
  /** For commands with no result to report as JSON: why `--json` is refused (rather than ignored). */
  readonly noJson?: string;
  /** Positional arguments: [min, max]; max Infinity for variadic. */
  readonly positionals: readonly [number, number];
  run(args: ParsedArgs, io: CliIO): Promise<number>;
}

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  readonly positionals: string[];
}

/** Shared options every command accepts. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
} as const satisfies Options;

export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    }) as ParsedArgs;
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify.*$/s, '');
    throw new UsageError(`${command.name}: ${message}${flagHint(command, message)}`);
  }
  if (parsed.values.help) return parsed;
  if (command.noJson !== undefined && parsed.values.json) {
    throw new UsageError(`${command.name} has no --json: ${command.noJson}`);
  }
  const [min, max] = command.positionals;
  const n = parsed.positionals.length;
  if (n < min || n > max) {
    const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    throw new UsageError(
      `${command.name}: expected ${want} argument${max === 1 ? '' : 's'}, got ${n}.\n${usageLine(command)}`,
    );
  }
  return parsed;
}

/** ` (did you mean --x?)` for an unknown option close to one the command has. */
function flagHint(command: Command, message: string): string {
  const unknown = /^Unknown option '--([^']+)'/.exec(message)?.[1];
  if (unknown === undefined) return '';
  const near = closestName(unknown, Object.keys({ ...COMMON_OPTIONS, ...command.options }));
  return near ? ` (did you mean --${near}?)` : '';
}

export function usageLine(command: Command): string {
  return command.help.split('\n')[0] ?? command.name;
}

/** Reads a string option, or undefined. */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** Reads a non-negative integer option with a clear error naming the option. */
export function intOption(
  args: ParsedArgs,
  name: string,
  fallback: number | undefined,
  range: { min?: number; max?: number } = {},
): number | undefined {
  const raw = stringOption(args, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (range.min !== undefined && n < range.min)
    throw new UsageError(`--${name} must be at least ${range.min}, got ${n}`);
  if (range.max !== undefined && n > range.max)
    throw new UsageError(`--${name} must be at most ${range.max}, got ${n}`);
  return n;
}

/** Reads a positive number option (fractions allowed), e.g. a capacity budget. */
export function numberOption(args: ParsedArgs, name: string): number | undefined {
  const raw = stringOption(args, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !(n > 0))
    throw new UsageError(`--${name} must be a positive number, got "${raw}"`);
  return n;
}

export function writeJson(io: CliIO, value: unknown): void {
  io.stdout.write(JSON.stringify(value) + '\n');
}
