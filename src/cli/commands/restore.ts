import type { RestoreResult } from '../../backup/restore.js';
import { restoreIntoTable } from '../../backup/restore-workflow.js';
import { intOption, stringOption, writeJson, type CliIO, type Command } from '../command.js';
import { readBudgetOption, WRITE_BUDGET_HELP, WRITE_BUDGET_OPTIONS, writeBudgetOption } from '../budgets.js';
import { LOCATION_HELP, openBackupStore, STORE_HELP, STORE_OPTIONS } from '../backup-store.js';
import { closing, openTable } from '../locations.js';
import { progressReporter, type Progress } from '../progress.js';
import { timeOption } from '../time-option.js';

export const restoreCommand: Command = {
  name: 'restore',
  summary:
    'Restore a table from a full backup, AWS export or change log (--at TIME), writing only what differs',
  help: `Usage: dynamodb-replicator restore <location> <target> [--create] [--dry-run] [--write-budget WCU] [--json]

Makes <target> hold exactly the backed-up state: items that are missing or different are put,
items the backup does not have are deleted, identical items are left alone. Every data file's MD5
and item count is verified against the manifests before anything is written or created; a corrupt
or truncated backup is refused (exit 2) and the target is left untouched.

<location> is a backup location holding AWSDynamoDB/<id>/ folders (the newest complete backup is
used unless --jobid names one) or an export folder itself; AWS's own exports (DYNAMODB_JSON) work too.
It may also be one table's change log (see incremental-backfill): its latest state, or with --at TIME
the state at TIME (base snapshot + logged changes up to TIME, by creation time and sequence number).

Arguments:
  ${LOCATION_HELP}
  target    region/table, host:port/table or http(s)://host:port/table[?region=r]

Options:
  --create                 create the target from the backup's table description if it does not exist
  --dry-run                print the plan's counts (puts, deletes, unchanged) and write nothing
  --jobid ID               restore this backup job / export id under <location>/AWSDynamoDB/
  --at TIME                (change logs) restore the state at TIME: ISO 8601 or epoch milliseconds
  --parallel K             BatchWriteItem requests in flight (default 8)
${WRITE_BUDGET_HELP}
  --read-budget RCU        at most RCU read capacity units per second comparing against the target
${STORE_HELP}
  --json                   print the result as JSON on stdout
  --debug                  print stack traces on errors`,
  options: {
    create: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    jobid: { type: 'string' },
    at: { type: 'string' },
    parallel: { type: 'string' },
    'read-budget': { type: 'string' },
    ...WRITE_BUDGET_OPTIONS,
    ...STORE_OPTIONS,
  },
  positionals: [2, 2],
  async run(args, io) {
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
  },
};

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
