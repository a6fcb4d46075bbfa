/**
 * `replicate --verify-every DUR`: the local equivalent of the scheduled verify job (lambda/verify.ts)
 * beside the runner: every interval, the source is compared with each replica (and the change log
 * of --backup) by the diff engine; each run prints a `verify` line per check and its figures are
 * served on --metrics-port next to the runner's. The options and help (loaded by `--help`, no SDK);
 * the loop is in verify-loop.ts.
 */
import { UsageError } from '../core/errors.js';
import { numberOption, stringOption, type ParsedArgs } from './command.js';
import { parseDuration } from './duration.js';

export const VERIFY_OPTIONS = {
  'verify-every': { type: 'string' },
  'verify-read-budget': { type: 'string' },
  'verify-settle': { type: 'string' },
} as const;

export const VERIFY_HELP = `  --verify-every DUR       every DUR while replicating (the first time after DUR), compare the
                           source with each replica, and with the change log of --backup, as
                           diff-tables does; print each check's discrepancies (a "verify" line)
                           and serve them with --metrics-port (default: no verification)
  --verify-read-budget RCU read capacity units per second a verify run may use on each table
                           (default: no limit)
  --verify-settle DUR      re-check a difference after DUR before counting it, so changes still
                           being replicated are not counted (default 5s)`;

export interface VerifySettings {
  readonly everyMs: number;
  readonly settleMs: number;
  readonly readCapacity?: number;
}

const DEFAULT_SETTLE_MS = 5_000;

/** The verify settings, or undefined without --verify-every; the other two need it. */
export function verifySettings(args: ParsedArgs): VerifySettings | undefined {
  const every = stringOption(args, 'verify-every');
  const settle = stringOption(args, 'verify-settle');
  const readCapacity = numberOption(args, 'verify-read-budget');
  if (every === undefined) {
    if (settle !== undefined || readCapacity !== undefined)
      throw new UsageError('--verify-settle and --verify-read-budget need --verify-every');
    return undefined;
  }
  const everyMs = parseDuration(every, 'verify-every');
  if (everyMs < 1_000) throw new UsageError(`--verify-every must be at least 1s, got "${every}"`);
  return {
    everyMs,
    settleMs: settle === undefined ? DEFAULT_SETTLE_MS : parseDuration(settle, 'verify-settle'),
    ...(readCapacity !== undefined ? { readCapacity } : {}),
  };
}
