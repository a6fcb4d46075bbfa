/**
 * Backup as a scan job: segment s scans DynamoDB segment s of M straight into gzip data files of the
 * backup's export folder (`<backup>/AWSDynamoDB/<jobId>/data/part-<s>-of-<M>-<slice>-<run>-NNNNN.json.gz`).
 * A slice's files are listed in the state it commits; files of a run that never committed (killed,
 * or beaten to the commit) are referenced by nothing and removed by the merge. The merge writes
 * manifest-files.json and manifest-summary.json over every committed file in segment and slice
 * order: the same layout and checks as a one-process backup-table, readable by restore and diff.
 */
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import { InvalidDataError, UsageError } from '../core/errors.js';
import type { JsonValue } from '../core/scan-job.js';
import { describeTable } from '../dynamodb/tables.js';
import {
  DATA_FOLDER,
  DataFileWriter,
  manifestKey,
  STARTED_MARKER,
  writeExportManifests,
  type ManifestFileEntry,
} from '../backup/export-layout.js';
import { jobStore } from '../backup/full-backup.js';
import { formatStoreLocation } from '../storage/object-store.js';
import { budgetedScan, encodeKey, optionalCount, stringParam, type JobKindSpec } from './kind.js';

/** Job parameters: `table` (location), `backup` (store location), optional `pageSize`, `maxItemsPerFile`. */
export const backupKind: JobKindSpec = {
  kind: 'backup',
  checkParams(params) {
    stringParam(params, 'table');
    stringParam(params, 'backup');
    optionalCount(params, 'pageSize');
    optionalCount(params, 'maxItemsPerFile');
  },
  async plan(env, params, jobId) {
    const table = env.openTable(stringParam(params, 'table'));
    const { description } = await describeTable(table.client, table.table);
    // The merge owns the export folder (it writes the manifests and removes unlisted data files):
    // a folder that already holds a backup under this id is never taken over.
    const exportStore = jobStore(env.openStore(stringParam(params, 'backup')), jobId);
    for await (const info of exportStore.list('')) {
      throw new UsageError(
        `${formatStoreLocation(exportStore.location)} already holds a backup (${info.key}); use another --job (nothing was written)`,
      );
    }
    return { description: JSON.parse(JSON.stringify(description)) as JsonValue };
  },
  async runSlice(ctx) {
    const { job, state } = ctx;
    const table = ctx.env.openTable(stringParam(job.params, 'table'));
    const exportStore = jobStore(ctx.env.openStore(stringParam(job.params, 'backup')), job.jobId);
    if (state.slice === 0) await exportStore.put(STARTED_MARKER, '');
    const maxItemsPerFile = optionalCount(job.params, 'maxItemsPerFile');
    const writer = new DataFileWriter(exportStore, {
      namePrefix: `part-${state.segment}-of-${job.segments}-${state.slice + 1}-${ctx.token}`,
      ...(maxItemsPerFile ? { maxItemsPerFile } : {}),
    });
    const scan = budgetedScan(ctx, table);
    try {
      for await (const page of scan.pages) await writer.write(page);
    } catch (error) {
      await writer.abort();
      throw error;
    }
    const files = await writer.finish();
    return {
      done: scan.position.done,
      continuation: { lastKey: encodeKey(scan.position.lastKey) },
      totals: { items: writer.itemCount },
      outputs: files.map((f) => ({ ...f }) as JsonValue),
    };
  },
  async merge(ctx) {
    const { job } = ctx;
    const exportStore = jobStore(ctx.env.openStore(stringParam(job.params, 'backup')), job.jobId);
    const files = ctx.states.flatMap((s) => s.outputs as unknown as ManifestFileEntry[]);
    const description = job.facts?.description;
    if (typeof description !== 'object' || description === null)
      throw new InvalidDataError(`job ${job.jobId} has no table description (its job.json is incomplete)`);
    const summary = await writeExportManifests(
      exportStore,
      {
        exportId: job.jobId,
        startTime: job.createdAt,
        endTime: ctx.now(),
        exportTime: job.createdAt,
        description: description as TableDescription,
        tableName: (description as TableDescription).TableName ?? '',
      },
      files,
    );
    // Data files of runs that never committed (killed, or beaten to the commit) are nobody's.
    const referenced = new Set(files.map((f) => f.dataFileS3Key));
    let removed = 0;
    for await (const info of exportStore.list(DATA_FOLDER)) {
      if (!referenced.has(manifestKey(exportStore, info.key))) {
        await exportStore.delete(info.key);
        removed++;
      }
    }
    return {
      location: formatStoreLocation(exportStore.location),
      itemCount: summary.itemCount,
      files: files.length,
      orphansRemoved: removed,
    };
  },
};
