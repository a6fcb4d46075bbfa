import type { TableDescription } from '@aws-sdk/client-dynamodb';
import { keyOf } from '../core/canonical-key.js';
import { fromDynamoJson, toDynamoJson } from '../core/ddb-json.js';
import { InvalidDataError, ItemLimitError, ItemTooLargeError } from '../core/errors.js';
import { assertItemLimits, assertStructure } from '../core/item-limits.js';
import type { Item, KeySchema } from '../core/types.js';

/*
 * The table export format (as written by Dyno's `export`): newline-delimited JSON whose first line is
 * the table description (DescribeTable's `Table`) and every further line one item in DynamoDB JSON
 * (N as exact strings, B/BS as base64). Blank lines are ignored and CRLF line ends are accepted.
 */

/** The first line of an export. */
export function descriptionLine(description: TableDescription): string {
  return JSON.stringify(description) + '\n';
}

/** One item line of an export. */
export function itemLine(item: Item): string {
  return JSON.stringify(toDynamoJson(item)) + '\n';
}

/**
 * Parses the description line. Accepts DescribeTable's `Table` object or the whole DescribeTable
 * output (`{"Table": {...}}`), and checks what is needed to recreate the table.
 */
export function parseDescriptionLine(text: string, lineNumber: number): TableDescription {
  const value = parseJson(text, lineNumber);
  const record = isObject(value) && isObject(value.Table) ? value.Table : value;
  if (
    !isObject(record) ||
    typeof record.TableName !== 'string' ||
    !Array.isArray(record.KeySchema) ||
    !Array.isArray(record.AttributeDefinitions)
  ) {
    throw new InvalidDataError(
      `line ${lineNumber}: the first line of an export must be the table description (an object with TableName, KeySchema and AttributeDefinitions)`,
    );
  }
  return record as TableDescription;
}

/**
 * Parses one item line, checking its key attributes against the table's key schema and DynamoDB's
 * item limits (core/item-limits.ts).
 */
export function parseItemLine(text: string, lineNumber: number, schema: KeySchema): Item {
  const context = `line ${lineNumber}`;
  const json = parseJson(text, lineNumber);
  assertStructure(json, `${context}: item`);
  const item = fromDynamoJson(json, context);
  try {
    keyOf(item, schema);
    assertItemLimits(item, schema);
  } catch (error) {
    if (error instanceof ItemTooLargeError) {
      throw new ItemTooLargeError(`${context}: ${error.message}`, error.keyJson, error.size);
    }
    if (error instanceof ItemLimitError)
      throw new ItemLimitError(`${context}: ${error.message}`, error.keyJson);
    if (error instanceof InvalidDataError && !error.message.startsWith(context)) {
      throw new InvalidDataError(`${context}: ${error.message}`, { cause: error });
    }
    throw error;
  }
  return item;
}

/** A line with nothing but whitespace (including a lone CR) carries no record. */
export function isBlankLine(text: string): boolean {
  return text.trim() === '';
}

function parseJson(text: string, lineNumber: number): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidDataError(`line ${lineNumber}: not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
