// The `import` command itself, loaded only when it runs (its spec and help are in import.ts).
import { ServiceError } from '../../core/errors.js';
import { intOption, type CliIO } from '../command.js';
import { writeBudgetOption } from '../budgets.js';
import { closing, openTable } from '../locations.js';
import { DEFAULT_WRITE_CONCURRENCY } from '../../dynamodb/write-scheduler.js';
import { progressReporter } from '../progress.js';
import { exportFileSource, spoolToTempFile } from '../../dynamodb/export-file.js';
import { importItems, validateExport } from '../../dynamodb/import-table.js';
import { prepareTargetTable } from '../../dynamodb/target-table.js';
import type { ParsedArgs } from '../command.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
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
      const checked = await validateExport(source);
      const { created, keySchema } = await prepareTargetTable(client, table, checked.description, {
        create: args.values.create === true,
        labels: [name, label],
      });
      const progress = progressReporter(io, `import into ${label}`, checked.items);
      const result = await importItems(client, table, source, keySchema, {
        concurrency: parallel,
        budget,
        onProgress: (n) => progress.update(n),
      }).finally(() => progress.done());
      if (result.written !== checked.items) {
        throw new ServiceError(
          `import into ${label} wrote ${result.written} of the ${checked.items} items in ${name}`,
        );
      }
      return {
        file: name,
        table: label,
        created,
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
}

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
