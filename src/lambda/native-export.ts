/**
 * The `nativeExport` Lambda handler: the three steps of a native backup (backup/native-backup.ts)
 * for a Step Functions state machine (cdk/native-export-schedule.ts), which waits between them, so
 * an export may run for hours while no invocation runs longer than a few seconds of verification:
 *
 *   { action: 'start' }                  -> NativeExportStarted (plain JSON)
 *   { action: 'check', started }         -> { state: 'IN_PROGRESS' | 'COMPLETED', exportArn, ... }
 *   { action: 'finish', started }        -> NativeBackupResult (verified and indexed)
 *
 * An export that FAILED makes `check` throw a ServiceError naming DynamoDB's failure code and
 * message; nothing is indexed. The table and the log are fixed by the environment, never by the
 * event: a `started` naming another table is refused.
 *
 * Environment (validated on the first invocation of a container, errors name the variable):
 * - NativeExportTable (required): the table exported, in the function's region.
 * - NativeExportKind: full (default) or incremental (the changes since the log's last export).
 * - NativeExportKmsKeyId: the KMS key DynamoDB encrypts the export's objects with (optional).
 * - BackupBucket / BackupPrefix / BackupRegion / BackupEndpoint: as for `backup`; the table's log
 *   is `<prefix>/<table>/`, the same log the `backup` function writes.
 * - LogLevel: as for the other handlers.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  checkNativeBackup,
  finishNativeBackup,
  startNativeBackup,
  type NativeBackupResult,
  type NativeExportCheck,
  type NativeExportStarted,
} from '../backup/native-backup.js';
import { InvalidDataError } from '../core/errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import { backupLocationLabel, openBackupStore, readBackupConfig, type BackupConfig } from './backup.js';
import { serviceClient } from './clients.js';
import { envEnum, envLogLevel, envValue, requireEnv, type Env } from './config.js';
import { lazyEntry } from './entry.js';
import { createLogger, type Logger, type LogLevel } from './log.js';

export interface NativeExportConfig {
  readonly table: string;
  readonly kind: 'full' | 'incremental';
  readonly kmsKeyId?: string;
  readonly backup: BackupConfig;
  readonly logLevel: LogLevel;
}

/** The `nativeExport` handler's configuration; throws ConfigError naming the first bad variable. */
export function readNativeExportConfig(env: Env): NativeExportConfig {
  const table = requireEnv(env, 'NativeExportTable', 'the table to export');
  const kind = envEnum(env, 'NativeExportKind', ['full', 'incremental'] as const) ?? 'full';
  const kmsKeyId = envValue(env, 'NativeExportKmsKeyId');
  return {
    table,
    kind,
    ...(kmsKeyId ? { kmsKeyId } : {}),
    backup: readBackupConfig(env),
    logLevel: envLogLevel(env),
  };
}

export interface NativeExportDeps {
  /** The table's client; default: the function's region. */
  readonly client?: DynamoDBClient;
  /** The store holding every table's log (bucket/prefix); default: S3 from the config. */
  readonly store?: ObjectStore;
  readonly logger?: Logger;
}

export type NativeExportResponse = NativeExportStarted | NativeExportCheck | NativeBackupResult;
export type NativeExportHandler = (event: unknown) => Promise<NativeExportResponse>;

const ACTIONS = ['start', 'check', 'finish'] as const;

/** The event's `started`, checked: it must be this function's table, with a usable export ARN. */
function startedOf(event: Record<string, unknown>, table: string): NativeExportStarted {
  const started = event.started as Partial<NativeExportStarted> | undefined;
  const arn = started?.exportArn;
  if (
    !started ||
    typeof started !== 'object' ||
    (started.kind !== 'full' && started.kind !== 'incremental') ||
    started.table !== table ||
    typeof arn !== 'string' ||
    !arn.includes(`:table/${table}/export/`)
  )
    throw new InvalidDataError(
      `nativeExport: "started" must be the output of the start step for table "${table}", got ${JSON.stringify(started ?? null).slice(0, 300)}`,
    );
  return started as NativeExportStarted;
}

/**
 * Builds the handler from a config object (the ready-made `nativeExport` below reads it from
 * process.env).
 *
 * @example
 * export const handler = createNativeExportHandler(
 *   { table: 'users', kind: 'full', backup: { bucket: 'my-backups', prefix: 'logs', logLevel: 'info' }, logLevel: 'info' },
 * );
 * // start, then check until COMPLETED, then finish: s3://my-backups/logs/users/ gets a base snapshot.
 */
export function createNativeExportHandler(
  config: NativeExportConfig,
  deps: NativeExportDeps = {},
): NativeExportHandler {
  const log = deps.logger ?? createLogger({ level: config.logLevel });
  const client = deps.client ?? serviceClient({ kind: 'aws', region: process.env.AWS_REGION ?? 'us-east-1' });
  const store = (deps.store ?? openBackupStore(config.backup)).at(config.table);
  const where = `${backupLocationLabel(config.backup)}/${config.table}`;
  return async (event) => {
    const e = (event ?? {}) as Record<string, unknown>;
    const action = ACTIONS.find((a) => a === e.action);
    if (!action)
      throw new InvalidDataError(
        `nativeExport: "action" must be one of ${ACTIONS.join(', ')}, got ${JSON.stringify(e.action ?? null)}`,
      );
    if (action === 'start') {
      const started = await startNativeBackup(client, store, {
        table: config.table,
        incremental: config.kind === 'incremental',
        ...(config.kmsKeyId ? { sseKmsKeyId: config.kmsKeyId } : {}),
      });
      log.info('native export started', { location: where, ...started });
      return started;
    }
    const started = startedOf(e, config.table);
    if (action === 'check') return checkNativeBackup(client, started);
    const result = await finishNativeBackup(client, store, started);
    log.info('native export indexed', {
      location: where,
      kind: result.kind,
      exportArn: result.exportArn,
      itemCount: result.itemCount,
    });
    return result;
  };
}

/** The Lambda entry point: `dynamodb-replicator/lambda` -> `nativeExport`. */
export const nativeExport: NativeExportHandler = lazyEntry(() =>
  createNativeExportHandler(readNativeExportConfig(process.env)),
);
