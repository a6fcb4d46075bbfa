/**
 * The whole restore as one call: resolve and verify the backup, prepare the target (check its key
 * schema, or create it from the backup's description), then make the target hold exactly the
 * backed-up state. The `restore` command and library users call this.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NotFoundError, UsageError } from '../core/errors.js';
import type { KeySchema } from '../core/types.js';
import {
  assertSameKeySchema,
  createTableFromDescription,
  describeTable,
  keySchemaFromDescription,
  type TableInfo,
} from '../dynamodb/tables.js';
import type { ObjectStore } from '../storage/object-store.js';
import { resolveRestoreSource } from './restore-source.js';
import { restoreTable, type RestoreOptions, type RestoreResult } from './restore.js';

export interface RestoreIntoTableOptions extends Omit<RestoreOptions, 'keySchema' | 'targetEmpty'> {
  /** The backup location: a folder holding `AWSDynamoDB/<id>/`, one export folder, or a change log. */
  readonly store: ObjectStore;
  readonly client: DynamoDBClient;
  readonly table: string;
  /** How the target is named in messages (default: its name). */
  readonly label?: string;
  /** Create the target from the backup's table description when it does not exist (default false). */
  readonly create?: boolean;
  /** How a missing target's error says to allow creation (default `create: true`). */
  readonly createFlag?: string;
  /** Which backup job / export under `AWSDynamoDB/` (default: the newest complete one). */
  readonly jobId?: string;
  /** Change logs only: restore the state at this time (epoch ms) instead of the latest. */
  readonly at?: number;
  /** Called once the backup is verified and the target is ready, before the first write. */
  readonly onStart?: (start: { readonly source: string; readonly itemCount?: number }) => void;
}

export interface RestoreIntoTableResult extends RestoreResult {
  /** What was restored, e.g. `export 0176... at file:///backups/AWSDynamoDB/0176...`. */
  readonly source: string;
  /** The target was created from the backup's description (never in a dry run). */
  readonly created: boolean;
}

/**
 * Restores a backup location into a table: items missing or different are put, items the backup
 * lacks are deleted, identical items are left alone. Every data file is verified before anything
 * is created or written; a corrupt backup, a missing target (without `create`) or a different key
 * schema throws and changes nothing.
 *
 * @example
 * const result = await restoreIntoTable({
 *   store: openObjectStore('s3://my-backups/users'),
 *   client: createDynamoClient(parseTableLocation('us-east-1/users-restored')),
 *   table: 'users-restored',
 *   create: true,
 * });
 * console.log(`${result.puts} puts, ${result.deletes} deletes, ${result.unchanged} unchanged`);
 */
export async function restoreIntoTable(options: RestoreIntoTableOptions): Promise<RestoreIntoTableResult> {
  const { store, client, table, label = table, create, createFlag, jobId, at, onStart, ...restore } = options;
  const existing: TableInfo | undefined = await describeTable(client, table).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  if (!existing && create !== true)
    throw new NotFoundError(
      `${label} does not exist; pass ${createFlag ?? 'create: true'} to create it from the backup's table description`,
    );
  // Opening the source verifies every data file: nothing below runs for a corrupt backup.
  const source = await resolveRestoreSource(store, {
    ...(jobId ? { jobId } : {}),
    ...(at !== undefined ? { at } : {}),
    ...(existing ? { keySchema: existing.keySchema } : {}),
  });
  let keySchema: KeySchema;
  let created = false;
  if (existing) {
    keySchema = existing.keySchema;
    if (source.description)
      assertSameKeySchema(keySchemaFromDescription(source.description), keySchema, [source.label, label]);
  } else {
    if (!source.description)
      throw new UsageError(
        `${source.label} has no table description (AWS's own exports carry none): create ${label} with the right key schema first, then restore into it`,
      );
    keySchema = keySchemaFromDescription(source.description);
    if (restore.dryRun !== true) {
      await createTableFromDescription(client, source.description, table);
      created = true;
    }
  }
  onStart?.({
    source: source.label,
    ...(source.itemCount !== undefined ? { itemCount: source.itemCount } : {}),
  });
  const result = await restoreTable(client, table, source.items(), {
    ...restore,
    keySchema,
    targetEmpty: !existing,
  });
  return { ...result, source: source.label, created };
}
