import { UsageError } from '../core/errors.js';
import { parseTimeArgument } from '../core/time.js';
import { turnoverAtProblem, type TurnoverFilter } from '../core/turnover.js';
import { stringOption, type ParsedArgs } from './command.js';

/** A time option (`--at`, `--since`, `--until`): ISO 8601 or epoch ms; undefined when absent. */
export function timeOption(args: ParsedArgs, name: string): number | undefined {
  const raw = stringOption(args, name);
  return raw === undefined ? undefined : parseTimeArgument(raw, `--${name}`);
}

/**
 * `--turnover-role BEFORE|AFTER` with `--turnover-at TIME` (ISO 8601 or epoch ms): the cut-over
 * filter, both or neither; the instant must fall in the range every deployment accepts.
 */
export function turnoverOption(args: ParsedArgs): TurnoverFilter | undefined {
  const role = stringOption(args, 'turnover-role');
  const at = timeOption(args, 'turnover-at');
  if (role === undefined && at === undefined) return undefined;
  if (role !== 'BEFORE' && role !== 'AFTER')
    throw new UsageError(
      `--turnover-role must be BEFORE or AFTER${role === undefined ? ' (with --turnover-at)' : `, got "${role}"`}`,
    );
  if (at === undefined) throw new UsageError('--turnover-at TIME is required with --turnover-role');
  const problem = turnoverAtProblem(String(at));
  if (problem !== undefined) throw new UsageError(`--turnover-at ${problem}`);
  return { role, at };
}
