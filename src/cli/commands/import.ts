import { intOption, type CliIO, type Command } from '../command.js';
import { WRITE_BUDGET_HELP, WRITE_BUDGET_OPTIONS, writeBudgetOption } from '../budgets.js';
import { closing, openTable } from '../locations.js';
import { DEFAULT_WRITE_CONCURRENCY } from '../../dynamodb/write-scheduler.js';
import { progressReporter, type Progress } from '../progress.js';
import { exportFileSource, spoolToTempFile } from '../../dynamodb/export-file.js';
import { importIntoTable } from '../../dynamodb/import-table.js';

export const importCommand: Command = {
  name: 'import',
  summary: 'Import an export file (plain or gzip) into a table',
  help: `Usage: dynamodb-replicator import <file | -> <location> [--create] [--parallel K] [--json]

Loads every item of an export (as written by \`export\`: a table description line, then one item
per line in DynamoDB JSON) into the table. Plain and gzip files are both accepted (gzip is detected
from the content, not the name); "-" reads stdin. Blank lines and CRLF line ends are ignored.

The whole input is checked before anything is written: a malformed line fails the import with its
line number and exit code 2, and the table is neither created nor written. (Stdin is first copied
to a temporary file so it can be checked the same way.) An existing table must have the key schema
of the export's description.

Arguments:
  file      an export file, or "-" for stdin
  location  region/table, host:port/table or http(s)://host:port/table[?region=r]

Options:
  --create                 create the table from the export's description if it does not exist
                           (without it, a missing table is an error)
  --parallel K             BatchWriteItem requests in flight (default ${DEFAULT_WRITE_CONCURRENCY})
${WRITE_BUDGET_HELP}
  --json                   print the summary as JSON on stdout
  --debug                  print stack traces on errors`,
  options: {
    create: { type: 'boolean' },
    parallel: { type: 'string' },
    ...WRITE_BUDGET_OPTIONS,
  },
  positionals: [2, 2],
  async run(args, io) {
    const parallel = intOption(args, 'parallel', DEFAULT_WRITE_CONCURRENCY, { min: 1, max: 1000 }) as number;
    const budget = writeBudgetOption(args);
    const [input, target] = args.positionals as [string, string];
    const { client, table, label } = openTable(target, io);
    const started = performance.now();
    const spooled = input === '-' ? await spoolToTempFile(io.stdin ?? process.stdin) : undefined;
    const name = spooled ? 'stdin' : input;
    try {
      const source = { ...(await exportFileSource(spooled?.file ?? input)), name };
      const summary = await closing([client], async () => {
        let progress: Progress = { update() {}, done() {} };
        const result = await importIntoTable({
          client,
          table,
          label,
          source,
          create: args.values.create === true,
          createFlag: '--create',
          concurrency: parallel,
          budget,
          onStart: (start) => {
            progress = progressReporter(io, `import into ${label}`, start.items);
          },
          onProgress: (n) => progress.update(n),
        }).finally(() => progress.done());
        return {
          file: name,
          table: label,
          created: result.created,
          items: result.written,
          ...(budget ? { consumedWriteUnits: result.consumedCapacity } : {}),
          retries: result.retries,
          seconds: (performance.now() - started) / 1000,
        };
      });
      report(io, summary, args.values.json === true);
      return 0;
    } finally {
      await spooled?.cleanup();
    }
  },
};

function report(
  io: CliIO,
  s: { file: string; table: string; created: boolean; items: number; seconds: number },
  json: boolean,
): void {
  if (json) {
    io.stdout.write(JSON.stringify(s) + '\n');
    return;
  }
  const created = s.created ? ' (created the table from the export description)' : '';
  io.stdout.write(
    `imported ${s.items} items into ${s.table}${created} from ${s.file} in ${s.seconds.toFixed(1)} s\n`,
  );
}
