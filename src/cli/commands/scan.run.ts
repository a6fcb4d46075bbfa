// The `scan` command itself, loaded only when it runs (its spec and help are in scan.ts).
import { UsageError } from '../../core/errors.js';
import { intOption, type CliIO, type ParsedArgs } from '../command.js';
import { segmentShareOption, type SegmentShare } from '../segments.js';
import { closing, openTable } from '../locations.js';
import { progressReporter } from '../progress.js';
import { describeTable } from '../../dynamodb/tables.js';
import { writeText } from '../../dynamodb/export-file.js';
import { itemLine } from '../../dynamodb/export-format.js';
import { parallelScanPages } from '../../dynamodb/scan.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
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
}

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
