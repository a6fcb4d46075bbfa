import type { DynamoDBClient, TableDescription } from '@aws-sdk/client-dynamodb';
import type { CapacityBudget } from './capacity.js';
import { InvalidDataError } from '../core/errors.js';
import type { Item, KeySchema } from '../core/types.js';
import type { ExportSource } from './export-file.js';
import { isBlankLine, parseDescriptionLine, parseItemLine } from './export-format.js';
import { keySchemaFromDescription } from './tables.js';
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

/** Puts every item of a validated export into `table` through the never-drop writer. */
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
