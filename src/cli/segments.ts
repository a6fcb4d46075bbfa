import { UsageError } from '../core/errors.js';
import { intOption, type ParsedArgs } from './command.js';

/** One process's share of a scan split over processes or machines. */
export interface SegmentShare {
  readonly segment: number;
  readonly segments: number;
}

/**
 * `--segment I --segments N` (the old tool's names, one meaning in every command): this process
 * takes share I of N. Undefined when neither is given.
 */
export function segmentShareOption(args: ParsedArgs): SegmentShare | undefined {
  const segments = intOption(args, 'segments', undefined, { min: 1, max: 1_000_000 });
  const segment = intOption(args, 'segment', undefined, { min: 0 });
  if (segment === undefined && segments === undefined) return undefined;
  if (segment === undefined || segments === undefined) {
    throw new UsageError('--segment and --segments must be given together');
  }
  if (segment >= segments) {
    throw new UsageError(`--segment must be less than --segments (${segments}), got ${segment}`);
  }
  return { segment, segments };
}
