/**
 * Full backups: a parallel scan of a table written in DynamoDB's export layout under
 * `<location>/AWSDynamoDB/<jobId>/`.
 *
 * A job can be split across processes (`segment` N of `totalSegments` M, same job id): each process
 * scans its share, writes its own data files (`data/part-N-of-M-00001.json.gz`, ...) and then a
 * per-segment manifest `segments/segment-N-of-M.json` listing its files, counts and checksums. The
 * segment manifest is written only after all of that segment's data files are durable, so its
 * presence means "this share is done". After writing its own, each process lists the segment
 * manifests; whoever sees all M merges them into manifest-files.json and manifest-summary.json.
 * The merge is deterministic (same inputs, same bytes), so two processes finishing together write
 * identical manifests, and the last one to finish always sees every segment (each PUTs before it
 * lists). A reader accepts a job only when the summary exists or all M segment manifests do
 * (merging in memory then), so a partial job is never restored.
 */
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient, TableDescription } from '@aws-sdk/client-dynamodb';
import { InvalidDataError, NotFoundError, UsageError } from '../core/errors.js';
import type { CapacityBudget } from '../dynamodb/capacity.js';
import { parallelScanPages } from '../dynamodb/scan.js';
import { describeKeySchema, describeTable, keySchemaFromDescription } from '../dynamodb/tables.js';
import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import {
  buildSummary,
  DataFileWriter,
  EXPORT_ROOT,
  MANIFEST_SUMMARY,
  STARTED_MARKER,
  writeExportManifests,
  type ManifestFileEntry,
  type ManifestSummary,
  type SummaryInput,
} from './export-layout.js';

export const SEGMENTS_FOLDER = 'segments';
export const SEGMENT_MANIFEST_FORMAT = 'dynamodb-replicator/backup-segment';

/** What one process wrote for its share of a job. */
export interface SegmentManifest {
  readonly format: typeof SEGMENT_MANIFEST_FORMAT;
  readonly version: 1;
  readonly jobId: string;
  readonly segment: number;
  readonly totalSegments: number;
  readonly table: string;
  /** Epoch ms when this share's scan started / its last file was written. */
  readonly startTime: number;
  readonly endTime: number;
  readonly itemCount: number;
  readonly files: readonly ManifestFileEntry[];
  readonly description: TableDescription;
}

export interface FullBackupOptions {
  readonly table: string;
  /** Default: a new id like AWS's, `<epoch ms, 14 digits>-<8 hex>`; required with totalSegments > 1. */
  readonly jobId?: string;
  /** This process's share of the job (0-based) and the number of shares. */
  readonly segment?: number;
  readonly totalSegments?: number;
  /** Scan segments read concurrently by this process (default 4). */
  readonly parallel?: number;
  readonly maxItemsPerFile?: number;
  readonly maxBytesPerFile?: number;
  readonly budget?: CapacityBudget;
  readonly consistentRead?: boolean;
  /** Recorded in the summary when objects are encrypted with SSE-KMS. */
  readonly sseKmsKeyId?: string;
  /** Called with the running item count of this process. */
  readonly onProgress?: (items: number) => void;
  readonly signal?: AbortSignal;
}

export interface FullBackupResult {
  readonly jobId: string;
  readonly segment: number;
  readonly totalSegments: number;
  /** Items this process wrote (its share). */
  readonly itemCount: number;
  readonly files: number;
  /** Where the export folder is. */
  readonly location: string;
  /** Set when this process completed the job (all segments present): the merged summary. */
  readonly summary?: ManifestSummary;
  /** Segments still missing after this process finished (empty when complete). */
  readonly missingSegments: readonly number[];
}

const JOB_ID = /^[A-Za-z0-9._-]{1,128}$/;

export function newJobId(now: number = Date.now()): string {
  return `${String(now).padStart(14, '0')}-${randomBytes(4).toString('hex')}`;
}

export function assertJobId(jobId: string): void {
  if (!JOB_ID.test(jobId))
    throw new UsageError(`job id "${jobId}" is not valid: use 1-128 letters, digits, '.', '_' or '-'`);
}

export function segmentManifestKey(segment: number, totalSegments: number): string {
  return `${SEGMENTS_FOLDER}/segment-${segment}-of-${totalSegments}.json`;
}

/** The export folder of a job under a backup location. */
export function jobStore(store: ObjectStore, jobId: string): ObjectStore {
  return store.at(`${EXPORT_ROOT}/${jobId}`);
}

/** This process's share of a job, checked: which segment of how many, the job id, scan parallelism. */
interface Share {
  readonly segment: number;
  readonly totalSegments: number;
  readonly jobId: string;
  readonly parallel: number;
}

/**
 * Backs up `options.table` (or this process's share of it) into `store` (the backup location).
 * Fails, writing no segment manifest, if anything goes wrong: the job then stays incomplete and
 * unrestorable rather than silently partial.
 *
 * @example
 * const store = openObjectStore('s3://my-backups/users');
 * const result = await backupTable(client, store, { table: 'users', parallel: 8 });
 * console.log(result.jobId, result.itemCount, result.location);
 */
export async function backupTable(
  client: DynamoDBClient,
  store: ObjectStore,
  options: FullBackupOptions,
): Promise<FullBackupResult> {
  const share = checkShare(options);
  const { segment, totalSegments, jobId } = share;
  const { description } = await describeTable(client, options.table);
  const exportStore = jobStore(store, jobId);
  const location = formatStoreLocation(exportStore.location);
  await assertJobOpenToShare(exportStore, location, { table: options.table, description, segment, jobId });

  const startTime = Date.now();
  await exportStore.put(STARTED_MARKER, '');
  const data = await writeShareData(client, exportStore, options, share);
  const manifest: SegmentManifest = {
    format: SEGMENT_MANIFEST_FORMAT,
    version: 1,
    jobId,
    segment,
    totalSegments,
    table: options.table,
    startTime,
    endTime: Date.now(),
    itemCount: data.itemCount,
    files: data.files,
    description,
  };
  await exportStore.put(segmentManifestKey(segment, totalSegments), JSON.stringify(manifest) + '\n', {
    contentType: 'application/json',
  });
  const completion = await completeJobIfAllShares(exportStore, jobId, options.sseKmsKeyId);
  return {
    jobId,
    segment,
    totalSegments,
    itemCount: data.itemCount,
    files: data.files.length,
    location,
    ...completion,
  };
}

/** The share options, validated (UsageError naming the option) before anything is read or written. */
function checkShare(options: FullBackupOptions): Share {
  const totalSegments = options.totalSegments ?? 1;
  const segment = options.segment ?? 0;
  if (!Number.isInteger(totalSegments) || totalSegments < 1)
    throw new UsageError(`--segments must be a positive whole number, got ${totalSegments}`);
  if (!Number.isInteger(segment) || segment < 0 || segment >= totalSegments)
    throw new UsageError(`--segment must be between 0 and ${totalSegments - 1}, got ${segment}`);
  if (totalSegments > 1 && !options.jobId)
    throw new UsageError(
      '--jobid is required with --segments: every process of one backup must use the same id',
    );
  const jobId = options.jobId ?? newJobId();
  assertJobId(jobId);
  const parallel = options.parallel ?? 4;
  if (!Number.isInteger(parallel) || parallel < 1)
    throw new UsageError(`--parallel must be a positive whole number, got ${parallel}`);
  return { segment, totalSegments, jobId, parallel };
}

/**
 * Refuses a job that is already complete, or whose other shares backed up another table or key
 * schema (one job id would then hold two tables). Nothing has been written when this throws.
 */
async function assertJobOpenToShare(
  exportStore: ObjectStore,
  location: string,
  mine: Pick<SegmentManifest, 'table' | 'description' | 'segment' | 'jobId'>,
): Promise<void> {
  if (await exportStore.exists(MANIFEST_SUMMARY))
    throw new UsageError(`backup job ${mine.jobId} at ${location} is already complete; use another --jobid`);
  const owner = describeOwner(mine, location);
  for (const other of await readSegmentManifests(exportStore, location)) {
    const theirs = describeOwner(other, location);
    if (theirs !== owner)
      throw new UsageError(
        `backup job ${mine.jobId} at ${location} holds segment ${other.segment} of ${theirs}, not of ${owner}: use another --jobid (nothing was written)`,
      );
  }
}

/** Scans this process's share into data files; on failure the files started are aborted. */
async function writeShareData(
  client: DynamoDBClient,
  exportStore: ObjectStore,
  options: FullBackupOptions,
  share: Share,
): Promise<{ files: ManifestFileEntry[]; itemCount: number }> {
  const { segment, totalSegments } = share;
  const writer = new DataFileWriter(exportStore, {
    namePrefix: `part-${segment}-of-${totalSegments}`,
    ...(options.maxItemsPerFile !== undefined ? { maxItemsPerFile: options.maxItemsPerFile } : {}),
    ...(options.maxBytesPerFile !== undefined ? { maxBytesPerFile: options.maxBytesPerFile } : {}),
  });
  try {
    const pages = parallelScanPages(client, {
      table: options.table,
      segments: share.parallel,
      ...(totalSegments > 1 ? { segment, totalSegments } : {}),
      ...(options.consistentRead ? { consistentRead: true } : {}),
      ...(options.budget ? { budget: options.budget } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    for await (const page of pages) {
      await writer.write(page);
      options.onProgress?.(writer.itemCount);
    }
  } catch (error) {
    await writer.abort();
    throw error;
  }
  const files = await writer.finish();
  return { files, itemCount: writer.itemCount };
}

/** Writes the job's merged manifests when every share's manifest is present (whoever sees all does). */
async function completeJobIfAllShares(
  exportStore: ObjectStore,
  jobId: string,
  sseKmsKeyId: string | undefined,
): Promise<Pick<FullBackupResult, 'summary' | 'missingSegments'>> {
  const merged = await mergeSegments(exportStore, jobId, sseKmsKeyId);
  let summary: ManifestSummary | undefined;
  if (merged.missing.length === 0 && merged.input) {
    summary = await writeExportManifests(exportStore, merged.input, merged.files);
  }
  return { ...(summary ? { summary } : {}), missingSegments: merged.missing };
}

function parseSegmentManifest(text: string, where: string): SegmentManifest {
  let v: Partial<SegmentManifest> | null;
  try {
    v = JSON.parse(text) as Partial<SegmentManifest> | null;
  } catch (cause) {
    throw new InvalidDataError(`${where} is not valid JSON`, { cause });
  }
  if (
    !v ||
    v.format !== SEGMENT_MANIFEST_FORMAT ||
    typeof v.segment !== 'number' ||
    typeof v.totalSegments !== 'number' ||
    typeof v.itemCount !== 'number' ||
    !Array.isArray(v.files) ||
    typeof v.description !== 'object'
  )
    throw new InvalidDataError(`${where} is not a ${SEGMENT_MANIFEST_FORMAT} manifest`);
  const counted = v.files.reduce((n, f) => n + f.itemCount, 0);
  if (counted !== v.itemCount)
    throw new InvalidDataError(`${where}: its files hold ${counted} items but it says ${v.itemCount}`);
  return v as SegmentManifest;
}

/** `table "t", hash id (S), no range key`: what a segment manifest says it backed up. */
function describeOwner(m: Pick<SegmentManifest, 'table' | 'description' | 'segment'>, label: string): string {
  let schema: string;
  try {
    schema = describeKeySchema(keySchemaFromDescription(m.description));
  } catch (cause) {
    throw new InvalidDataError(`${label}: segment ${m.segment}: ${(cause as Error).message}`, { cause });
  }
  return `table "${m.table}", ${schema}`;
}

async function readSegmentManifests(exportStore: ObjectStore, label: string): Promise<SegmentManifest[]> {
  const manifests: SegmentManifest[] = [];
  for await (const info of exportStore.list(SEGMENTS_FOLDER)) {
    if (!/\/segment-\d+-of-\d+\.json$/.test(info.key)) continue;
    manifests.push(
      parseSegmentManifest((await exportStore.get(info.key)).toString('utf8'), `${label}/${info.key}`),
    );
  }
  return manifests;
}

export interface MergedSegments {
  readonly totalSegments: number;
  /** Segment numbers with no manifest yet. */
  readonly missing: readonly number[];
  /** Summary input and files in segment order, when nothing is missing. */
  readonly input?: SummaryInput;
  readonly files: readonly ManifestFileEntry[];
}

/**
 * Reads a job's segment manifests and merges them when all are present. NotFoundError when the
 * folder has none; InvalidDataError when they disagree on the number of segments.
 */
export async function mergeSegments(
  exportStore: ObjectStore,
  jobId: string,
  sseKmsKeyId?: string,
): Promise<MergedSegments> {
  const label = formatStoreLocation(exportStore.location);
  const manifests = await readSegmentManifests(exportStore, label);
  if (manifests.length === 0) throw new NotFoundError(`${label} holds no backup segments`);
  const totals = new Set(manifests.map((m) => m.totalSegments));
  if (totals.size > 1)
    throw new InvalidDataError(
      `${label}: segment manifests disagree on the number of segments (${[...totals].sort().join(', ')}); was the job id reused?`,
    );
  // Each share carries the table description; shares that disagree on what was backed up are
  // foreign parts (a reused job id), not one backup.
  const owners = new Set(manifests.map((m) => describeOwner(m, label)));
  if (owners.size > 1)
    throw new InvalidDataError(
      `${label}: segment manifests disagree on the table backed up (${[...owners].sort().join('; ')}); was the job id reused?`,
    );
  const totalSegments = manifests[0]?.totalSegments ?? 1;
  const bySegment = new Map(manifests.map((m) => [m.segment, m]));
  const missing = Array.from({ length: totalSegments }, (_, i) => i).filter((i) => !bySegment.has(i));
  if (missing.length > 0) return { totalSegments, missing, files: [] };
  const ordered = [...bySegment.values()].sort((a, b) => a.segment - b.segment);
  const first = ordered[0] as SegmentManifest;
  const startTime = Math.min(...ordered.map((m) => m.startTime));
  return {
    totalSegments,
    missing,
    files: ordered.flatMap((m) => m.files),
    input: {
      exportId: jobId,
      startTime,
      endTime: Math.max(...ordered.map((m) => m.endTime)),
      exportTime: startTime,
      description: first.description,
      tableName: first.table,
      ...(sseKmsKeyId ? { sseKmsKeyId } : {}),
    },
  };
}

/** The manifests of a job whose segments are all present, built in memory (nothing written). */
export async function mergedManifests(
  exportStore: ObjectStore,
  jobId: string,
): Promise<{
  summary: ManifestSummary;
  files: readonly ManifestFileEntry[];
  description?: TableDescription;
}> {
  const merged = await mergeSegments(exportStore, jobId);
  if (merged.missing.length > 0 || !merged.input)
    throw new InvalidDataError(
      `backup job ${jobId} at ${formatStoreLocation(exportStore.location)} is incomplete: segment${merged.missing.length === 1 ? '' : 's'} ${merged.missing.join(', ')} of ${merged.totalSegments} never finished`,
    );
  const itemCount = merged.files.reduce((n, f) => n + f.itemCount, 0);
  return {
    summary: buildSummary(exportStore, merged.input, itemCount),
    files: merged.files,
    ...(merged.input.description ? { description: merged.input.description } : {}),
  };
}
