/**
 * The `verify` Lambda handler: run on a schedule (EventBridge), it compares the source table with
 * each replica and with its change log's latest state (diff/verify.ts, the `diffTables` engine) and
 * publishes, per check, `Discrepancies` and `VerifiedAt` (epoch seconds) as EMF metrics with the
 * same dimensions as the replicate and backup functions (SourceTable plus ReplicaTable or
 * BackupLocation). A check that fails publishes nothing (so its VerifiedAt stops advancing) and makes
 * the invocation fail after the other checks ran.
 *
 * Environment (validated on the first invocation of a container, errors name the variable):
 * - VerifySourceTable (required): the source table, in the function's region (AWS_REGION).
 * - VerifySourceEndpoint: a DynamoDB-compatible endpoint for the source table instead of AWS.
 * - ReplicaTable / ReplicaRegion / ReplicaRoleArn / ReplicaExternalId / Replicas: the replicas, as
 *   for `replicate` (config.ts); a role must allow Scan, BatchGetItem and DescribeTable.
 * - BackupBucket / BackupPrefix / BackupRegion / BackupEndpoint: the change logs, as for `backup`;
 *   the source table's log `<prefix>/<table>/` is compared (it needs a base snapshot to be complete).
 * - VerifyReadCapacity: read capacity units per second per table (default: no limit).
 * - VerifySettleSeconds: re-check a difference after this long before reporting it (default 10).
 * - MetricsNamespace, LogLevel: as for the other handlers.
 *
 * A run must end within the function's timeout (at most 15 minutes): a larger table's backup is
 * verified by a verify-backup scan job instead (the verify schedule's `backupJob`, cdk/scan-job.ts),
 * and its replicas by a diff scan job each (`replicaJob`), whose merges publish the same metrics.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConfigError } from '../core/errors.js';
import { parseServiceLocation, type ServiceLocation } from '../core/location.js';
import type { DiscrepancyCounts } from '../diff/diff-tables.js';
import { runVerifyChecks, verifyChecks, type TargetCheck, type VerifyOutcome } from '../diff/verify.js';
import type { ObjectStore } from '../storage/object-store.js';
import { backupLocationLabel, openBackupStore, readBackupConfig, type BackupConfig } from './backup.js';
import { replicaClient, serviceClient } from './clients.js';
import {
  envInteger,
  envLogLevel,
  envValue,
  readReplicaList,
  requireEnv,
  type Env,
  type ReplicaConfig,
} from './config.js';
import { lazyEntry } from './entry.js';
import { createLogger, type Logger, type LogLevel } from './log.js';
import { DIMENSION, type MetricsWriter, stdoutMetrics, verifyCheckLine } from './metrics.js';

export interface VerifyConfig {
  readonly sourceTable: string;
  /** Where the source table is; default: the function's region. */
  readonly sourceLocation?: ServiceLocation;
  readonly replicas: readonly ReplicaConfig[];
  readonly backup?: BackupConfig;
  /** Read capacity units per second per table; undefined for no limit. */
  readonly readCapacity?: number;
  readonly settleSeconds: number;
  readonly logLevel: LogLevel;
  readonly metricsNamespace?: string;
}

export const DEFAULT_VERIFY_SETTLE_SECONDS = 10;

/** The `verify` handler's configuration; throws ConfigError naming the first bad variable. */
export function readVerifyConfig(env: Env): VerifyConfig {
  const sourceTable = requireEnv(env, 'VerifySourceTable', 'the source table to verify');
  const endpoint = envValue(env, 'VerifySourceEndpoint');
  let sourceLocation: ServiceLocation | undefined;
  try {
    sourceLocation = endpoint === undefined ? undefined : parseServiceLocation(endpoint);
  } catch (error) {
    throw new ConfigError(`VerifySourceEndpoint: ${(error as Error).message}`, { cause: error });
  }
  if (sourceLocation !== undefined && sourceLocation.kind !== 'endpoint')
    throw new ConfigError(
      `VerifySourceEndpoint must be an endpoint such as http://host:port, got "${endpoint}"`,
    );
  const replicas = readReplicaList(env);
  const backup = envValue(env, 'BackupBucket') === undefined ? undefined : readBackupConfig(env);
  if (replicas.length === 0 && backup === undefined)
    throw new ConfigError('nothing to verify: set ReplicaTable or Replicas, or BackupBucket');
  const readCapacity = envInteger(env, 'VerifyReadCapacity', { min: 1, max: 1_000_000 });
  const metricsNamespace = envValue(env, 'MetricsNamespace');
  return {
    sourceTable,
    ...(sourceLocation ? { sourceLocation } : {}),
    replicas,
    ...(backup ? { backup } : {}),
    ...(readCapacity !== undefined ? { readCapacity } : {}),
    settleSeconds:
      envInteger(env, 'VerifySettleSeconds', { min: 0, max: 900 }) ?? DEFAULT_VERIFY_SETTLE_SECONDS,
    logLevel: envLogLevel(env),
    ...(metricsNamespace ? { metricsNamespace } : {}),
  };
}

export interface VerifyDeps {
  /** The source table's client; default: the function's region. */
  readonly sourceClient?: () => DynamoDBClient;
  readonly replicaClient?: (replica: ReplicaConfig) => DynamoDBClient;
  /** The store holding every table's change log (bucket/prefix); default: S3 from the config. */
  readonly store?: ObjectStore;
  readonly logger?: Logger;
  readonly metrics?: MetricsWriter;
  readonly now?: () => number;
}

/** What one invocation returns (and logs). */
export interface VerifyResponse {
  readonly verifiedAt: string;
  readonly checks: readonly {
    readonly check: string;
    readonly discrepancies?: DiscrepancyCounts;
    readonly error?: string;
  }[];
}

export type VerifyHandler = (event?: unknown) => Promise<VerifyResponse>;

/** A check with the metric dimension it reports under. */
interface Check extends TargetCheck {
  readonly destination: { readonly dimension: string; readonly value: string };
}

/**
 * Builds the verify handler from a config object (the ready-made `verify` below reads it from
 * process.env).
 *
 * @example
 * export const handler = createVerifyHandler(readVerifyConfig(process.env));
 * // EventBridge invokes it on a schedule; each run emits Discrepancies and VerifiedAt per check.
 */
export function createVerifyHandler(config: VerifyConfig, deps: VerifyDeps = {}): VerifyHandler {
  const log = deps.logger ?? createLogger({ level: config.logLevel });
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const source = deps.sourceClient?.() ?? serviceClient(config.sourceLocation ?? { kind: 'aws', region });
  const checks = verifyTargets(config, deps, source, region);
  const now = deps.now ?? Date.now;
  return async () => {
    const outcomes = await runVerifyChecks(checks, { settleMs: config.settleSeconds * 1000, now });
    emitVerifyMetrics(deps.metrics ?? stdoutMetrics, config, checks, outcomes);
    const response: VerifyResponse = {
      verifiedAt: new Date(now()).toISOString(),
      checks: outcomes.map((o) =>
        o.ok
          ? { check: o.label, discrepancies: o.discrepancies }
          : { check: o.label, error: o.error instanceof Error ? o.error.message : String(o.error) },
      ),
    };
    const failed = response.checks.filter((c) => c.error !== undefined);
    if (failed.length > 0) {
      log.error('verify failed', { ...response });
      throw new Error(`verify: ${failed.length} of ${checks.length} check(s) failed: ${failed[0]?.error}`);
    }
    const total = outcomes.reduce((n, o) => n + (o.ok ? o.discrepancies.total : 0), 0);
    (total > 0 ? log.warn : log.info).call(log, 'verified', { ...response });
    return response;
  };
}

/** One check per replica, then one against the source table's change log, with their dimensions. */
function verifyTargets(
  config: VerifyConfig,
  deps: VerifyDeps,
  source: DynamoDBClient,
  region: string,
): Check[] {
  const backup = config.backup;
  const location = backup && backupLocationLabel(backup);
  const checks = verifyChecks({
    source: { client: source, table: config.sourceTable, label: config.sourceTable },
    replicas: config.replicas.map((r) => ({
      client: deps.replicaClient?.(r) ?? replicaClient(r, region),
      table: r.table,
      label: r.label,
    })),
    ...(backup && location
      ? {
          backup: {
            store: (deps.store ?? openBackupStore(backup)).at(config.sourceTable),
            label: `${location}/${config.sourceTable}`,
          },
        }
      : {}),
    ...(config.readCapacity !== undefined ? { readCapacity: config.readCapacity } : {}),
  });
  return checks.map((c) => ({
    ...c,
    destination:
      c.kind === 'replica'
        ? { dimension: DIMENSION.replicaTable, value: c.target }
        : { dimension: DIMENSION.backupLocation, value: location as string },
  }));
}

/** Discrepancies and VerifiedAt (epoch seconds) per completed check, with its destination dimension. */
function emitVerifyMetrics(
  write: MetricsWriter,
  config: VerifyConfig,
  checks: readonly Check[],
  outcomes: readonly VerifyOutcome[],
): void {
  outcomes.forEach((o, i) => {
    const check = checks[i];
    if (!o.ok || !check) return;
    const dimensions = {
      [DIMENSION.sourceTable]: config.sourceTable,
      [check.destination.dimension]: check.destination.value,
    };
    write(verifyCheckLine(config.metricsNamespace, dimensions, o.discrepancies.total, o.verifiedAt));
  });
}

/** The Lambda entry point: `dynamodb-replicator/lambda` -> `verify`. */
export const verify: VerifyHandler = lazyEntry(() => createVerifyHandler(readVerifyConfig(process.env)));
