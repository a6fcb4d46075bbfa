import type { DynamoDBClient, TableDescription } from '@aws-sdk/client-dynamodb';
import type { CapacityBudget } from './capacity.js';
import { InvalidDataError, ServiceError } from '../core/errors.js';
import type { Item, KeySchema } from '../core/types.js';
import { exportFileSource, type ExportSource } from './export-file.js';
import { isBlankLine, parseDescriptionLine, parseItemLine } from './export-format.js';
import { keySchemaFromDescription } from './tables.js';
import { prepareTargetTable } from './target-table.js';
import { writeAll, type WriteRequest } from './writer.js';

export interface ExportSummary {
  readonly description: TableDescription;
  readonly keySchema: KeySchema;
  /** Item lines in the export (blank lines not counted). */
  readonly items: number;
}

/**
 * Reads a whole export once without writing anything: the description line and every item line
 * must parse, carry the key attributes and fit DynamoDB's item size. The first problem is thrown as
 * InvalidDataError naming its line number.
 */
export async function validateExport(source: ExportSource): Promise<ExportSummary> {
  let header: { description: TableDescription; keySchema: KeySchema } | undefined;
  let items = 0;
  for await (const { lineNumber, text } of source.lines()) {
    if (isBlankLine(text)) continue;
    if (!header) {
      header = readHeader(text, lineNumber);
      continue;
    }
    parseItemLine(text, lineNumber, header.keySchema);
    items++;
  }
  if (!header) {
    throw new InvalidDataError(`${source.name} is empty: an export starts with a table description line`);
  }
  return { ...header, items };
}

/** The items of an export, in file order, each checked against `keySchema`. */
export async function* exportItems(source: ExportSource, keySchema: KeySchema): AsyncIterable<Item> {
  let seenHeader = false;
  for await (const { lineNumber, text } of source.lines()) {
    if (isBlankLine(text)) continue;
    if (!seenHeader) {
      seenHeader = true;
      continue;
    }
    yield parseItemLine(text, lineNumber, keySchema);
  }
}

export interface ImportOptions {
  readonly concurrency?: number;
  readonly budget?: CapacityBudget;
  readonly onProgress?: (written: number) => void;
  readonly signal?: AbortSignal;
}

/**
 * Puts every item of a validated export into `table` through the never-drop writer.
 *
 * @example
 * const source = await exportFileSource('users.ndjson.gz');
 * const { keySchema } = await validateExport(source);
 * await importItems(client, 'users', source, keySchema);
 */
export async function importItems(
  client: DynamoDBClient,
  table: string,
  source: ExportSource,
  keySchema: KeySchema,
  options: ImportOptions = {},
): Promise<{ written: number; consumedCapacity: number; retries: number }> {
  return writeAll(client, table, puts(exportItems(source, keySchema)), { ...options, keySchema });
}

async function* puts(items: AsyncIterable<Item>): AsyncIterable<WriteRequest> {
  for await (const item of items) yield { put: item };
}

function readHeader(
  text: string,
  lineNumber: number,
): { description: TableDescription; keySchema: KeySchema } {
  const description = parseDescriptionLine(text, lineNumber);
  try {
    return { description, keySchema: keySchemaFromDescription(description) };
  } catch (error) {
    throw new InvalidDataError(
      `line ${lineNumber}: the table description has no usable key schema (${(error as Error).message})`,
      { cause: error },
    );
  }
}

export interface ImportIntoTableOptions extends ImportOptions {
  readonly client: DynamoDBClient;
  readonly table: string;
  /** How the table is named in messages (default: its name). */
  readonly label?: string;
  /** The export: a file path (plain or gzip) or an ExportSource. */
  readonly source: string | ExportSource;
  /** Create the table from the export's description when it does not exist (default false). */
  readonly create?: boolean;
  /** How a missing table's error says to allow creation (default `create: true`). */
  readonly createFlag?: string;
  /** Called after the whole export was checked and the table is ready, before the first write. */
  readonly onStart?: (start: { readonly created: boolean; readonly items: number }) => void;
}

export interface ImportIntoTableResult {
  /** The table was created from the export's description. */
  readonly created: boolean;
  readonly written: number;
  readonly consumedCapacity: number;
  readonly retries: number;
}

/**
 * The whole import: checks every line of the export first, makes sure the table exists with the
 * export's key schema (creating it when `create` is set), then puts every item. A malformed export,
 * a missing table or a different key schema throws before anything is created or written.
 *
 * @example
 * const result = await importIntoTable({
 *   client: createDynamoClient(parseTableLocation('us-east-1/users')),
 *   table: 'users',
 *   source: 'users.ndjson.gz',
 *   create: true,
 * });
 * console.log(`imported ${result.written} items`);
 */
export async function importIntoTable(options: ImportIntoTableOptions): Promise<ImportIntoTableResult> {
  const {
    client,
    table,
    label = table,
    create,
    createFlag,
    onStart,
    source: input,
    ...importOptions
  } = options;
  const source = typeof input === 'string' ? await exportFileSource(input) : input;
  const checked = await validateExport(source);
  const { created, keySchema } = await prepareTargetTable(client, table, checked.description, {
    create: create === true,
    labels: [source.name, label],
    createFlag: createFlag ?? 'create: true',
  });
  onStart?.({ created, items: checked.items });
  const result = await importItems(client, table, source, keySchema, importOptions);
  if (result.written !== checked.items) {
    throw new ServiceError(
      `import into ${label} wrote ${result.written} of the ${checked.items} items in ${source.name}`,
    );
  }
  return { created, ...result };
}
