/**
 * The `replicate` handler's group mode (docs/multi-active.md): set GroupMemberId and the function is
 * one member's function of a multi-active group, subscribed to that member's stream. It reads:
 * - GroupMemberId: this member's id (part of every version its writes get; the same id everywhere).
 * - GroupMembers: a JSON list of the OTHER members, each like a Replicas entry plus its id:
 *   [{"id":"eu","table":"users","region":"eu-west-1","roleArn":"...","externalId":"..."}].
 * - GroupConflictLog: where conflicts are logged as JSON lines, `s3://bucket/prefix` (required).
 * - GroupMetadataAttributes: `STAMP,EXPIRES` (default `rep:v,rep:ttl`).
 * - GroupTombstoneTtlSeconds: how long tombstones live (default 172800, 2 days).
 * - ApplyConcurrency, LogLevel, MetricsNamespace as in one-way mode.
 * The member's own table (repairs are written there) and region come from the event's stream ARN.
 */
import { ConfigError, UsageError } from '../core/errors.js';
import { DEFAULT_APPLY_CONCURRENCY } from '../replicate/engine.js';
import {
  checkMemberId,
  DEFAULT_TOMBSTONE_TTL_MS,
  parseGroupMetadataNames,
  type GroupMetadataNames,
} from '../replicate/group-stamp.js';
import { parseStoreLocation } from '../storage/location.js';
import {
  envInteger,
  envLogLevel,
  envValue,
  parseReplicasJson,
  requireEnv,
  type Env,
  type ReplicaConfig,
} from './config.js';
import type { LogLevel } from './log.js';

export interface GroupMemberConfig extends ReplicaConfig {
  readonly id: string;
}

export interface GroupReplicateConfig {
  readonly memberId: string;
  readonly others: readonly GroupMemberConfig[];
  /** A store location (`s3://bucket/prefix`, or a directory for tests). */
  readonly conflictLog: string;
  readonly metadata: GroupMetadataNames;
  readonly tombstoneTtlMs: number;
  readonly concurrency: number;
  readonly logLevel: LogLevel;
  readonly metricsNamespace?: string;
}

/** Group mode is on when GroupMemberId is set. */
export function isGroupMode(env: Env): boolean {
  return envValue(env, 'GroupMemberId') !== undefined;
}

function memberId(variable: string, id: unknown): string {
  if (typeof id !== 'string') throw new ConfigError(`${variable} must be a member id (a string)`);
  try {
    return checkMemberId(id);
  } catch (error) {
    throw new ConfigError(`${variable}: ${(error as Error).message}`, { cause: error });
  }
}

function groupMembers(env: Env, self: string): GroupMemberConfig[] {
  const text = requireEnv(env, 'GroupMembers', 'a JSON list of the other members, [{"id","table","region"}]');
  const fallbackRegion = envValue(env, 'AWS_REGION');
  const replicas = parseReplicasJson(text, fallbackRegion, 'GroupMembers', ['id']);
  if (replicas.length === 0) throw new ConfigError('GroupMembers lists no member: a group needs another one');
  const raw = JSON.parse(text) as { id?: unknown }[];
  const seen = new Set([self]);
  return replicas.map((r, i) => {
    const id = memberId(`GroupMembers[${i}].id`, raw[i]?.id);
    if (id === self)
      throw new ConfigError(`GroupMembers[${i}].id is "${id}", this member's own id (GroupMemberId)`);
    if (seen.has(id)) throw new ConfigError(`GroupMembers[${i}].id "${id}" is given to two members`);
    seen.add(id);
    return { ...r, id };
  });
}

function metadataNames(env: Env): GroupMetadataNames {
  const names = parseGroupMetadataNames(envValue(env, 'GroupMetadataAttributes'));
  if ('problem' in names) throw new ConfigError(`GroupMetadataAttributes ${names.problem}`);
  return names;
}

function conflictLog(env: Env): string {
  const v = requireEnv(env, 'GroupConflictLog', 'where conflicts are logged, s3://bucket/prefix');
  try {
    parseStoreLocation(v);
  } catch (error) {
    const problem = error instanceof UsageError ? error.message : String(error);
    throw new ConfigError(`GroupConflictLog: ${problem}`, { cause: error });
  }
  return v;
}

/** The group mode's configuration; throws ConfigError naming the first bad variable. */
export function readGroupReplicateConfig(env: Env): GroupReplicateConfig {
  const self = memberId('GroupMemberId', requireEnv(env, 'GroupMemberId', "this member's id"));
  const ttlSeconds = envInteger(env, 'GroupTombstoneTtlSeconds', { min: 60, max: 366 * 86_400 });
  const metricsNamespace = envValue(env, 'MetricsNamespace');
  return {
    memberId: self,
    others: groupMembers(env, self),
    conflictLog: conflictLog(env),
    metadata: metadataNames(env),
    tombstoneTtlMs: ttlSeconds === undefined ? DEFAULT_TOMBSTONE_TTL_MS : ttlSeconds * 1000,
    concurrency: envInteger(env, 'ApplyConcurrency', { min: 1, max: 64 }) ?? DEFAULT_APPLY_CONCURRENCY,
    logLevel: envLogLevel(env),
    ...(metricsNamespace ? { metricsNamespace } : {}),
  };
}
