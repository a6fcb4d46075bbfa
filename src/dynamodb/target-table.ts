import type { DynamoDBClient, TableDescription } from '@aws-sdk/client-dynamodb';
import { NotFoundError } from '../core/errors.js';
import type { KeySchema } from '../core/types.js';
import {
  assertSameKeySchema,
  createTableFromDescription,
  describeTable,
  keySchemaFromDescription,
} from './tables.js';

export interface TargetTableOptions {
  /** Create the table from `description` when it does not exist. */
  readonly create: boolean;
  /** How the source and the target are named in errors, e.g. ["users.ndjson", "us-east-1/users"]. */
  readonly labels: readonly [string, string];
  /** The flag that allows creation, named in the error when the table is missing. */
  readonly createFlag?: string;
}

/**
 * Makes sure the table that data is written into exists with the source's key schema: creates it
 * from the source description when allowed, refuses a missing table otherwise, and refuses an
 * existing table whose key schema differs. Nothing is written when it throws.
 */
export async function prepareTargetTable(
  client: DynamoDBClient,
  table: string,
  description: TableDescription,
  options: TargetTableOptions,
): Promise<{ created: boolean; keySchema: KeySchema }> {
  const sourceSchema = keySchemaFromDescription(description);
  try {
    const existing = await describeTable(client, table);
    assertSameKeySchema(sourceSchema, existing.keySchema, [options.labels[0], options.labels[1]]);
    return { created: false, keySchema: existing.keySchema };
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    if (!options.create) {
      throw new NotFoundError(
        `${options.labels[1]} does not exist; pass ${options.createFlag ?? '--create'} to create it from the description of ${options.labels[0]}`,
        { cause: error },
      );
    }
  }
  await createTableFromDescription(client, description, table);
  return { created: true, keySchema: sourceSchema };
}
