/**
 * Lambda configuration from environment variables, read and validated once at cold start into one
 * typed, readonly object. Every error is a ConfigError naming the variable. The helpers at the top
 * are shared by the `replicate` and `backup` handlers.
 *
 * `replicate` reads (names kept from the tool it succeeds):
 * - ReplicaTable (required unless Replicas is set), ReplicaRegion (default: AWS_REGION),
 *   ReplicaEndpoint (a DynamoDB-compatible endpoint instead of AWS), ReplicaAccessKeyId +
 *   ReplicaSecretAccessKey (static credentials, both or neither), ReplicaRoleArn (assume this role
 *   with STS, e.g. for a replica in another account) with ReplicaExternalId (the ExternalId the
 *   role's trust policy requires).
 * - Replicas: a JSON list of further replicas,
 *   [{"table":"t","region":"eu-west-1","endpoint":"...","roleArn":"...","externalId":"..."}].
 * - TurnoverRole (BEFORE|AFTER) + TurnoverAt (epoch ms): the cut-over filter, both or neither.
 * - TransformModule: path of a module exporting transform(change) (relative to LAMBDA_TASK_ROOT).
 * - ReadThrough: for KEYS_ONLY/OLD_IMAGE streams, read each item from the source table (named by the
 *   event's eventSourceARN): `true` for the source's own region, or a region or endpoint.
 * - ApplyConcurrency: BatchWriteItem requests in flight (default 8). LogLevel: debug|info|warn|error.
 * - MetricsNamespace: the CloudWatch namespace of the EMF metrics (default DynamoDBReplicator).
 */
import { ConfigError, UsageError } from '../core/errors.js';
import {
  isRegionName,
  parseServiceLocation,
  EXTERNAL_ID,
  ROLE_ARN,
  tableNameProblem,
  type ServiceLocation,
} from '../core/location.js';
import { turnoverAtProblem, type TurnoverFilter } from '../core/turnover.js';
import { DEFAULT_APPLY_CONCURRENCY } from '../replicate/engine.js';
import type { LogLevel } from './log.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** The variable's trimmed value; undefined when unset or blank. */
export function envValue(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

export function requireEnv(env: Env, name: string, what: string): string {
  const v = envValue(env, name);
  if (v === undefined) throw new ConfigError(`${name} is not set: it must name ${what}`);
  return v;
}

export function envEnum<T extends string>(env: Env, name: string, allowed: readonly T[]): T | undefined {
  const v = envValue(env, name);
  if (v === undefined) return undefined;
  const found = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
  if (found === undefined) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${v}"`);
  return found;
}

export function envInteger(env: Env, name: string, range: { min: number; max: number }): number | undefined {
  const v = envValue(env, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < range.min || n > range.max) {
    throw new ConfigError(`${name} must be a whole number from ${range.min} to ${range.max}, got "${v}"`);
  }
  return n;
}

export interface StaticCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** A pair of credential variables: both set, or neither. */
export function envCredentials(env: Env, idName: string, secretName: string): StaticCredentials | undefined {
  const accessKeyId = envValue(env, idName);
  const secretAccessKey = envValue(env, secretName);
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (accessKeyId === undefined)
    throw new ConfigError(`${idName} is not set, but ${secretName} is: set both or neither`);
  if (secretAccessKey === undefined)
    throw new ConfigError(`${secretName} is not set, but ${idName} is: set both or neither`);
  return { accessKeyId, secretAccessKey };
}

/** TurnoverRole + TurnoverAt, both or neither. */
export function envTurnover(env: Env): TurnoverFilter | undefined {
  const role = envEnum(env, 'TurnoverRole', ['BEFORE', 'AFTER'] as const);
  const atText = envValue(env, 'TurnoverAt');
  if (role === undefined && atText === undefined) return undefined;
  if (role === undefined)
    throw new ConfigError('TurnoverRole is not set, but TurnoverAt is: set TurnoverRole to BEFORE or AFTER');
  if (atText === undefined)
    throw new ConfigError(
      'TurnoverAt is not set, but TurnoverRole is: set it to the cut-over time in epoch milliseconds',
    );
  const problem = turnoverAtProblem(atText);
  if (problem !== undefined) throw new ConfigError(`TurnoverAt ${problem}`);
  return { role, at: Number(atText) };
}

export function envLogLevel(env: Env): LogLevel {
  const levels = ['debug', 'info', 'warn', 'error'] as const;
  const explicit = envEnum(env, 'LogLevel', levels);
  if (explicit) return explicit;
  // Lambda's advanced logging controls set this one (TRACE/DEBUG/INFO/WARN/ERROR/FATAL).
  const lambda = envValue(env, 'AWS_LAMBDA_LOG_LEVEL')?.toLowerCase();
  if (lambda === 'trace') return 'debug';
  if (lambda === 'fatal') return 'error';
  return levels.find((l) => l === lambda) ?? 'info';
}

function checkRoleArn(name: string, arn: string | undefined): string | undefined {
  if (arn !== undefined && !ROLE_ARN.test(arn)) {
    throw new ConfigError(
      `${name} must be an IAM role ARN (arn:aws:iam::123456789012:role/name), got "${arn}"`,
    );
  }
  return arn;
}

/** An ExternalId, which only means something with a role. */
function checkExternalId(
  name: string,
  externalId: string | undefined,
  roleName: string,
  roleArn: string | undefined,
): string | undefined {
  if (externalId === undefined) return undefined;
  if (roleArn === undefined)
    throw new ConfigError(`${name} is set, but ${roleName} is not: an ExternalId needs a role`);
  if (!EXTERNAL_ID.test(externalId))
    throw new ConfigError(`${name} must be 2 to 1224 letters, digits or +=,.@:/- characters`);
  return externalId;
}

function checkTable(name: string, table: string): string {
  const problem = tableNameProblem(table);
  if (problem) throw new ConfigError(`${name}: ${problem}`);
  return table;
}

export interface ReplicaConfig {
  readonly table: string;
  readonly location: ServiceLocation;
  readonly credentials?: StaticCredentials;
  readonly roleArn?: string;
  /** The ExternalId sent when assuming roleArn. */
  readonly externalId?: string;
  /** How logs name the replica, e.g. `eu-west-1/users`. */
  readonly label: string;
}

/** ReadThrough: the source table's own region (from the event) or an explicit region/endpoint. */
export type ReadThroughConfig = { readonly kind: 'source-region' } | ServiceLocation;

export interface ReplicateConfig {
  readonly replicas: readonly ReplicaConfig[];
  readonly turnover?: TurnoverFilter;
  readonly transformModule?: string;
  /** Where a relative TransformModule path is resolved. */
  readonly baseDir: string;
  readonly readThrough?: ReadThroughConfig;
  readonly concurrency: number;
  readonly logLevel: LogLevel;
  /** CloudWatch namespace of the EMF metrics (metrics.ts); default DEFAULT_METRICS_NAMESPACE. */
  readonly metricsNamespace?: string;
}

function replicaLocation(
  name: { region: string; endpoint: string },
  region: string | undefined,
  endpoint: string | undefined,
  fallbackRegion: string | undefined,
): ServiceLocation {
  if (endpoint !== undefined) {
    let loc: ServiceLocation;
    try {
      loc = parseServiceLocation(endpoint);
    } catch (error) {
      throw new ConfigError(`${name.endpoint}: ${(error as Error).message}`, { cause: error });
    }
    if (loc.kind !== 'endpoint') {
      throw new ConfigError(
        `${name.endpoint} must be an endpoint such as http://host:port, got the region "${endpoint}"; use ${name.region} for regions`,
      );
    }
    const r = region ?? loc.region ?? fallbackRegion;
    return r === undefined ? loc : { ...loc, region: r };
  }
  const r = region ?? fallbackRegion;
  if (r === undefined)
    throw new ConfigError(
      `${name.region} is not set (and neither is AWS_REGION): it must name the replica's region`,
    );
  if (!isRegionName(r))
    throw new ConfigError(`${name.region} must be an AWS region such as eu-west-1, got "${r}"`);
  return { kind: 'aws', region: r };
}

function label(loc: ServiceLocation, table: string): string {
  return loc.kind === 'aws' ? `${loc.region}/${table}` : `${loc.endpoint}/${table}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON list of replicas (`Replicas`, and the other members of a group: `variable` names it). */
export function parseReplicasJson(
  text: string,
  fallbackRegion: string | undefined,
  variable = 'Replicas',
  /** Further fields the entries may have (checked by the caller). */
  extraFields: readonly string[] = [],
): ReplicaConfig[] {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (error) {
    // The parser quotes the text around the mistake, which may hold part of a password: drop it.
    const problem = (error as Error).message.replace(/, .*is not valid JSON$/s, '');
    throw new ConfigError(
      `${variable} must be a JSON list of {"table", "region"?, "endpoint"?, "roleArn"?, "externalId"?}: ${problem}`,
    );
  }
  if (!Array.isArray(list))
    throw new ConfigError(
      `${variable} must be a JSON list of {"table", "region"?, "endpoint"?, "roleArn"?, "externalId"?}`,
    );
  return list.map((entry: unknown, i) => {
    const where = `${variable}[${i}]`;
    if (!isObject(entry)) throw new ConfigError(`${where} must be an object with a "table"`);
    for (const k of Object.keys(entry)) {
      const known = ['table', 'region', 'endpoint', 'roleArn', 'externalId', ...extraFields];
      if (!known.includes(k))
        throw new ConfigError(`${where} has an unknown field "${k}" (known: ${known.join(', ')})`);
      if (typeof entry[k] !== 'string' || entry[k] === '')
        throw new ConfigError(`${where}.${k} must be a non-empty string`);
    }
    if (entry.table === undefined) throw new ConfigError(`${where}.table is missing`);
    const table = checkTable(`${where}.table`, entry.table as string);
    const location = replicaLocation(
      { region: `${where}.region`, endpoint: `${where}.endpoint` },
      entry.region as string | undefined,
      entry.endpoint as string | undefined,
      fallbackRegion,
    );
    const roleArn = checkRoleArn(`${where}.roleArn`, entry.roleArn as string | undefined);
    const externalId = checkExternalId(
      `${where}.externalId`,
      entry.externalId as string | undefined,
      `${where}.roleArn`,
      roleArn,
    );
    return {
      table,
      location,
      ...(roleArn ? { roleArn } : {}),
      ...(externalId ? { externalId } : {}),
      label: label(location, table),
    };
  });
}

function readThroughConfig(env: Env): ReadThroughConfig | undefined {
  const v = envValue(env, 'ReadThrough');
  if (v === undefined || /^(false|no|0)$/i.test(v)) return undefined;
  if (/^(true|yes|1)$/i.test(v)) return { kind: 'source-region' };
  try {
    return parseServiceLocation(v);
  } catch (error) {
    const problem = error instanceof UsageError ? error.message : String(error);
    throw new ConfigError(`ReadThrough must be true, a region or an endpoint: ${problem}`, { cause: error });
  }
}

/**
 * The replicas named by ReplicaTable (with ReplicaRegion, ReplicaEndpoint, credentials, role) and
 * Replicas; empty when neither is set. Shared by `replicate` and `verify`.
 */
export function readReplicaList(env: Env): ReplicaConfig[] {
  const fallbackRegion = envValue(env, 'AWS_REGION');
  const replicas: ReplicaConfig[] = [];
  const table = envValue(env, 'ReplicaTable');
  const list = envValue(env, 'Replicas');
  if (table !== undefined) {
    const location = replicaLocation(
      { region: 'ReplicaRegion', endpoint: 'ReplicaEndpoint' },
      envValue(env, 'ReplicaRegion'),
      envValue(env, 'ReplicaEndpoint'),
      fallbackRegion,
    );
    const credentials = envCredentials(env, 'ReplicaAccessKeyId', 'ReplicaSecretAccessKey');
    const roleArn = checkRoleArn('ReplicaRoleArn', envValue(env, 'ReplicaRoleArn'));
    const externalId = checkExternalId(
      'ReplicaExternalId',
      envValue(env, 'ReplicaExternalId'),
      'ReplicaRoleArn',
      roleArn,
    );
    replicas.push({
      table: checkTable('ReplicaTable', table),
      location,
      ...(credentials ? { credentials } : {}),
      ...(roleArn ? { roleArn } : {}),
      ...(externalId ? { externalId } : {}),
      label: label(location, table),
    });
  }
  if (list !== undefined)
    replicas.push(...parseReplicasJson(list, envValue(env, 'ReplicaRegion') ?? fallbackRegion));
  const seen = new Set<string>();
  for (const r of replicas) {
    if (seen.has(r.label))
      throw new ConfigError(`the replica ${r.label} is listed twice (ReplicaTable and Replicas)`);
    seen.add(r.label);
  }
  return replicas;
}

/** The `replicate` handler's configuration; throws ConfigError naming the first bad variable. */
export function readReplicateConfig(env: Env): ReplicateConfig {
  const replicas = readReplicaList(env);
  if (replicas.length === 0) {
    requireEnv(env, 'ReplicaTable', 'the replica table to write to (or set Replicas to a JSON list)');
  }
  const turnover = envTurnover(env);
  const transformModule = envValue(env, 'TransformModule');
  const readThrough = readThroughConfig(env);
  const metricsNamespace = envValue(env, 'MetricsNamespace');
  return {
    replicas,
    ...(turnover ? { turnover } : {}),
    ...(transformModule ? { transformModule } : {}),
    baseDir: envValue(env, 'LAMBDA_TASK_ROOT') ?? process.cwd(),
    ...(readThrough ? { readThrough } : {}),
    concurrency: envInteger(env, 'ApplyConcurrency', { min: 1, max: 64 }) ?? DEFAULT_APPLY_CONCURRENCY,
    logLevel: envLogLevel(env),
    ...(metricsNamespace ? { metricsNamespace } : {}),
  };
}
