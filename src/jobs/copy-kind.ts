/**
 * Copy as a scan job: segment s scans DynamoDB segment s of M of the source and writes every page
 * into the target through the one copy path (copyItems, the never-drop writer). A slice commits only
 * after every page it read is written, so its continuation never runs ahead of the target; a run
 * killed mid-slice is re-run from the last commit and writes those items again (puts of the same
 * images: the target ends the same). Totals count committed slices only, so they equal a
 * one-process copy's.
 */
import { mergeTotals, type JsonValue } from '../core/scan-job.js';
import type { KeySchema } from '../core/types.js';
import { copyItems, tableSink } from '../dynamodb/copy-table.js';
import { prepareTargetTable } from '../dynamodb/target-table.js';
import { describeTable } from '../dynamodb/tables.js';
import {
  budgetedScan,
  encodeKey,
  optionalCount,
  stringParam,
  type JobKindSpec,
  writeBudget,
} from './kind.js';

/** Job parameters: `source`, `target` (table locations), optional `create` (boolean), `pageSize`. */
export const copyKind: JobKindSpec = {
  kind: 'copy',
  checkParams(params) {
    stringParam(params, 'source');
    stringParam(params, 'target');
    optionalCount(params, 'pageSize');
  },
  async plan(env, params) {
    const source = env.openTable(stringParam(params, 'source'));
    const target = env.openTable(stringParam(params, 'target'));
    const { description } = await describeTable(source.client, source.table);
    const { keySchema } = await prepareTargetTable(target.client, target.table, description, {
      create: params.create === true,
      labels: [source.label, target.label],
      createFlag: '--create',
    });
    return { keySchema: keySchema as unknown as JsonValue };
  },
  async runSlice(ctx) {
    const { job } = ctx;
    const source = ctx.env.openTable(stringParam(job.params, 'source'));
    const target = ctx.env.openTable(stringParam(job.params, 'target'));
    const scan = budgetedScan(ctx, source);
    const keySchema = job.facts?.keySchema as unknown as KeySchema;
    const budget = writeBudget(ctx);
    const result = await copyItems(
      scan.pages,
      [
        tableSink(target.client, target.table, {
          label: target.label,
          keySchema,
          ...(budget ? { budget } : {}),
        }),
      ],
      {
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      },
    );
    return {
      done: scan.position.done,
      continuation: { lastKey: encodeKey(scan.position.lastKey) },
      totals: { scanned: result.scanned, written: result.written, retries: result.retries },
      outputs: [],
    };
  },
  merge(ctx) {
    const totals = mergeTotals(ctx.states);
    return Promise.resolve({
      source: stringParam(ctx.job.params, 'source'),
      target: stringParam(ctx.job.params, 'target'),
      items: totals.written ?? 0,
      scanned: totals.scanned ?? 0,
      retries: totals.retries ?? 0,
    });
  },
};
