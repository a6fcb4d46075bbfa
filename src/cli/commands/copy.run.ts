// The `copy` command itself, loaded only when it runs (its spec and help are in copy.ts).
import { UsageError } from '../../core/errors.js';
import { intOption, type CliIO } from '../command.js';
import { readBudgetOption, writeBudgetOption } from '../budgets.js';
import { closing, openTable } from '../locations.js';
import { DEFAULT_WRITE_CONCURRENCY } from '../../dynamodb/defaults.js';
import { progressReporter, type Progress } from '../progress.js';
import { copyIntoTable } from '../../dynamodb/copy-table.js';

import type { ParsedArgs } from '../command.js';
import { jobRunOptions, refuseWithWork, type JobRunOptions } from '../job-options.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const job = jobRunOptions(args);
  if (job) return runCopyJob(args, io, job);
  const parallel = intOption(args, 'parallel', DEFAULT_WRITE_CONCURRENCY, { min: 1, max: 1000 }) as number;
  const writeBudget = writeBudgetOption(args);
  const readBudget = readBudgetOption(args);
  const source = openTable(args.positionals[0] as string, io);
  const target = openTable(args.positionals[1] as string, io);
  if (source.label === target.label) {
    throw new UsageError(`copy: the source and the target are the same table (${source.label})`);
  }
  const summary = await closing([source.client, target.client], async () => {
    let progress: Progress = { update() {}, done() {} };
    const result = await copyIntoTable({
      source,
      target,
      create: args.values.create === true,
      createFlag: '--create',
      parallel,
      writeBudget,
      readBudget,
      consistentRead: args.values['consistent-read'] === true,
      onStart: (start) => {
        progress = progressReporter(io, `copy to ${target.label}`, start.itemCountEstimate);
      },
      onProgress: (n) => progress.update(n),
    }).finally(() => progress.done());
    return {
      source: source.label,
      target: target.label,
      created: result.created,
      items: result.items,
      seconds: result.seconds,
      itemsPerSecond: result.items / Math.max(result.seconds, 1e-9),
      // Consumed units are asked of DynamoDB only under a budget (asking slows DynamoDB Local).
      ...(writeBudget
        ? {
            consumedWriteUnits: result.consumedWriteUnits,
            writeUnitsPerSecond: result.consumedWriteUnits / Math.max(result.seconds, 1e-9),
          }
        : {}),
      ...(readBudget ? { consumedReadUnits: readBudget.consumed.units } : {}),
      retries: result.retries,
    };
  });
  report(io, summary, args.values.json === true);
  return 0;
}

function report(
  io: CliIO,
  s: {
    source: string;
    target: string;
    created: boolean;
    items: number;
    seconds: number;
    itemsPerSecond: number;
    consumedWriteUnits?: number;
  },
  json: boolean,
): void {
  if (json) {
    io.stdout.write(JSON.stringify(s) + '\n');
    return;
  }
  const created = s.created ? ' (created the target from the source description)' : '';
  io.stdout.write(
    `copied ${s.items} items from ${s.source} to ${s.target}${created} in ${s.seconds.toFixed(1)} s ` +
      `(${Math.round(s.itemsPerSecond)} items/s` +
      (s.consumedWriteUnits !== undefined
        ? `, ${Math.round(s.consumedWriteUnits)} write units consumed`
        : '') +
      ')\n',
  );
}

/** `--work`: the copy as a scan job (segment tasks that resume, N workers, one merge of the totals). */
async function runCopyJob(args: ParsedArgs, io: CliIO, job: JobRunOptions): Promise<number> {
  refuseWithWork(args, ['items-per-second', 'consistent-read', 'parallel']);
  const [source, target] = args.positionals as [string, string];
  if (source === target)
    throw new UsageError(`copy: the source and the target are the same table (${source})`);
  const params = { source, target, ...(args.values.create === true ? { create: true } : {}) };
  const { runJobCommand } = await import('../scan-job.js');
  await runJobCommand(
    io,
    args,
    'copy',
    params,
    job,
    (r, m) => `copied ${String(r.items)} items from ${source} to ${target} (scan job ${m.jobId})\n`,
  );
  return 0;
}
