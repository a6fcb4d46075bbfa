/**
 * Restore from a full backup (or AWS export) as a scan job. Planning opens the export, which
 * verifies every data file (MD5, gzip, item count, key attributes) before anything is written, and
 * records its file list; the target must be empty (or is created from the backup's description):
 * a job only puts, so restoring into a table with other items stays the one-process restore's work
 * (it also deletes what the backup lacks). Data file i belongs to segment i mod M; a segment's
 * continuation is the file it is in and the items of that file already written. Items are read
 * again with the export reader's checks (and a file read to its end has its MD5 checked again).
 */
import { InvalidDataError, UsageError } from '../core/errors.js';
import { mergeTotals, budgetSpent, type JsonValue } from '../core/scan-job.js';
import type { Item, KeySchema } from '../core/types.js';
import {
  EXPORT_ROOT,
  listCompleteExports,
  MANIFEST_SUMMARY,
  openExport,
  readItemFile,
  type ManifestFileEntry,
} from '../backup/export-layout.js';
import { tableIsEmpty } from '../dynamodb/scan.js';
import {
  createTableFromDescription,
  describeTable,
  keySchemaFromDescription,
  assertSameKeySchema,
} from '../dynamodb/tables.js';
import { writePages } from '../dynamodb/writer.js';
import { NotFoundError } from '../core/errors.js';
import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import {
  continuationField,
  stringParam,
  writeBudget,
  type JobEnvironment,
  type JobKindSpec,
} from './kind.js';

/** Items per BatchWriteItem page handed to the writer, and between budget checks. */
const RESTORE_PAGE = 100;

async function exportFolder(
  store: ObjectStore,
  exportId: string | undefined,
): Promise<{ folder: string; id: string }> {
  if (exportId) return { folder: `${EXPORT_ROOT}/${exportId}`, id: exportId };
  if (await store.exists(MANIFEST_SUMMARY)) return { folder: '', id: 'export' };
  const ids = await listCompleteExports(store);
  const newest = ids[ids.length - 1];
  if (!newest) throw new NotFoundError(`no complete backup at ${formatStoreLocation(store.location)}`);
  return { folder: `${EXPORT_ROOT}/${newest}`, id: newest };
}

async function prepareTarget(
  env: JobEnvironment,
  params: Parameters<JobKindSpec['checkParams']>[0],
  description: Awaited<ReturnType<typeof openExport>>['description'],
  keySchema: KeySchema | undefined,
): Promise<KeySchema> {
  const target = env.openTable(stringParam(params, 'target'));
  const existing = await describeTable(target.client, target.table).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  if (existing) {
    if (keySchema) assertSameKeySchema(keySchema, existing.keySchema, ['the backup', target.label]);
    if (!(await tableIsEmpty(target.client, target.table)))
      throw new UsageError(
        `${target.label} is not empty: a restore job only puts items; restore into a non-empty table without --workers (it also deletes what the backup lacks)`,
      );
    return existing.keySchema;
  }
  if (params.create !== true)
    throw new NotFoundError(
      `${target.label} does not exist; pass --create to create it from the backup's table description`,
    );
  if (!description)
    throw new UsageError(
      `the backup has no table description: create ${target.label} first, then restore into it`,
    );
  await createTableFromDescription(target.client, description, target.table);
  return keySchemaFromDescription(description);
}

/** Job parameters: `backup` (store location), optional `exportId`, `target` (table location), `create`. */
export const restoreKind: JobKindSpec = {
  kind: 'restore',
  checkParams(params) {
    stringParam(params, 'backup');
    stringParam(params, 'target');
    if (params.exportId !== undefined) stringParam(params, 'exportId');
  },
  async plan(env, params) {
    const store = env.openStore(stringParam(params, 'backup'));
    const { folder, id } = await exportFolder(store, params.exportId as string | undefined);
    const reader = await openExport(folder ? store.at(folder) : store);
    const keySchema = await prepareTarget(env, params, reader.description, reader.keySchema);
    return {
      folder,
      exportId: id,
      source: reader.label,
      itemCount: reader.itemCount,
      keySchema: keySchema as unknown as JsonValue,
      files: reader.files.map((f) => ({ ...f })) as unknown as JsonValue,
    };
  },
  async runSlice(ctx) {
    const { job, state } = ctx;
    const facts = job.facts ?? {};
    const files = (facts.files as unknown as ManifestFileEntry[]).filter(
      (_, i) => i % job.segments === state.segment,
    );
    const keySchema = facts.keySchema as unknown as KeySchema;
    const base = ctx.env.openStore(stringParam(job.params, 'backup'));
    const store = facts.folder ? base.at(facts.folder as string) : base;
    const target = ctx.env.openTable(stringParam(job.params, 'target'));
    let file = Number(continuationField(state, 'file') ?? 0);
    let skip = Number(continuationField(state, 'skip') ?? 0);
    let written = 0;
    let stop = false;
    const budget = writeBudget(ctx);
    while (file < files.length && !stop) {
      const entry = files[file] as ManifestFileEntry;
      let seen = 0;
      let page: Item[] = [];
      const flush = async () => {
        if (page.length === 0) return;
        written += (
          await writePages(target.client, target.table, [page.map((item) => ({ put: item }))], {
            keySchema,
            ...(budget ? { budget } : {}),
          })
        ).written;
        page = [];
      };
      for await (const item of readItemFile(store, entry, keySchema, formatStoreLocation(store.location))) {
        seen++;
        if (seen <= skip) continue;
        page.push(item);
        // An item budget is met exactly (a page never runs past it), so tests can force stops.
        const room = ctx.budget.items === undefined ? RESTORE_PAGE : Math.max(1, ctx.budget.items - written);
        if (page.length >= Math.min(RESTORE_PAGE, room)) {
          await flush();
          // At the file's last item the reader still has its MD5 check to do: let it finish.
          if (seen < entry.itemCount && budgetSpent(ctx.budget, ctx.startedAt, ctx.now(), written)) {
            stop = true;
            break;
          }
        }
      }
      await flush();
      if (stop) {
        skip = seen;
      } else {
        file++;
        skip = 0;
        if (budgetSpent(ctx.budget, ctx.startedAt, ctx.now(), written)) stop = true;
      }
    }
    return {
      done: file >= files.length,
      continuation: { file, skip },
      totals: { items: written },
      outputs: [],
    };
  },
  merge(ctx) {
    const totals = mergeTotals(ctx.states);
    const expected = ctx.job.facts?.itemCount;
    if (totals.items !== expected)
      throw new InvalidDataError(
        `restore job ${ctx.job.jobId} wrote ${totals.items ?? 0} items but the backup holds ${String(expected)}`,
      );
    return Promise.resolve({
      source: ctx.job.facts?.source ?? null,
      target: stringParam(ctx.job.params, 'target'),
      items: totals.items ?? 0,
    });
  },
};
