// The `import` command itself, loaded only when it runs (its spec and help are in import.ts).
import { intOption, type CliIO } from '../command.js';
import { writeBudgetOption } from '../budgets.js';
import { closing, openTable } from '../locations.js';
import { DEFAULT_WRITE_CONCURRENCY } from '../../dynamodb/defaults.js';
import { progressReporter, type Progress } from '../progress.js';
import { exportFileSource, spoolToTempFile } from '../../dynamodb/export-file.js';
import { importIntoTable } from '../../dynamodb/import-table.js';

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
