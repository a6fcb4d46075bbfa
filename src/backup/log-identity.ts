/**
 * What a change log belongs to, and the checks that keep foreign parts out of it.
 *
 * `log.json` at the log's root records the table (its name) and its key schema; it is written once,
 * by the first writer, and never rewritten. Each stream that delivered changes is recorded beside
 * it as `streams/<stream label>.json` (its ARN and table). Segments record their table in their
 * header, snapshots in `snapshot.json` and in their table description.
 *
 * - Every writer (the `backup` Lambda handler, the runner's `--backup`, `incremental-backfill`,
 *   `incremental-backup-record`, the base snapshots of `replicate --backfill --backup` and of a
 *   resync) claims the log before it writes anything: a log that belongs to another table or key
 *   schema is refused with a LogIdentityError naming both, and nothing is written.
 * - Every reader (restore and `diff-tables --against-backup` from a log, `incremental-snapshot`,
 *   `incremental-record-history`, `incremental-diff-record`) refuses a log whose parts disagree:
 *   a snapshot or stream record of another table, a segment recording another table or holding
 *   changes with other key attributes.
 * - Logs written before `log.json` existed: their identity is derived from their parts (every
 *   snapshot, every stream record, the first segment), refusing if those disagree; the first writer
 *   that claims such a log writes `log.json`.
 *
 * A new stream is recorded, not refused. DynamoDB gives a table a new stream ARN whenever its stream
 * is re-enabled (which is how a stream's view type is changed); the table and its items are the
 * same, and for 24 hours the old stream still delivers beside the new one, so two writers with two
 * streams are legitimate. A stream ARN names its table, so a stream of another table is refused by
 * the table check. Changes made while no stream was enabled are not in the log: take a new base
 * snapshot (`incremental-backfill`) after re-enabling a stream.
 *
 * Table names are compared exactly; the key schema by attribute names, types and (when both sides
 * know them) roles. A Lambda event carries keys but not which is the hash key, so a log first
 * written by the handler records its key attributes without roles.
 */
import { scalarType } from '../core/canonical-key.js';
import { InvalidDataError, LogIdentityError } from '../core/errors.js';
import type { Key, KeySchema, KeyType } from '../core/types.js';
import { describeKeySchema, keySchemaFromDescription, sameKeySchema } from '../dynamodb/tables.js';
import type { ObjectStore } from '../storage/object-store.js';
import { decodeSegmentWithHeader, type SegmentCheck } from './change-log.js';
import { parseJsonObject, readTableDescription } from './export-layout.js';
import { listSegments } from './log-manifest.js';
import { exportWindowKey, listExportWindows } from './native-incremental.js';
import { listSnapshots, snapshotStore } from './point-in-time.js';

export const LOG_IDENTITY = 'log.json';
export const LOG_IDENTITY_FORMAT = 'dynamodb-replicator/log-identity';
export const STREAMS_FOLDER = 'streams';
export const STREAM_RECORD_FORMAT = 'dynamodb-replicator/log-stream';

export interface KeyAttribute {
  readonly name: string;
  readonly type: KeyType;
}

/** What a writer, a log, or one part of a log says it belongs to. Unknown fields are absent. */
export interface LogOwner {
  readonly table?: string;
  readonly keySchema?: KeySchema;
  /** Key attribute names and types, sorted by name (with or without roles). */
  readonly keyAttributes?: readonly KeyAttribute[];
}

/** `log.json`. */
export interface LogIdentity extends LogOwner {
  readonly format: typeof LOG_IDENTITY_FORMAT;
  readonly version: 1;
  readonly table: string;
  readonly keyAttributes: readonly KeyAttribute[];
}

/** `streams/<label>.json`: a stream that delivered changes to the log. */
export interface StreamRecord {
  readonly format: typeof STREAM_RECORD_FORMAT;
  readonly version: 1;
  readonly table: string;
  readonly arn: string;
  readonly label: string;
}

/** A writer's claim: who it writes for, and (when it reads a stream) which stream. */
export interface LogClaim extends LogOwner {
  readonly table: string;
  readonly stream?: { readonly arn: string; readonly label: string };
}

/** The key attributes of a key, sorted by name; InvalidDataError for a non-scalar value. */
export function keyAttributesOf(key: Key): KeyAttribute[] {
  return Object.keys(key)
    .sort()
    .map((name) => {
      const type = scalarType(key[name]);
      if (!type) throw new InvalidDataError(`key attribute "${name}" is not a string, number or binary`);
      return { name, type };
    });
}

function attributesOf(owner: LogOwner): readonly KeyAttribute[] | undefined {
  if (owner.keyAttributes) return owner.keyAttributes;
  const s = owner.keySchema;
  if (!s) return undefined;
  return [s.hash, ...(s.range ? [s.range] : [])]
    .map(({ name, type }) => ({ name, type }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const attributesText = (a: readonly KeyAttribute[]) => a.map((x) => `${x.name} (${x.type})`).join(', ');

function sameAttributes(a: readonly KeyAttribute[], b: readonly KeyAttribute[]): boolean {
  return attributesText(a) === attributesText(b);
}

/** `table "users", hash id (S), no range key` (or `key attributes ...` when roles are unknown). */
export function describeOwner(owner: LogOwner): string {
  const parts: string[] = [];
  if (owner.table !== undefined) parts.push(`table "${owner.table}"`);
  const attributes = attributesOf(owner);
  if (owner.keySchema) parts.push(describeKeySchema(owner.keySchema));
  else if (attributes) parts.push(`key attributes ${attributesText(attributes)}`);
  return parts.length > 0 ? parts.join(', ') : 'nothing known';
}

/** Whether two owners can be the same table: equal where both say something. */
export function sameOwner(a: LogOwner, b: LogOwner): boolean {
  if (a.table !== undefined && b.table !== undefined && a.table !== b.table) return false;
  const x = attributesOf(a);
  const y = attributesOf(b);
  if (x && y && !sameAttributes(x, y)) return false;
  if (a.keySchema && b.keySchema && !sameKeySchema(a.keySchema, b.keySchema)) return false;
  return true;
}

/** Both owners' knowledge in one (call only when sameOwner holds). */
function merge(a: LogOwner, b: LogOwner): LogOwner {
  const table = a.table ?? b.table;
  const keySchema = a.keySchema ?? b.keySchema;
  const keyAttributes = attributesOf(a) ?? attributesOf(b);
  return {
    ...(table !== undefined ? { table } : {}),
    ...(keySchema ? { keySchema } : {}),
    ...(keyAttributes ? { keyAttributes } : {}),
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const KEY_TYPES: ReadonlySet<unknown> = new Set(['S', 'N', 'B']);
const isAttribute = (v: unknown): v is KeyAttribute =>
  isRecord(v) && typeof v.name === 'string' && KEY_TYPES.has(v.type);

/** `log.json` of a log, or undefined when it has none (a new log, or one written before it existed). */
export async function readLogIdentity(store: ObjectStore, where: string): Promise<LogIdentity | undefined> {
  if (!(await store.exists(LOG_IDENTITY))) return undefined;
  const name = `${where}/${LOG_IDENTITY}`;
  const v = parseJsonObject((await store.get(LOG_IDENTITY)).toString('utf8'), name);
  const schema = v.keySchema;
  if (
    v.format !== LOG_IDENTITY_FORMAT ||
    typeof v.table !== 'string' ||
    v.table === '' ||
    !Array.isArray(v.keyAttributes) ||
    !v.keyAttributes.every(isAttribute) ||
    (schema !== undefined && !(isRecord(schema) && isAttribute(schema.hash)))
  )
    throw new InvalidDataError(`${name} is not a ${LOG_IDENTITY_FORMAT} record`);
  return v as unknown as LogIdentity;
}

/** A safe object name for a stream label (`2026-01-01T00:00:00.000`). */
function streamRecordKey(label: string): string {
  return `${STREAMS_FOLDER}/${label.replace(/[^A-Za-z0-9._-]/g, '-')}.json`;
}

interface Part {
  /** Where the part is, relative to the log root, for messages. */
  readonly part: string;
  readonly owner: LogOwner;
}

/**
 * What each part of a log says it belongs to: `log.json`, every snapshot (its `snapshot.json` and its
 * table description, checksum verified), every stream record, every indexed native incremental
 * export, and the first segment (its header and first change; readers check the other segments and
 * the exports' changes as they read them).
 */
async function logParts(store: ObjectStore, where: string): Promise<Part[]> {
  const parts: Part[] = [];
  const identity = await readLogIdentity(store, where);
  if (identity) parts.push({ part: LOG_IDENTITY, owner: identity });
  for (const info of await listSnapshots(store)) {
    const part = `snapshots/${info.id}`;
    const exportStore = snapshotStore(store, info).at(info.exportFolder);
    const description = await readTableDescription(exportStore, `${where}/${part}/${info.exportFolder}`);
    if (description?.TableName !== undefined && description.TableName !== info.table)
      throw new LogIdentityError(
        `${where}/${part} disagrees with itself: snapshot.json says table "${info.table}", its table description "${description.TableName}"`,
      );
    let keySchema: KeySchema | undefined;
    if (description) {
      try {
        keySchema = keySchemaFromDescription(description);
      } catch (cause) {
        throw new InvalidDataError(`${where}/${part}: ${(cause as Error).message}`, { cause });
      }
    }
    parts.push({ part, owner: { table: info.table, ...(keySchema ? { keySchema } : {}) } });
  }
  for await (const info of store.list(STREAMS_FOLDER)) {
    if (!info.key.endsWith('.json')) continue;
    const v = parseJsonObject((await store.get(info.key)).toString('utf8'), `${where}/${info.key}`);
    if (v.format !== STREAM_RECORD_FORMAT || typeof v.table !== 'string')
      throw new InvalidDataError(`${where}/${info.key} is not a ${STREAM_RECORD_FORMAT} record`);
    parts.push({ part: info.key, owner: { table: v.table } });
  }
  for (const w of await listExportWindows(store))
    parts.push({ part: exportWindowKey(w), owner: { table: w.table } });
  for await (const info of listSegments(store)) {
    const { header, changes } = await decodeSegmentWithHeader(await store.get(info.key), info.key);
    const first = changes[0];
    parts.push({
      part: info.key,
      owner: {
        ...(header.table !== undefined ? { table: header.table } : {}),
        ...(first ? { keyAttributes: keyAttributesOf(first.keys) } : {}),
      },
    });
    break;
  }
  return parts;
}

/**
 * What the log at `store` belongs to, from `log.json` and every part that says something about it;
 * undefined for an empty log. LogIdentityError naming two parts when they disagree.
 */
export async function checkedLogOwner(store: ObjectStore, where: string): Promise<LogOwner | undefined> {
  let owner: LogOwner | undefined;
  let first: Part | undefined;
  for (const p of await logParts(store, where)) {
    if (!owner || !first) {
      owner = p.owner;
      first = p;
      continue;
    }
    if (!sameOwner(owner, p.owner))
      throw new LogIdentityError(
        `${where} holds parts of different tables: ${first.part} is of ${describeOwner(first.owner)}, ` +
          `${p.part} of ${describeOwner(p.owner)}. Remove the foreign part (or restore from a log of one table).`,
      );
    owner = merge(owner, p.owner);
  }
  return owner;
}

/**
 * A writer's check, run before it writes anything: the log must be empty or belong to the claimed
 * table and key schema (LogIdentityError naming both otherwise). Writes `log.json` when the log has
 * none yet, and records a stream the log has not seen.
 */
export async function claimLog(store: ObjectStore, claim: LogClaim, where: string): Promise<void> {
  const owner = await assertLogOwnedBy(store, claim, where);
  if (!(await store.exists(LOG_IDENTITY))) {
    const known = owner ? merge(claim, owner) : claim;
    const keyAttributes = attributesOf(known);
    if (!keyAttributes) throw new InvalidDataError(`${where}: the key of ${claim.table} is unknown`);
    const identity: LogIdentity = {
      format: LOG_IDENTITY_FORMAT,
      version: 1,
      table: claim.table,
      ...(known.keySchema ? { keySchema: known.keySchema } : {}),
      keyAttributes,
    };
    await store.put(LOG_IDENTITY, JSON.stringify(identity, null, 2) + '\n', {
      contentType: 'application/json',
    });
  }
  const stream = claim.stream;
  if (stream && !(await store.exists(streamRecordKey(stream.label)))) {
    const record: StreamRecord = {
      format: STREAM_RECORD_FORMAT,
      version: 1,
      table: claim.table,
      arn: stream.arn,
      label: stream.label,
    };
    await store.put(streamRecordKey(stream.label), JSON.stringify(record, null, 2) + '\n', {
      contentType: 'application/json',
    });
  }
}

/** The stream label of a stream ARN (`.../stream/<label>`). */
/**
 * Refuses (LogIdentityError) a log that belongs to another table or key schema, writing nothing:
 * the check a writer makes before it may write (claimLog then records the identity on first write).
 */
export async function assertLogOwnedBy(
  store: ObjectStore,
  claim: LogClaim,
  where: string,
): Promise<LogOwner | undefined> {
  const owner = await checkedLogOwner(store, where);
  if (owner && !sameOwner(owner, claim))
    throw new LogIdentityError(
      `${where} is the change log of ${describeOwner(owner)}, not of ${describeOwner(claim)}: ` +
        'refusing to write into it (nothing was written). Give the log of that table.',
    );
  return owner;
}

export function streamOfArn(arn: string): { arn: string; label: string } {
  return { arn, label: arn.slice(arn.lastIndexOf('/stream/') + '/stream/'.length) };
}

/**
 * A reader's check of each segment: its header's table and every change's key attributes must be
 * those of the log (`owner`, from checkedLogOwner).
 */
export function segmentCheck(owner: LogOwner | undefined, where: string): SegmentCheck {
  const attributes = owner ? attributesOf(owner) : undefined;
  const expected = attributes ? attributesText(attributes) : undefined;
  return ({ header, changes }, name) => {
    if (owner?.table !== undefined && header.table !== undefined && header.table !== owner.table)
      throw new LogIdentityError(
        `${where}/${name} records table "${header.table}", but the log belongs to ${describeOwner(owner)}`,
      );
    if (!owner || expected === undefined) return;
    for (const change of changes) {
      const found = attributesText(keyAttributesOf(change.keys));
      if (found !== expected)
        throw new LogIdentityError(
          `${where}/${name}: change ${change.shardId}/${change.sequenceNumber} has key attributes ${found}, ` +
            `but the log belongs to ${describeOwner(owner)}`,
        );
    }
  };
}
