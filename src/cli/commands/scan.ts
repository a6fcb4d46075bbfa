import { UsageError } from '../../core/errors.js';
import { intOption, type Command, type ParsedArgs } from '../command.js';
import { closing, openTable } from '../locations.js';
import { progressReporter } from '../progress.js';
import { describeTable } from '../../dynamodb/tables.js';
import { writeText } from '../../dynamodb/export-file.js';
import { itemLine } from '../../dynamodb/export-format.js';
import { parallelScanPages } from '../../dynamodb/scan.js';

export const scanCommand: Command = {
  name: 'scan',
  summary: 'Print every item of a table as NDJSON (DynamoDB JSON)',
  help: `Usage: dynamodb-replicator scan <location> [--segments N] [--segment I --total-segments N]

Prints one item per line in DynamoDB JSON (numbers as exact strings, binary as base64).

Arguments:
  location  region/table, host:port/table or http(s)://host:port/table[?region=r]

Options:
  --segments N          scan N segments concurrently in this process (default 1)
  --segment I           scan only segment I (0-based) of --total-segments, e.g. to split the
  --total-segments N    work over several processes or machines
  --consistent-read     strongly consistent reads
  --debug               print stack traces on errors`,
  options: {
    segments: { type: 'string' },
    segment: { type: 'string' },
    'total-segments': { type: 'string' },
    'consistent-read': { type: 'boolean' },
  },
  positionals: [1, 1],
  async run(args, io) {
    const segments = intOption(args, 'segments', 1, { min: 1, max: 1_000_000 }) as number;
    const share = segmentShare(args);
    const { client, table, label } = openTable(args.positionals[0] as string, io);
    const progress = progressReporter(io, `scan ${label}`);
    let items = 0;
    await closing([client], async () => {
      await describeTable(client, table); // a missing table is a clear error before any output
      for await (const page of parallelScanPages(client, {
        table,
        segments,
        ...share,
        consistentRead: args.values['consistent-read'] === true,
      })) {
        if (page.length === 0) continue;
        try {
          await writeText(io.stdout, page.map(itemLine).join(''));
        } catch (error) {
          // The reader went away (`scan ... | head`): stop scanning quietly, as other Unix tools do.
          if ((error as { code?: unknown }).code === 'EPIPE') break;
          throw error;
        }
        items += page.length;
        progress.update(items);
      }
    });
    progress.done();
    return 0;
  },
};

/** --segment and --total-segments go together, and the segment must be one of the total. */
export function segmentShare(args: ParsedArgs): { segment?: number; totalSegments?: number } {
  const total = intOption(args, 'total-segments', undefined, { min: 1, max: 1_000_000 });
  const segment = intOption(args, 'segment', undefined, { min: 0 });
  if (segment === undefined && total === undefined) return {};
  if (segment === undefined || total === undefined) {
    throw new UsageError('--segment and --total-segments must be given together');
  }
  if (segment >= total) {
    throw new UsageError(`--segment must be less than --total-segments (${total}), got ${segment}`);
  }
  return { segment, totalSegments: total };
}
