// The `restore` command itself, loaded only when it runs (its spec and help are in restore.ts).
import { type RestoreResult } from '../../backup/restore.js';
import { restoreIntoTable } from '../../backup/restore-workflow.js';
import { intOption, stringOption, writeJson, type CliIO } from '../command.js';
import { readBudgetOption, writeBudgetOption } from '../budgets.js';
import { openBackupStore } from '../backup-store.js';
import { closing, openTable } from '../locations.js';
import { progressReporter, type Progress } from '../progress.js';
import { timeOption } from '../time-option.js';

import type { ParsedArgs } from '../command.js';
import { jobRunOptions, refuseWithWork, type JobRunOptions } from '../job-options.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const job = jobRunOptions(args);
  if (job) return runRestoreJob(args, io, job);
  const dryRun = args.values['dry-run'] === true;
  const create = args.values.create === true;
  const concurrency = intOption(args, 'parallel', undefined, { min: 1, max: 1000 });
  const jobId = stringOption(args, 'jobid');
  const writeBudget = writeBudgetOption(args);
  const readBudget = readBudgetOption(args);
  const at = timeOption(args, 'at');
  const target = openTable(args.positionals[1] as string, io);
  const backup = openBackupStore(args.positionals[0] as string, args, io);
  const result = await closing([target.client, backup], async () => {
    let progress: Progress = { update() {}, done() {} };
    return restoreIntoTable({
      store: backup.store,
      client: target.client,
      table: target.table,
      label: target.label,
      create,
      createFlag: '--create',
      dryRun,
      ...(jobId ? { jobId } : {}),
      ...(at !== undefined ? { at } : {}),
      ...(concurrency ? { concurrency } : {}),
      ...(writeBudget ? { writeBudget } : {}),
      ...(readBudget ? { readBudget } : {}),
      onStart: (start) => {
        progress = progressReporter(io, `restore into ${target.label}`, start.itemCount);
      },
      onProgress: (p) => progress.update(dryRun ? p.planned : p.written),
    }).finally(() => progress.done());
  });
  const outcome = { source: result.source, created: result.created, result };
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

/** `--work`: restore from a full backup into an empty (or created) table as a scan job. */
async function runRestoreJob(args: ParsedArgs, io: CliIO, job: JobRunOptions): Promise<number> {
  refuseWithWork(args, ['dry-run', 'at', 'read-budget', 'items-per-second', 'parallel']);
  const exportId = stringOption(args, 'jobid');
  const params = {
    backup: args.positionals[0] as string,
    target: args.positionals[1] as string,
    ...(exportId ? { exportId } : {}),
    ...(args.values.create === true ? { create: true } : {}),
  };
  const { runJobCommand } = await import('../scan-job.js');
  await runJobCommand(
    io,
    args,
    'restore',
    params,
    job,
    (r, m) =>
      `restored ${String(r.items)} items from ${String(r.source)} into ${params.target} (scan job ${m.jobId})\n`,
  );
  return 0;
}
