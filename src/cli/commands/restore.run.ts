// The `restore` command itself, loaded only when it runs (its spec and help are in restore.ts).
import { resolveRestoreSource, type ResolveRestoreOptions } from '../../backup/restore-source.js';
import { restoreTable, type RestoreResult } from '../../backup/restore.js';
import { NotFoundError, UsageError } from '../../core/errors.js';
import { type KeySchema } from '../../core/types.js';
import {
  assertSameKeySchema,
  createTableFromDescription,
  describeTable,
  keySchemaFromDescription,
  type TableInfo,
} from '../../dynamodb/tables.js';
import { intOption, stringOption, writeJson, type CliIO } from '../command.js';
import { readBudgetOption, writeBudgetOption } from '../budgets.js';
import { openBackupStore } from '../backup-store.js';
import { closing, openTable } from '../locations.js';
import { progressReporter } from '../progress.js';
import { timeOption } from '../time-option.js';
import type { ParsedArgs } from '../command.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const dryRun = args.values['dry-run'] === true;
  const create = args.values.create === true;
  const concurrency = intOption(args, 'parallel', undefined, { min: 1, max: 1000 });
  const jobId = stringOption(args, 'jobid');
  const writeBudget = writeBudgetOption(args);
  const readBudget = readBudgetOption(args);
  const at = timeOption(args, 'at');
  const resolveOptions: ResolveRestoreOptions = {
    ...(jobId ? { jobId } : {}),
    ...(at !== undefined ? { at } : {}),
  };
  const target = openTable(args.positionals[1] as string, io);
  const backup = openBackupStore(args.positionals[0] as string, args, io);
  const outcome = await closing([target.client, backup], async () => {
    const existing: TableInfo | undefined = await describeTable(target.client, target.table).catch(
      (error: unknown) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      },
    );
    if (!existing && !create)
      throw new NotFoundError(
        `${target.label} does not exist; pass --create to create it from the backup's table description`,
      );
    // Opening the source verifies every data file: nothing below runs for a corrupt backup.
    const source = await resolveRestoreSource(backup.store, {
      ...resolveOptions,
      ...(existing ? { keySchema: existing.keySchema } : {}),
    });
    let keySchema: KeySchema;
    let created = false;
    if (existing) {
      keySchema = existing.keySchema;
      if (source.description)
        assertSameKeySchema(keySchemaFromDescription(source.description), keySchema, [
          source.label,
          target.label,
        ]);
    } else {
      if (!source.description)
        throw new UsageError(
          `${source.label} has no table description (AWS's own exports carry none): create ${target.label} with the right key schema first, then restore into it`,
        );
      keySchema = keySchemaFromDescription(source.description);
      if (!dryRun) {
        await createTableFromDescription(target.client, source.description, target.table);
        created = true;
      }
    }
    const progress = progressReporter(io, `restore into ${target.label}`, source.itemCount);
    const result = await restoreTable(target.client, target.table, source.items(), {
      keySchema,
      targetEmpty: !existing,
      dryRun,
      ...(concurrency ? { concurrency } : {}),
      ...(writeBudget ? { writeBudget } : {}),
      ...(readBudget ? { readBudget } : {}),
      onProgress: (p) => progress.update(dryRun ? p.planned : p.written),
    }).finally(() => progress.done());
    return { source: source.label, created, result };
  });
  report(
    io,
    target.label,
    { ...outcome, capacityMeasured: writeBudget !== undefined },
    args.values.json === true,
  );
  return 0;
}

function report(
  io: CliIO,
  target: string,
  o: { source: string; created: boolean; result: RestoreResult; capacityMeasured: boolean },
  json: boolean,
): void {
  const r = o.result;
  if (json) {
    writeJson(io, {
      source: o.source,
      target,
      created: o.created,
      dryRun: r.dryRun,
      items: r.items,
      puts: r.puts,
      deletes: r.deletes,
      unchanged: r.unchanged,
      written: r.written,
      seconds: r.seconds,
      itemsPerSecond: r.items / Math.max(r.seconds, 1e-9),
      // Consumed units are asked of DynamoDB only under a write budget.
      ...(o.capacityMeasured ? { consumedWriteUnits: r.consumedWriteUnits } : {}),
      retries: r.retries,
    });
    return;
  }
  const plan = `${r.puts} puts, ${r.deletes} deletes, ${r.unchanged} unchanged`;
  if (r.dryRun) {
    io.stdout.write(`dry run: restoring ${o.source} into ${target} would make ${plan}; nothing written\n`);
    return;
  }
  const created = o.created ? ' (created the table from the backup description)' : '';
  io.stdout.write(
    `restored ${r.items} items from ${o.source} into ${target}${created}: ${plan} in ${r.seconds.toFixed(1)} s\n`,
  );
}
