import { UsageError } from '../../core/errors.js';
import { intOption, type CliIO, type Command } from '../command.js';
import { readBudgetOption, WRITE_BUDGET_HELP, WRITE_BUDGET_OPTIONS, writeBudgetOption } from '../budgets.js';
import { closing, openTable } from '../locations.js';
import { DEFAULT_WRITE_CONCURRENCY } from '../../dynamodb/write-scheduler.js';
import { progressReporter, type Progress } from '../progress.js';
import { copyIntoTable } from '../../dynamodb/copy-table.js';

export const copyCommand: Command = {
  name: 'copy',
  summary: 'Copy every item of one table into another (parallel, with capacity budgets)',
  help: `Usage: dynamodb-replicator copy <source> <target> [--create] [--parallel K] [--write-budget WCU] [--json]

Scans the source in parallel and writes every item into the target with BatchWriteItem, retrying
unprocessed items (nothing is dropped). The target must exist with the source's key schema, or be
created with --create.

Arguments:
  source    region/table, host:port/table or http(s)://host:port/table[?region=r]
  target    same forms; may be in another region, account or endpoint

Options:
  --create                 create the target from the source's description if it does not exist
  --parallel K             scan segments and BatchWriteItem requests in flight (default ${DEFAULT_WRITE_CONCURRENCY})
${WRITE_BUDGET_HELP}
  --read-budget RCU        at most RCU read capacity units per second on the source
  --consistent-read        strongly consistent reads on the source
  --json                   print the summary as JSON on stdout
  --debug                  print stack traces on errors`,
  options: {
    create: { type: 'boolean' },
    parallel: { type: 'string' },
    'read-budget': { type: 'string' },
    'consistent-read': { type: 'boolean' },
    ...WRITE_BUDGET_OPTIONS,
  },
  positionals: [2, 2],
  async run(args, io) {
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
  },
};

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
