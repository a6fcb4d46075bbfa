// The `export` command itself, loaded only when it runs (its spec and help are in export.ts).
import { intOption, type CliIO } from '../command.js';
import { readBudgetOption } from '../budgets.js';
import { closing, openTable } from '../locations.js';
import { progressReporter } from '../progress.js';
import { createExportFile, flush } from '../../dynamodb/export-file.js';
import { exportTable } from '../../dynamodb/export-table.js';
import { describeTable } from '../../dynamodb/tables.js';
import type { ParsedArgs } from '../command.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
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
}

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
