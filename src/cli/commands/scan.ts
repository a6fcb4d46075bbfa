import { UsageError } from '../../core/errors.js';
import { intOption, type CliIO, type Command, type ParsedArgs } from '../command.js';
import { segmentShareOption, type SegmentShare } from '../segments.js';
import { closing, openTable } from '../locations.js';
import { progressReporter } from '../progress.js';
import { describeTable } from '../../dynamodb/tables.js';
import { writeText } from '../../dynamodb/export-file.js';
import { itemLine } from '../../dynamodb/export-format.js';
import { parallelScanPages } from '../../dynamodb/scan.js';

export const scanCommand: Command = {
  name: 'scan',
  summary: 'Print every item of a table as NDJSON (DynamoDB JSON)',
  noJson: 'its output is already one JSON item per line',
  help: `Usage: dynamodb-replicator scan <location> [--parallel K] [--segment I --segments N] [--consistent-read]

Prints one item per line in DynamoDB JSON (numbers as exact strings, binary as base64).

Arguments:
  location  region/table, host:port/table or http(s)://host:port/table[?region=r]

Options:
  --parallel K          scan segments read concurrently by this process (default 1)
  --segment I           scan only share I (0-based) of --segments N, to split the scan over several
  --segments N          processes or machines (as in diff-tables and backup-table)
  --consistent-read     strongly consistent reads
  --debug               print stack traces on errors`,
  options: {
    parallel: { type: 'string' },
    segment: { type: 'string' },
    segments: { type: 'string' },
    'total-segments': { type: 'string' },
    'consistent-read': { type: 'boolean' },
  },
  positionals: [1, 1],
  async run(args, io) {
    const { parallel, share } = scanScope(args, io);
    const { client, table, label } = openTable(args.positionals[0] as string, io);
    const progress = progressReporter(io, `scan ${label}`);
    let items = 0;
    await closing([client], async () => {
      await describeTable(client, table); // a missing table is a clear error before any output
      for await (const page of parallelScanPages(client, {
        table,
        segments: parallel,
        ...(share ? { segment: share.segment, totalSegments: share.segments } : {}),
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

/**
 * Concurrency and share of a scan. Two older spellings still work for one release, each with a line
 * on stderr: `--total-segments N` (now `--segments N`), and `--segments N` without `--segment` (it
 * meant concurrency here, which is `--parallel` everywhere else).
 */
function scanScope(args: ParsedArgs, io: CliIO): { parallel: number; share?: SegmentShare } {
  const values = { ...args.values };
  if (values['total-segments'] !== undefined) {
    if (values.segments !== undefined) throw new UsageError('give --segments, not also --total-segments');
    io.stderr.write('warning: scan --total-segments is deprecated; use --segments (as in diff-tables)\n');
    values.segments = values['total-segments'];
  } else if (values.segments !== undefined && values.segment === undefined && values.parallel === undefined) {
    io.stderr.write(
      'warning: scan --segments N without --segment means --parallel N, a spelling that is deprecated; ' +
        '--segments is the total of a --segment split, as in diff-tables and backup-table\n',
    );
    values.parallel = values.segments;
    delete values.segments;
  }
  const scoped = { ...args, values };
  const parallel = intOption(scoped, 'parallel', 1, { min: 1, max: 1_000_000 }) as number;
  const share = segmentShareOption(scoped);
  return share ? { parallel, share } : { parallel };
}
