import { intOption, type CliIO, type Command } from '../command.js';
import { readBudgetOption } from '../budgets.js';
import { closing, openTable } from '../locations.js';
import { progressReporter } from '../progress.js';
import { createExportFile, flush } from '../../dynamodb/export-file.js';
import { exportTable } from '../../dynamodb/export-table.js';
import { describeTable } from '../../dynamodb/tables.js';

export const exportCommand: Command = {
  name: 'export',
  summary: 'Export a table to NDJSON (description line, then one item per line), optionally gzip',
  help: `Usage: dynamodb-replicator export <location> [file] [--parallel K] [--json]

Writes the table description (DescribeTable's "Table") as the first line, then every item as one
line of DynamoDB JSON (numbers as exact strings, binary as base64). Without a file the export goes
to stdout. A file whose name ends in .gz is gzip-compressed. The file appears only when the export
is complete (it is written under a temporary name and renamed).

Arguments:
  location  region/table, host:port/table or http(s)://host:port/table[?region=r]
  file      where to write; omit or "-" for stdout

Options:
  --parallel K          scan K segments concurrently (default 4)
  --read-budget RCU     at most RCU read capacity units per second
  --consistent-read     strongly consistent reads
  --json                print the summary as JSON (on stdout when writing a file, else stderr)
  --debug               print stack traces on errors

Progress is shown on stderr when it is a terminal; the final count is printed on stderr.`,
  options: {
    parallel: { type: 'string' },
    'read-budget': { type: 'string' },
    'consistent-read': { type: 'boolean' },
  },
  positionals: [1, 2],
  async run(args, io) {
    const parallel = intOption(args, 'parallel', 4, { min: 1, max: 1000 }) as number;
    const budget = readBudgetOption(args);
    const file = args.positionals[1] === '-' ? undefined : args.positionals[1];
    const { client, table, label } = openTable(args.positionals[0] as string, io);
    const started = performance.now();
    const items = await closing([client], async () => {
      const { description } = await describeTable(client, table);
      const progress = progressReporter(io, `export ${label}`, description.ItemCount);
      let exported = 0;
      const options = {
        parallel,
        budget,
        consistentRead: args.values['consistent-read'] === true,
        onProgress: (n: number) => {
          exported = n;
          progress.update(n);
        },
      };
      try {
        if (!file) {
          try {
            const result = await exportTable(client, description, io.stdout, options);
            await flush(io.stdout);
            return result.items;
          } catch (error) {
            // The reader went away (`export t | head`): stop quietly, as `scan` and other Unix tools do.
            if ((error as { code?: unknown }).code === 'EPIPE') return exported;
            throw error;
          }
        }
        // Interrupted (Ctrl-C, kill): remove the temporary file instead of leaving it behind. The
        // handler is in place before the file exists, so no signal can come in between.
        const opening = createExportFile(file);
        const onSignal = (signal: NodeJS.Signals) => {
          void opening
            .then((sink) => sink.abort())
            .catch(() => undefined)
            .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const sink = await opening;
          const result = await exportTable(client, description, sink.stream, options);
          await sink.commit();
          return result.items;
        } catch (error) {
          await opening.then((sink) => sink.abort()).catch(() => undefined);
          throw error;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      } finally {
        progress.done();
      }
    });
    report(
      io,
      { table: label, file: file ?? '-', items, seconds: (performance.now() - started) / 1000 },
      args.values.json === true,
    );
    return 0;
  },
};

function report(
  io: CliIO,
  summary: { table: string; file: string; items: number; seconds: number },
  json: boolean,
): void {
  const toStdout = summary.file !== '-';
  if (json) {
    (toStdout ? io.stdout : io.stderr).write(JSON.stringify(summary) + '\n');
    return;
  }
  const where = toStdout ? summary.file : 'stdout';
  io.stderr.write(
    `exported ${summary.items} items from ${summary.table} to ${where} in ${summary.seconds.toFixed(1)} s\n`,
  );
}
