import type { DynamoDBClient, TableDescription } from '@aws-sdk/client-dynamodb';
import type { Writable } from 'node:stream';
import type { CapacityBudget } from './capacity.js';
import { writeText } from './export-file.js';
import { descriptionLine, itemLine } from './export-format.js';
import { parallelScanPages } from './scan.js';

export interface ExportTableOptions {
  /** Scan segments read concurrently. */
  readonly parallel?: number;
  readonly consistentRead?: boolean;
  readonly budget?: CapacityBudget;
  readonly onProgress?: (items: number) => void;
  readonly signal?: AbortSignal;
}

/**
 * Writes a table as an export (description line, then one DynamoDB JSON item per line) to `out`
 * with a parallel scan. Waits for `out` to drain, so memory stays bounded by a few scan pages.
 * Returns the number of items written; does not end `out`.
 *
 * @example
 * const { description } = await describeTable(client, 'users');
 * const sink = await createExportFile('users.ndjson.gz');
 * const { items } = await exportTable(client, description, sink.stream, { parallel: 8 });
 * await sink.commit();
 */
export async function exportTable(
  client: DynamoDBClient,
  description: TableDescription,
  out: Writable,
  options: ExportTableOptions = {},
): Promise<{ items: number }> {
  const table = description.TableName ?? '';
  await writeText(out, descriptionLine(description));
  let items = 0;
  for await (const page of parallelScanPages(client, {
    table,
    segments: options.parallel ?? 4,
    consistentRead: options.consistentRead,
    budget: options.budget,
    signal: options.signal,
  })) {
    if (page.length === 0) continue;
    await writeText(out, page.map(itemLine).join(''));
    items += page.length;
    options.onProgress?.(items);
  }
  return { items };
}
