/**
 * The `nativeExport` Lambda handler: the three steps of a native backup (backup/native-backup.ts)
 * for a Step Functions state machine (cdk/native-export-schedule.ts), which waits between them, so
 * an export may run for hours while no invocation runs longer than a few seconds of verification:
 *
 *   { action: 'start', run? }                      -> NativeExportStarted (plain JSON), or
 *                                                     { skipped: true, message, run, since }
 *   { action: 'check', started }                   -> { state: 'IN_PROGRESS' | 'COMPLETED', exportArn, ... }
 *   { action: 'finish', started, progress?, budget? } -> { done: false, filesVerified, ... } (call again
 *                                                     with it as `progress`) or { done: true, ...NativeBackupResult }
 *   { action: 'release', started }                 -> { released } (the failure path: gives up the lease)
 *
 * `run` names the run (the state machine passes its execution name). An incremental start while
 * another run holds the log's lease (backup/native-backup.ts) is not an error: it returns `skipped`
 * and logs "native export skipped" with the holder. A finish verifies data files until its budget
 * is spent: the invocation's remaining time less a margin (as the scan-job slices), or
 * `budget.timeMs` when smaller. An export that FAILED makes `check` throw a ServiceError naming
 * DynamoDB's failure code and message; nothing is indexed. The table and the log are fixed by the
 * environment, never by the event: a `started` naming another table is refused.
 *
 * Environment (validated on the first invocation of a container, errors name the variable):
 * - NativeExportTable (required): the table exported, in the function's region.
 * - NativeExportKind: full (default) or incremental (the changes since the log's last export).
 * - NativeExportFullIfNoBase: true makes an incremental start on a log with nothing to continue
 *   from run a full export (the base) instead of failing.
 * - NativeExportKmsKeyId: the KMS key DynamoDB encrypts the export's objects with (optional).
 * - NativeExportLeaseSeconds: how long an incremental run's lease lasts if it is never given up
 *   (a crashed run); default 86400 (the construct sets its state machine's timeout).
 * - BackupBucket / BackupPrefix / BackupRegion / BackupEndpoint: as for `backup`; the table's log
 *   is `<prefix>/<table>/`, the same log the `backup` function writes.
 * - LogLevel: as for the other handlers.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  checkNativeBackup,
  finishNativeBackupSlice,
  releaseNativeBackup,
  startNativeBackup,
  type NativeExportCheck,
  type NativeExportStarted,
  type NativeFinishProgress,
  type NativeFinishStep,
} from '../backup/native-backup.js';
import { InvalidDataError } from '../core/errors.js';
import { LeaseHeldError } from '../storage/object-lease.js';
import type { ObjectStore } from '../storage/object-store.js';
import { backupLocationLabel, openBackupStore, readBackupConfig, type BackupConfig } from './backup.js';
import { serviceClient } from './clients.js';
import { envEnum, envInteger, envLogLevel, envValue, requireEnv, type Env } from './config.js';
import { lazyEntry } from './entry.js';
import { createLogger, type Logger, type LogLevel } from './log.js';
import { sliceTimeMs, type ScanJobContext } from './scan-job.js';

export interface NativeExportConfig {
  readonly table: string;
  readonly kind: 'full' | 'incremental';
  /** Incremental: a full export instead when the log has no base yet. */
  readonly fullIfNoBase?: boolean;
  readonly kmsKeyId?: string;
  /** How long an incremental run's lease lasts if never given up (ms). */
  readonly leaseMs?: number;
  readonly backup: BackupConfig;
  readonly logLevel: LogLevel;
}

/** The `nativeExport` handler's configuration; throws ConfigError naming the first bad variable. */
export function readNativeExportConfig(env: Env): NativeExportConfig {
  const table = requireEnv(env, 'NativeExportTable', 'the table to export');
  const kind = envEnum(env, 'NativeExportKind', ['full', 'incremental'] as const) ?? 'full';
  const kmsKeyId = envValue(env, 'NativeExportKmsKeyId');
  const fullIfNoBase = envEnum(env, 'NativeExportFullIfNoBase', ['true', 'false'] as const) === 'true';
  const leaseSeconds = envInteger(env, 'NativeExportLeaseSeconds', { min: 60, max: 7 * 24 * 3600 });
  return {
    table,
    kind,
    ...(fullIfNoBase ? { fullIfNoBase } : {}),
    ...(kmsKeyId ? { kmsKeyId } : {}),
    ...(leaseSeconds !== undefined ? { leaseMs: leaseSeconds * 1000 } : {}),
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

/** A start refused because another run holds the log's lease: the run ends, not as a failure. */
export interface NativeExportSkipped {
  readonly skipped: true;
  /** "skipped: run <id> in progress since <time>". */
  readonly message: string;
  readonly run: string;
  readonly since: string;
}

export type NativeExportResponse =
  | NativeExportStarted
  | NativeExportSkipped
  | NativeExportCheck
  | NativeFinishStep
  | { readonly released: boolean };
export type NativeExportHandler = (event: unknown, context?: ScanJobContext) => Promise<NativeExportResponse>;

const ACTIONS = ['start', 'check', 'finish', 'release'] as const;

/** The event's `progress`: a previous finish slice's output, or nothing yet (`{ done: false }`). */
function progressOf(event: Record<string, unknown>): NativeFinishProgress | undefined {
  const p = event.progress as Partial<NativeFinishProgress> | null | undefined;
  if (p === undefined || p === null || (typeof p === 'object' && p.filesVerified === undefined))
    return undefined;
  if (typeof p !== 'object' || p.done !== false || typeof p.exportArn !== 'string')
    throw new InvalidDataError(
      `nativeExport: "progress" must be the output of the previous finish step, got ${JSON.stringify(p).slice(0, 300)}`,
    );
  return p as NativeFinishProgress;
}

function budgetOf(event: Record<string, unknown>): number | undefined {
  const asked = (event.budget as { timeMs?: unknown } | undefined)?.timeMs;
  if (asked !== undefined && (typeof asked !== 'number' || !(asked >= 0)))
    throw new InvalidDataError(
      `nativeExport: "budget.timeMs" must be a number of ms, got ${JSON.stringify(asked)}`,
    );
  return asked as number | undefined;
}

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
  const start = async (e: Record<string, unknown>): Promise<NativeExportStarted | NativeExportSkipped> => {
    try {
      const started = await startNativeBackup(client, store, {
        table: config.table,
        incremental: config.kind === 'incremental',
        ...(config.fullIfNoBase ? { fullIfNoBase: true } : {}),
        ...(typeof e.run === 'string' && e.run !== '' ? { run: e.run } : {}),
        ...(config.leaseMs !== undefined ? { leaseMs: config.leaseMs } : {}),
        ...(config.kmsKeyId ? { sseKmsKeyId: config.kmsKeyId } : {}),
      });
      log.info('native export started', { location: where, ...started });
      return started;
    } catch (error) {
      if (!(error instanceof LeaseHeldError)) throw error;
      const skipped: NativeExportSkipped = {
        skipped: true,
        message: error.message,
        run: error.holder.run,
        since: new Date(error.holder.since).toISOString(),
      };
      log.info('native export skipped', { location: where, run: skipped.run, since: skipped.since });
      return skipped;
    }
  };
  return async (event, context) => {
    const e = (event ?? {}) as Record<string, unknown>;
    const action = ACTIONS.find((a) => a === e.action);
    if (!action)
      throw new InvalidDataError(
        `nativeExport: "action" must be one of ${ACTIONS.join(', ')}, got ${JSON.stringify(e.action ?? null)}`,
      );
    if (action === 'start') return start(e);
    const started = startedOf(e, config.table);
    if (action === 'check') return checkNativeBackup(client, started);
    if (action === 'release') {
      const released = await releaseNativeBackup(store, started);
      log.info('native export lease released', { location: where, exportArn: started.exportArn, released });
      return { released };
    }
    const progress = progressOf(e);
    const budgetMs = sliceTimeMs(budgetOf(e), context);
    const step = await finishNativeBackupSlice(client, store, started, {
      ...(progress ? { progress } : {}),
      ...(budgetMs !== undefined ? { budgetMs } : {}),
    });
    if (!step.done) {
      log.info('native export verifying', {
        location: where,
        exportArn: step.exportArn,
        filesVerified: step.filesVerified,
        filesTotal: step.filesTotal,
      });
      return step;
    }
    log.info('native export indexed', {
      location: where,
      kind: step.kind,
      exportArn: step.exportArn,
      itemCount: step.itemCount,
    });
    return step;
  };
}

/** The Lambda entry point: `dynamodb-replicator/lambda` -> `nativeExport`. */
export const nativeExport: NativeExportHandler = lazyEntry(() =>
  createNativeExportHandler(readNativeExportConfig(process.env)),
);
