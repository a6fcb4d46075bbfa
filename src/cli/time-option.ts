import { parseTimeArgument } from '../backup/point-in-time.js';
import { stringOption, type ParsedArgs } from './command.js';

/** A time option (`--at`, `--since`, `--until`): ISO 8601 or epoch ms; undefined when absent. */
export function timeOption(args: ParsedArgs, name: string): number | undefined {
  const raw = stringOption(args, name);
  return raw === undefined ? undefined : parseTimeArgument(raw, `--${name}`);
}
