/**
 * Where a restore's desired state comes from. A backup location can hold a full backup job or an
 * AWS export (`AWSDynamoDB/<id>/` folders, or the export folder itself), or a change log (detected
 * by the change-log module's detector). Each detector looks at the location and either claims it,
 * returning a verified source, or passes. Sources are verified when resolved — checksums, counts,
 * DynamoDB JSON — so a corrupt backup fails before the restore writes or creates anything.
 */
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import { InvalidDataError, NotFoundError, UsageError } from '../core/errors.js';
import type { Item, KeySchema } from '../core/types.js';
import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import {
  EXPORT_ROOT,
  MANIFEST_SUMMARY,
  openExport,
  type ExportReader,
  type ManifestFileEntry,
} from './export-layout.js';
import { mergedManifests, SEGMENTS_FOLDER } from './full-backup.js';
import { detectChangeLog, type LatestChanges } from './point-in-time.js';

/** A verified, table-shaped desired state: every item once. */
export interface RestoreSource {
  /** 'export' (a full backup job or an AWS export) or what another detector names, e.g. 'change-log'. */
  readonly kind: string;
  /** What is being restored, for messages: e.g. `backup job 0176... at s3://b/p/AWSDynamoDB/0176...`. */
  readonly label: string;
  /** The table description stored with the backup; AWS's own exports carry none. */
  readonly description?: TableDescription;
  readonly keySchema?: KeySchema;
  /** The number of items `items()` yields, when known in advance. */
  readonly itemCount?: number;
  items(): AsyncIterable<Item>;
  /** The source's data files, for readers that split them over several tasks (scan jobs). */
  readonly parts?: SourceParts;
}

/**
 * A source as its data files: the items of `files` (an export folder's, in the AWS export layout)
 * with, for a change log, `overlay` applied — an item of the files whose key is in the overlay is
 * replaced by the key's last change (dropped when that is a REMOVE), and the overlay's other live
 * images are added. Together that is exactly what `items()` yields.
 */
export interface SourceParts {
  /** The export folder of the data files, relative to the location resolved ('' when it is that). */
  readonly folder: string;
  readonly files: readonly ManifestFileEntry[];
  /** A change log's last change of each key changed since its base snapshot, by key id. */
  readonly overlay?: LatestChanges;
}

export interface ResolveRestoreOptions {
  /** Point in time (epoch ms): only change-log sources accept it. */
  readonly at?: number;
  /** Which job/export under `AWSDynamoDB/` to restore (default: the newest complete one). */
  readonly jobId?: string;
  /** The target table's key schema, checked against every item while verifying. */
  readonly keySchema?: KeySchema;
  /**
   * Check manifests, checksums of the manifests and the change log only, not every data file: the
   * files are verified while they are read (MD5, count, keys). The source gets `parts`. For readers
   * that split the files over several tasks; `items()` must then be read to its end to be verified.
   */
  readonly deferDataChecks?: boolean;
}

export type RestoreSourceDetector = (
  store: ObjectStore,
  options: ResolveRestoreOptions,
) => Promise<RestoreSource | undefined>;

function fromExport(reader: ExportReader, what: string, path: string): RestoreSource {
  return {
    kind: 'export',
    label: `${what} at ${reader.label}`,
    ...(reader.description ? { description: reader.description } : {}),
    ...(reader.keySchema ? { keySchema: reader.keySchema } : {}),
    itemCount: reader.itemCount,
    items: () => reader.items(),
    parts: { folder: path, files: reader.files },
  };
}

/**
 * Opens one export folder (at `path` of the location resolved): complete (has a summary) or a
 * multi-process job merged in memory.
 */
async function openExportFolder(
  folder: ObjectStore,
  path: string,
  id: string,
  options: ResolveRestoreOptions,
) {
  const open = {
    ...(options.keySchema ? { keySchema: options.keySchema } : {}),
    ...(options.deferDataChecks ? { verifyData: false } : {}),
  };
  if (await folder.exists(MANIFEST_SUMMARY))
    return fromExport(await openExport(folder, open), `export ${id}`, path);
  const manifests = await mergedManifests(folder, id);
  return fromExport(await openExport(folder, { ...open, manifests }), `backup job ${id}`, path);
}

async function isJobFolder(folder: ObjectStore): Promise<boolean> {
  if (await folder.exists(MANIFEST_SUMMARY)) return true;
  for await (const _ of folder.list(SEGMENTS_FOLDER)) return true;
  return false;
}

/** When did an export folder's data get taken? From its summary, or from its id's leading epoch ms. */
async function exportTimeOf(folder: ObjectStore, id: string): Promise<number> {
  if (await folder.exists(MANIFEST_SUMMARY)) {
    try {
      const t = Date.parse(
        (JSON.parse((await folder.get(MANIFEST_SUMMARY)).toString('utf8')) as { exportTime?: string })
          .exportTime ?? '',
      );
      if (Number.isFinite(t)) return t;
    } catch {
      // judged properly when opened
    }
  }
  const lead = /^(\d{13,14})-/.exec(id);
  return lead?.[1] ? Number(lead[1]) : 0;
}

/** Full backup jobs and AWS exports: the export folder itself, or `AWSDynamoDB/<id>/` under it. */
export const detectExport: RestoreSourceDetector = async (store, options) => {
  const here = store.location.kind === 's3' ? store.location.prefix : store.location.directory;
  const hereId = here.split(/[\\/]/).filter(Boolean).pop() ?? 'export';
  if (await isJobFolder(store)) {
    if (options.at !== undefined) throw atNeedsLog(store);
    return openExportFolder(store, '', hereId, options);
  }
  const ids = await store.listFolders(EXPORT_ROOT);
  if (ids.length === 0) return undefined;
  if (options.at !== undefined) throw atNeedsLog(store);
  if (options.jobId !== undefined) {
    if (!ids.includes(options.jobId))
      throw new NotFoundError(
        `no backup job ${options.jobId} at ${formatStoreLocation(store.location)}; found: ${ids.join(', ')}`,
      );
    const path = `${EXPORT_ROOT}/${options.jobId}`;
    return openExportFolder(store.at(path), path, options.jobId, options);
  }
  // Newest first; skip jobs still being written, but say so when nothing is usable.
  const candidates = await Promise.all(
    ids.map(async (id) => {
      const path = `${EXPORT_ROOT}/${id}`;
      const folder = store.at(path);
      return { id, path, folder, time: await exportTimeOf(folder, id) };
    }),
  );
  candidates.sort((a, b) => b.time - a.time || (a.id < b.id ? 1 : -1));
  const incomplete: string[] = [];
  for (const c of candidates) {
    if (!(await isJobFolder(c.folder))) continue;
    try {
      return await openExportFolder(c.folder, c.path, c.id, options);
    } catch (error) {
      if (!(error instanceof InvalidDataError && /is incomplete/.test(error.message))) throw error;
      incomplete.push(c.id);
    }
  }
  throw new InvalidDataError(
    `no complete backup at ${formatStoreLocation(store.location)}${incomplete.length ? ` (incomplete: ${incomplete.join(', ')})` : ''}`,
  );
};

function atNeedsLog(store: ObjectStore): UsageError {
  return new UsageError(
    `--at needs an incremental backup (change log); ${formatStoreLocation(store.location)} holds a full backup, which restores only to the moment it was taken`,
  );
}

/**
 * Detectors tried in order; the first to claim the location wins. Other modules add theirs (the
 * change log) with `RESTORE_SOURCE_DETECTORS.unshift(...)` or by passing their own list.
 */
export const RESTORE_SOURCE_DETECTORS: RestoreSourceDetector[] = [detectChangeLog, detectExport];

/**
 * The verified desired state at a backup location; NotFoundError when nothing restorable is there.
 *
 * @example
 * const source = await resolveRestoreSource(openObjectStore('/backups/users'), { at: Date.parse('2026-11-27T09:00:00Z') });
 * console.log(source.label, source.itemCount);
 */
export async function resolveRestoreSource(
  store: ObjectStore,
  options: ResolveRestoreOptions = {},
  detectors: readonly RestoreSourceDetector[] = RESTORE_SOURCE_DETECTORS,
): Promise<RestoreSource> {
  for (const detect of detectors) {
    const source = await detect(store, options);
    if (source) return source;
  }
  throw new NotFoundError(
    `nothing to restore at ${formatStoreLocation(store.location)}: expected a full backup or AWS export (AWSDynamoDB/<id>/manifest-summary.json) or a change log`,
  );
}
