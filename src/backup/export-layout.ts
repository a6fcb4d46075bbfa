/**
 * DynamoDB's own Export-to-S3 layout (DYNAMODB_JSON), written and read:
 *
 *   <export folder>/manifest-summary.json      export summary; written last: its presence = complete
 *   <export folder>/manifest-summary.checksum  hex MD5 of manifest-summary.json
 *   <export folder>/manifest-files.json        one JSON object per line and data file:
 *                                              {itemCount, md5Checksum (base64 MD5 of the .gz object),
 *                                               etag, dataFileS3Key}
 *   <export folder>/manifest-files.checksum    hex MD5 of manifest-files.json
 *   <export folder>/_started                   empty marker written when an export begins
 *   <export folder>/data/<name>.json.gz        gzip, one `{"Item":{...}}` line per item in DynamoDB JSON
 *   <export folder>/table-description.json     ours (AWS writes none): DescribeTable's `Table`
 *   <export folder>/table-description.checksum hex MD5 of table-description.json (written before it)
 *
 * AWS puts the export folder at `<prefix>/AWSDynamoDB/<exportId>/`; so do our full backups. Keys in
 * the manifests are full bucket keys, as AWS writes them; the reader resolves every data file
 * relative to the export folder (`.../data/<name>`), so an export copied elsewhere still reads.
 * Opening an export verifies every data file (MD5, gzip integrity, item count, DynamoDB JSON, key
 * attributes), the summary's total and the table description's checksum before the caller can
 * write anything. Exports written before descriptions had a checksum file are read as before.
 * The data file reader and the manifest reader are shared with DynamoDB's incremental exports,
 * whose lines and data folder differ (native-incremental.ts).
 */
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, type Gzip } from 'node:zlib';
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import { keyOf } from '../core/canonical-key.js';
import { fromDynamoJson, toDynamoJson } from '../core/ddb-json.js';
import { InvalidDataError, NotFoundError, ReplicatorError, UsageError } from '../core/errors.js';
import { assertItemLimits, assertStructure } from '../core/item-limits.js';
import type { Item, KeySchema } from '../core/types.js';
import { splitLines } from '../dynamodb/export-file.js';
import { assertSameKeySchema, keySchemaFromDescription } from '../dynamodb/tables.js';
import { formatStoreLocation, joinKey, type ObjectStore } from '../storage/object-store.js';

export const EXPORT_ROOT = 'AWSDynamoDB';
export const MANIFEST_SUMMARY = 'manifest-summary.json';
export const MANIFEST_SUMMARY_CHECKSUM = 'manifest-summary.checksum';
export const MANIFEST_FILES = 'manifest-files.json';
export const MANIFEST_FILES_CHECKSUM = 'manifest-files.checksum';
export const STARTED_MARKER = '_started';
export const TABLE_DESCRIPTION = 'table-description.json';
export const TABLE_DESCRIPTION_CHECKSUM = 'table-description.checksum';
export const DATA_FOLDER = 'data';
export const SUMMARY_VERSION = '2020-06-30';

/** manifest-summary.json, field for field as DynamoDB writes it. */
export interface ManifestSummary {
  readonly version: string;
  readonly exportArn: string;
  readonly startTime: string;
  readonly endTime: string;
  readonly tableArn: string;
  readonly tableId: string;
  readonly exportTime: string;
  readonly s3Bucket: string | null;
  readonly s3Prefix: string | null;
  readonly s3SseAlgorithm: string | null;
  readonly s3SseKmsKeyId: string | null;
  readonly manifestFilesS3Key: string;
  readonly billedSizeBytes: number;
  readonly itemCount: number;
  readonly outputFormat: 'DYNAMODB_JSON';
}

/** One line of manifest-files.json. */
export interface ManifestFileEntry {
  readonly itemCount: number;
  /** Base64 MD5 of the gzip object's bytes. */
  readonly md5Checksum: string;
  readonly etag: string;
  readonly dataFileS3Key: string;
}

/** The time-and-identity part of a summary a writer provides; the rest is derived. */
export interface SummaryInput {
  readonly exportId: string;
  readonly startTime: number;
  readonly endTime: number;
  /** The moment the data represents (DynamoDB: the export time; a scan: when it started). */
  readonly exportTime: number;
  readonly description?: TableDescription;
  readonly tableName?: string;
  readonly sseKmsKeyId?: string;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** The key a manifest names an object by: the full bucket key on S3, else relative to the folder. */
export function manifestKey(store: ObjectStore, key: string): string {
  return store.location.kind === 's3' ? joinKey(store.location.prefix, key) : joinKey(key);
}

function md5Hex(bytes: Buffer | string): string {
  return createHash('md5').update(bytes).digest('hex');
}

export interface DataFileWriterOptions {
  /** Data file names are `<namePrefix>-<00001>.json.gz`: deterministic, so a rerun overwrites. */
  readonly namePrefix: string;
  /** Start a new file after this many items (default 500,000). */
  readonly maxItemsPerFile?: number;
  /** ... or after this many uncompressed bytes (default 512 MiB). */
  readonly maxBytesPerFile?: number;
  /** Files finishing their upload in the background while the next one fills (default 2). */
  readonly maxClosing?: number;
}

interface OpenFile {
  readonly key: string;
  readonly gzip: Gzip;
  readonly md5: Hash;
  readonly upload: Promise<{ etag?: string }>;
  /** Rejects when the upload fails, so a writer waiting for 'drain' does not hang. */
  readonly failed: Promise<never>;
  items: number;
  bytes: number;
}

/**
 * Streams items into rotating gzip data files under `data/` of an export folder. Memory: one
 * gzip stream and its upload buffer per open file, at most `maxClosing + 1` files at once.
 */
export class DataFileWriter {
  private current: OpenFile | undefined;
  private sequence = 0;
  private readonly closing: Promise<ManifestFileEntry>[] = [];
  private readonly entries: (Promise<ManifestFileEntry> | ManifestFileEntry)[] = [];
  private readonly maxItems: number;
  private readonly maxBytes: number;
  private readonly maxClosing: number;
  /** Items written so far (all files). */
  itemCount = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: DataFileWriterOptions,
  ) {
    this.maxItems = options.maxItemsPerFile ?? 500_000;
    this.maxBytes = options.maxBytesPerFile ?? 512 * 1024 * 1024;
    this.maxClosing = options.maxClosing ?? 2;
    if (!(this.maxItems >= 1)) throw new UsageError('items per data file must be at least 1');
  }

  private open(): OpenFile {
    this.sequence++;
    const key = `${DATA_FOLDER}/${this.options.namePrefix}-${String(this.sequence).padStart(5, '0')}.json.gz`;
    const gzip = createGzip();
    const md5 = createHash('md5');
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        md5.update(chunk);
        done(null, chunk);
      },
    });
    gzip.on('error', (error) => tap.destroy(error));
    // The store attaches its pipeline to `tap` only after an await (fs: mkdir), so an abort before
    // then would be an unhandled 'error' event; the error reaches the caller through `upload`.
    tap.on('error', () => {});
    const upload = this.store.put(key, gzip.pipe(tap), { contentType: 'application/gzip' });
    const failed = upload.then(
      () => new Promise<never>(() => {}),
      (error: unknown) => {
        throw error;
      },
    );
    failed.catch(() => {}); // observed through `upload` too
    return { key, gzip, md5, upload, failed, items: 0, bytes: 0 };
  }

  /** Appends items; resolves when the gzip stream has room again (backpressure). */
  async write(items: readonly Item[]): Promise<void> {
    let i = 0;
    while (i < items.length) {
      const file = (this.current ??= this.open());
      let text = '';
      while (i < items.length && file.items < this.maxItems && file.bytes < this.maxBytes) {
        const line = `{"Item":${JSON.stringify(toDynamoJson(items[i] as Item))}}\n`;
        text += line;
        file.items++;
        file.bytes += line.length;
        i++;
      }
      if (text !== '' && !file.gzip.write(text)) {
        await Promise.race([once(file.gzip, 'drain'), file.failed]);
      }
      if (file.items >= this.maxItems || file.bytes >= this.maxBytes) await this.rotate();
    }
    this.itemCount += items.length;
  }

  private async rotate(): Promise<void> {
    const file = this.current;
    if (!file) return;
    this.current = undefined;
    const entry = this.close(file);
    entry.catch(() => {}); // awaited in finish(); avoid an unhandled rejection meanwhile
    this.entries.push(entry);
    this.closing.push(entry);
    while (this.closing.length > this.maxClosing) await this.closing.shift();
  }

  private async close(file: OpenFile): Promise<ManifestFileEntry> {
    file.gzip.end();
    const { etag } = await file.upload;
    return {
      itemCount: file.items,
      md5Checksum: file.md5.digest('base64'),
      etag: etag ?? file.md5.copy().digest('hex'),
      dataFileS3Key: manifestKey(this.store, file.key),
    };
  }

  /** Closes the last file and returns one manifest entry per data file, in the order written. */
  async finish(): Promise<ManifestFileEntry[]> {
    await this.rotate();
    return Promise.all(this.entries);
  }

  /** Stops writing after a failure: ends open streams; uploads already done stay (unreferenced). */
  async abort(): Promise<void> {
    const file = this.current;
    this.current = undefined;
    if (file) {
      file.gzip.destroy(new ReplicatorError('aborted'));
      await file.upload.catch(() => {});
    }
    await Promise.allSettled(this.entries);
  }
}

/** Builds manifest-summary.json's content for an export folder. */
export function buildSummary(store: ObjectStore, input: SummaryInput, itemCount: number): ManifestSummary {
  const loc = store.location;
  const tableArn =
    input.description?.TableArn ??
    `arn:aws:dynamodb:local:000000000000:table/${input.tableName ?? 'unknown'}`;
  const folderPrefix = loc.kind === 's3' ? loc.prefix : '';
  // The export prefix is what precedes AWSDynamoDB/<exportId> (as in a real export).
  const marker = `${EXPORT_ROOT}/${input.exportId}`;
  const s3Prefix = folderPrefix.endsWith(marker)
    ? folderPrefix.slice(0, -marker.length).replace(/\/$/, '')
    : folderPrefix;
  return {
    version: SUMMARY_VERSION,
    exportArn: `${tableArn}/export/${input.exportId}`,
    startTime: new Date(input.startTime).toISOString(),
    endTime: new Date(input.endTime).toISOString(),
    tableArn,
    tableId: input.description?.TableId ?? '',
    exportTime: new Date(input.exportTime).toISOString(),
    s3Bucket: loc.kind === 's3' ? loc.bucket : null,
    s3Prefix: loc.kind === 's3' ? s3Prefix : null,
    s3SseAlgorithm: input.sseKmsKeyId ? 'KMS' : loc.kind === 's3' ? 'AES256' : null,
    s3SseKmsKeyId: input.sseKmsKeyId ?? null,
    manifestFilesS3Key: manifestKey(store, MANIFEST_FILES),
    billedSizeBytes: 0,
    itemCount,
    outputFormat: 'DYNAMODB_JSON',
  };
}

/**
 * Writes our table description into an export folder, its checksum first (a reader verifies it).
 * Native exports get one after they are verified: AWS writes none, and a base snapshot needs it.
 */
export async function writeTableDescription(
  store: ObjectStore,
  description: TableDescription,
): Promise<void> {
  const descriptionText = JSON.stringify(description, null, 2) + '\n';
  await store.put(TABLE_DESCRIPTION_CHECKSUM, md5Hex(descriptionText));
  await store.put(TABLE_DESCRIPTION, descriptionText, { contentType: 'application/json' });
}

/**
 * Writes the manifests (and our table description) of an export folder whose data files exist.
 * manifest-summary.json goes last: readers treat its presence as "complete".
 */
export async function writeExportManifests(
  store: ObjectStore,
  input: SummaryInput,
  files: readonly ManifestFileEntry[],
): Promise<ManifestSummary> {
  const itemCount = files.reduce((n, f) => n + f.itemCount, 0);
  if (input.description) await writeTableDescription(store, input.description);
  const filesText = files.map((f) => JSON.stringify(f) + '\n').join('');
  await store.put(MANIFEST_FILES, filesText, { contentType: 'application/json' });
  await store.put(MANIFEST_FILES_CHECKSUM, md5Hex(filesText));
  const summary = buildSummary(store, input, itemCount);
  const summaryText = JSON.stringify(summary);
  await store.put(MANIFEST_SUMMARY_CHECKSUM, md5Hex(summaryText));
  await store.put(MANIFEST_SUMMARY, summaryText, { contentType: 'application/json' });
  return summary;
}

export interface WriteExportOptions extends Omit<DataFileWriterOptions, 'namePrefix'> {
  readonly namePrefix?: string;
}

/**
 * Writes a whole export (data files + manifests) from a stream of items: what snapshots use.
 * `input.endTime` is taken as the moment the last item was written when left 0.
 */
export async function writeExport(
  store: ObjectStore,
  items: AsyncIterable<Item> | Iterable<Item>,
  input: SummaryInput,
  options: WriteExportOptions = {},
): Promise<ManifestSummary> {
  await store.put(STARTED_MARKER, '');
  const writer = new DataFileWriter(store, { ...options, namePrefix: options.namePrefix ?? 'part' });
  try {
    let page: Item[] = [];
    for await (const item of items) {
      page.push(item);
      if (page.length >= 100) {
        await writer.write(page);
        page = [];
      }
    }
    await writer.write(page);
  } catch (error) {
    await writer.abort();
    throw error;
  }
  const files = await writer.finish();
  return writeExportManifests(store, { ...input, endTime: input.endTime || Date.now() }, files);
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface ExportReader {
  /** Where the export folder is, for messages. */
  readonly label: string;
  readonly summary: ManifestSummary;
  readonly files: readonly ManifestFileEntry[];
  /** Our table description when present (AWS's own exports have none). */
  readonly description?: TableDescription;
  readonly keySchema?: KeySchema;
  readonly itemCount: number;
  /** Streams every item, file by file; checks MD5 and counts again while streaming. */
  items(): AsyncIterable<Item>;
}

export interface OpenExportOptions {
  /** Key schema to check every item against (default: from the stored description, if any). */
  readonly keySchema?: KeySchema;
  /** Data files verified concurrently (default 4). */
  readonly concurrency?: number;
  /**
   * Manifests built elsewhere (a multi-process job merged in memory) instead of the stored ones;
   * the data files are still verified against them.
   */
  readonly manifests?: {
    readonly summary: ManifestSummary;
    readonly files: readonly ManifestFileEntry[];
    readonly description?: TableDescription;
  };
  /**
   * false: check the manifests and the table description only; each data file is still verified
   * (MD5, gzip, count, keys) while it is read. For readers that split the files over several tasks
   * (a scan job), which must not read the whole backup first. Default true.
   */
  readonly verifyData?: boolean;
}

/** Parses a JSON object; InvalidDataError naming `where` for anything else. */
export function parseJsonObject(text: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new InvalidDataError(`${where} is not valid JSON`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidDataError(`${where} is not a JSON object`);
  return value as Record<string, unknown>;
}

function parseSummary(text: string, where: string, incremental = false): ManifestSummary {
  const v = parseJsonObject(text, where);
  if (v.outputFormat !== undefined && v.outputFormat !== 'DYNAMODB_JSON')
    throw new UsageError(
      `${where}: output format ${String(v.outputFormat)} is not supported (only DYNAMODB_JSON)`,
    );
  if (typeof v.itemCount !== 'number' || !Number.isInteger(v.itemCount) || v.itemCount < 0)
    throw new InvalidDataError(`${where}: itemCount is missing or not a whole number`);
  if (!incremental && v.exportType === 'INCREMENTAL_EXPORT')
    throw new UsageError(
      `${where}: incremental exports are change sets, not table states; restore a full export`,
    );
  if (incremental && v.exportType !== 'INCREMENTAL_EXPORT')
    throw new InvalidDataError(`${where}: not an incremental export (exportType ${String(v.exportType)})`);
  return v as unknown as ManifestSummary;
}

function parseFileEntry(text: string, where: string): ManifestFileEntry {
  const v = parseJsonObject(text, where);
  if (
    typeof v.itemCount !== 'number' ||
    !Number.isInteger(v.itemCount) ||
    v.itemCount < 0 ||
    typeof v.md5Checksum !== 'string' ||
    typeof v.dataFileS3Key !== 'string'
  )
    throw new InvalidDataError(`${where}: expected {itemCount, md5Checksum, etag, dataFileS3Key}`);
  return v as unknown as ManifestFileEntry;
}

/** A data file's key relative to its export folder: `data/<name>`, wherever the export was written. */
export function dataFileKey(dataFileS3Key: string): string {
  const match = /(?:^|\/)(data\/[^/]+)$/.exec(dataFileS3Key);
  if (!match?.[1]) throw new InvalidDataError(`data file key "${dataFileS3Key}" is not under a data/ folder`);
  return match[1];
}

async function verifyChecksumFile(
  store: ObjectStore,
  checksumKey: string,
  content: Buffer,
  label: string,
  what = "the manifest's MD5: the manifest is corrupt",
) {
  if (!(await store.exists(checksumKey))) return;
  const stated = (await store.get(checksumKey)).toString('utf8').trim();
  // Only a recognisable MD5 is compared; anything else is not ours to judge.
  if (/^[0-9a-f]{32}$/i.test(stated) && stated.toLowerCase() !== md5Hex(content))
    throw new InvalidDataError(`${label}: ${checksumKey} does not match ${what}`);
}

/**
 * The stored table description of an export folder, its checksum verified (when it has one:
 * exports written before descriptions had checksums have none); undefined when there is none.
 */
export async function readTableDescription(
  store: ObjectStore,
  label: string = formatStoreLocation(store.location),
): Promise<TableDescription | undefined> {
  if (!(await store.exists(TABLE_DESCRIPTION))) return undefined;
  const bytes = await store.get(TABLE_DESCRIPTION);
  await verifyChecksumFile(
    store,
    TABLE_DESCRIPTION_CHECKSUM,
    bytes,
    label,
    `the MD5 of ${TABLE_DESCRIPTION}: the table description was edited or is corrupt`,
  );
  return parseJsonObject(bytes.toString('utf8'), `${label}/${TABLE_DESCRIPTION}`) as TableDescription;
}

/** Parses and checks one line of a data file (its JSON object); throws InvalidDataError naming `where`. */
export type DataLineParser<T> = (record: Record<string, unknown>, where: string) => T;

/** A full export's line: `{"Item":{...}}` in strict DynamoDB JSON, with the key attributes. */
function itemLineParser(keySchema: KeySchema | undefined): DataLineParser<Item> {
  return (record, where) => {
    try {
      assertStructure(record.Item, `${where}: item`);
    } catch (error) {
      throw new InvalidDataError((error as Error).message, { cause: error });
    }
    const item = fromDynamoJson(record.Item, where);
    if (keySchema) assertKeyed(item, keySchema, where);
    return item;
  };
}

/** The items of one data file of a full export, verified as openExport verifies them. */
export function readItemFile(
  store: ObjectStore,
  entry: ManifestFileEntry,
  keySchema: KeySchema | undefined,
  label: string,
): AsyncIterable<Item> {
  return readDataFile(store, dataFileKey(entry.dataFileS3Key), entry, label, itemLineParser(keySchema));
}

/** The item has the key attributes (with their types) and fits DynamoDB's limits; InvalidDataError otherwise. */
export function assertKeyed(item: Item, keySchema: KeySchema, where: string): void {
  try {
    keyOf(item, keySchema);
    assertItemLimits(item, keySchema);
  } catch (error) {
    if (error instanceof ReplicatorError)
      throw new InvalidDataError(`${where}: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * Streams one data file's records (`key` in `store`), checking as it goes and at the end: gzip
 * integrity, every line a JSON object `parse` accepts, then the MD5 and the item count against the
 * manifest.
 */
export async function* readDataFile<T>(
  store: ObjectStore,
  key: string,
  entry: ManifestFileEntry,
  label: string,
  parse: DataLineParser<T>,
): AsyncIterable<T> {
  const name = `${label}/${key}`;
  const raw = await store.getStream(key);
  const md5 = createHash('md5');
  const chunks = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let count = 0;
  try {
    const first = await chunks.next();
    // An empty object is an empty partition (AWS writes those): no gzip stream at all.
    if (!first.done) {
      const bytes = async function* () {
        md5.update(first.value);
        yield first.value;
        for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
          md5.update(next.value);
          yield next.value;
        }
      };
      const gunzip = createGunzip();
      pipeline(Readable.from(bytes()), gunzip).catch(() => {}); // errors surface through gunzip
      for await (const line of splitLines(gunzip, name)) {
        if (line.text.trim() === '') continue;
        const where = `${name} line ${line.lineNumber}`;
        const parsed = parse(parseJsonObject(line.text, where), where);
        count++;
        if (count > entry.itemCount)
          throw new InvalidDataError(
            `${name} holds more items than the ${entry.itemCount} its manifest lists`,
          );
        yield parsed;
      }
    }
  } finally {
    raw.destroy();
  }
  const actual = md5.digest('base64');
  if (actual !== entry.md5Checksum)
    throw new InvalidDataError(
      `${name}: MD5 ${actual} does not match the manifest's ${entry.md5Checksum}: the file is corrupt or was replaced`,
    );
  if (count !== entry.itemCount)
    throw new InvalidDataError(
      `${name} holds ${count} items but its manifest lists ${entry.itemCount}: truncated`,
    );
}

/** An export folder's manifests, checksums verified; `incremental` expects an incremental export's summary. */
export async function readManifests(
  store: ObjectStore,
  label: string,
  incremental = false,
): Promise<{ summary: ManifestSummary; files: ManifestFileEntry[]; description?: TableDescription }> {
  if (!(await store.exists(MANIFEST_SUMMARY)))
    throw new NotFoundError(`${label} holds no ${MANIFEST_SUMMARY}: not a complete export`);
  const summaryBytes = await store.get(MANIFEST_SUMMARY);
  await verifyChecksumFile(store, MANIFEST_SUMMARY_CHECKSUM, summaryBytes, label);
  const summary = parseSummary(summaryBytes.toString('utf8'), `${label}/${MANIFEST_SUMMARY}`, incremental);
  // AWS writes manifest-files.json next to the summary; its stated key may carry another prefix.
  const filesBytes = await store.get(MANIFEST_FILES).catch((error: unknown) => {
    if (error instanceof NotFoundError)
      throw new InvalidDataError(`${label}: ${MANIFEST_FILES} is missing: the export is incomplete`, {
        cause: error,
      });
    throw error;
  });
  await verifyChecksumFile(store, MANIFEST_FILES_CHECKSUM, filesBytes, label);
  const files = filesBytes
    .toString('utf8')
    .split('\n')
    .map((text, i) => ({ text, i }))
    .filter(({ text }) => text.trim() !== '')
    .map(({ text, i }) => parseFileEntry(text, `${label}/${MANIFEST_FILES} line ${i + 1}`));
  const description = await readTableDescription(store, label);
  return { summary, files, ...(description ? { description } : {}) };
}

/** An export folder's manifests checked, its data files not yet read (openExport reads them all). */
export interface ExportFiles {
  readonly label: string;
  readonly summary: ManifestSummary;
  readonly files: readonly ManifestFileEntry[];
  readonly description?: TableDescription;
  readonly keySchema?: KeySchema;
  /** Streams one data file's items, verifying it (MD5, gzip, count, DynamoDB JSON, keys) as it goes. */
  read(entry: ManifestFileEntry): AsyncIterable<Item>;
}

/**
 * An export folder's manifests, checksums and totals checked, and the reader of its data files:
 * the part of openExport before the verify pass, for a caller that verifies the files in slices.
 */
export async function openExportFiles(
  store: ObjectStore,
  options: Omit<OpenExportOptions, 'concurrency'> = {},
): Promise<ExportFiles> {
  const label = formatStoreLocation(store.location);
  const { summary, files, description } = options.manifests ?? (await readManifests(store, label));
  const listed = files.reduce((n, f) => n + f.itemCount, 0);
  if (listed !== summary.itemCount)
    throw new InvalidDataError(
      `${label}: ${MANIFEST_FILES} lists ${listed} items but ${MANIFEST_SUMMARY} says ${summary.itemCount}`,
    );
  let stored: KeySchema | undefined;
  if (description) {
    try {
      stored = keySchemaFromDescription(description);
    } catch (cause) {
      throw new InvalidDataError(`${label}/${TABLE_DESCRIPTION}: ${(cause as Error).message}`, { cause });
    }
  }
  // A target with another key schema is named as such, not as the first item missing an attribute.
  if (options.keySchema && stored)
    assertSameKeySchema(stored, options.keySchema, [label, 'the target table']);
  const keySchema = options.keySchema ?? stored;
  const parse = itemLineParser(keySchema);
  return {
    label,
    summary,
    files,
    ...(description ? { description } : {}),
    ...(keySchema ? { keySchema } : {}),
    read: (entry) => readDataFile(store, dataFileKey(entry.dataFileS3Key), entry, label, parse),
  };
}

/**
 * Opens and verifies an export folder (the one holding manifest-summary.json): every data file is
 * read once, in full, before this returns. NotFoundError when there is no summary (not an export,
 * or one still being written); InvalidDataError naming the file for any corruption.
 */
export async function openExport(store: ObjectStore, options: OpenExportOptions = {}): Promise<ExportReader> {
  const opened = await openExportFiles(store, options);
  // The verify pass: read everything once before anyone writes (unless the caller checks each file
  // as it reads it, e.g. a scan job whose plan cannot read a whole table's backup).
  if (options.verifyData !== false)
    await verifyDataFiles(opened.files, options.concurrency, (entry) => opened.read(entry));
  const { read, ...rest } = opened;
  return {
    ...rest,
    itemCount: opened.summary.itemCount,
    async *items() {
      for (const entry of opened.files) yield* read(entry);
    },
  };
}

/** Reads every data file once (`concurrency` at a time, default 4): reading is the check. */
export async function verifyDataFiles(
  files: readonly ManifestFileEntry[],
  concurrency: number | undefined,
  read: (entry: ManifestFileEntry) => AsyncIterable<unknown>,
): Promise<void> {
  await verifyDataFileRange(files, 0, { ...(concurrency !== undefined ? { concurrency } : {}) }, read);
}

export interface FileRangeBudget {
  /** Files read at once (default 4). */
  readonly concurrency?: number;
  /** Begin no file once this much time has passed (the first file is always begun). Default: no limit. */
  readonly budgetMs?: number;
  /** Clock (tests). */
  readonly now?: () => number;
}

/**
 * Reads data files from index `start` on, in manifest order, until the budget is spent: a file is
 * begun only while less than `budgetMs` has passed (the first one always, so every call makes
 * progress) and every file begun is read to its end. Returns the index of the first file not read
 * (files.length when all were): the files verified are exactly [start, returned).
 */
export async function verifyDataFileRange(
  files: readonly ManifestFileEntry[],
  start: number,
  budget: FileRangeBudget,
  read: (entry: ManifestFileEntry) => AsyncIterable<unknown>,
): Promise<number> {
  const now = budget.now ?? Date.now;
  const began = now();
  const limit = budget.budgetMs ?? Infinity;
  let next = start;
  const take = (): ManifestFileEntry | undefined => {
    if (next >= files.length || (next > start && now() - began >= limit)) return undefined;
    return files[next++];
  };
  const workers = Math.min(Math.max(1, budget.concurrency ?? 4), Math.max(1, files.length - start));
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let entry = take(); entry; entry = take()) {
        for await (const _record of read(entry)) {
          // reading is the check
        }
      }
    }),
  );
  return next;
}

/** Export ids under `<store>/AWSDynamoDB/` whose manifest-summary.json exists, sorted. */
export async function listCompleteExports(store: ObjectStore): Promise<string[]> {
  const ids: string[] = [];
  for (const id of await store.listFolders(EXPORT_ROOT)) {
    if (await store.exists(`${EXPORT_ROOT}/${id}/${MANIFEST_SUMMARY}`)) ids.push(id);
  }
  return ids;
}
