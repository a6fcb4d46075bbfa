import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { sleep } from '../core/backoff.js';
import { InvalidDataError, NotFoundError } from '../core/errors.js';
import { callDynamo } from '../dynamodb/sdk-errors.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../storage/local-files.js';
import { checkCheckpointFile, defaultCheckpointFile } from './checkpoint-file.js';
import {
  DynamoLease,
  FileLease,
  type CheckpointLease,
  type DynamoLeaseOptions,
  type FileLeaseOptions,
  type LeaseRequest,
} from './lease.js';

/**
 * How far one shard has been durably applied. `sequenceNumber` with `inclusive` false (the normal
 * case) means "every record up to and including it is applied: resume after it"; `inclusive` true
 * means "resume at it" (a backfill's recorded position: the first record after the copy started).
 */
export interface ShardCheckpoint {
  readonly sequenceNumber?: string;
  readonly inclusive?: boolean;
  /** The shard is closed and fully applied. */
  readonly finished?: boolean;
  /** Epoch ms: stream creation time of the last applied record (bounds what a gap may have lost). */
  readonly changeTime?: number;
  /**
   * Epoch ms, set by a backfill for a shard that had no new record during the copy: records created
   * before it are in the copy and are not applied again (with a margin for whole-second times).
   */
  readonly skipBefore?: number;
}

export interface CheckpointState {
  readonly version: 1;
  readonly streamArn: string;
  readonly shards: Readonly<Record<string, ShardCheckpoint>>;
  readonly updatedAt: string;
}

export interface CheckpointStore {
  /** Where the checkpoint lives, for messages. */
  readonly description: string;
  load(): Promise<CheckpointState | undefined>;
  /** Saves without a lease; a runner saves through its lease's store (`lease().store`) instead. */
  save(state: CheckpointState): Promise<void>;
  /**
   * Takes the checkpoint's lease: one owner at a time (see lease.ts). Refuses with
   * CheckpointLeaseHeldError while another runner holds it, unless asked to wait. Stores without a
   * lease (test doubles) leave it out.
   */
  lease?(request?: LeaseRequest): Promise<CheckpointLease>;
}

/**
 * The creation time from which changes may not have been applied: the oldest last-applied time
 * among the shards not finished (all finished: among all, as only shards not yet listed remain,
 * whose records follow their parents'). 0 when that is unknown (no checkpoint, or a shard without
 * a time, e.g. a backfill's recorded position): anything may be missing then.
 */
export function unappliedSince(state: CheckpointState | undefined): number {
  const all = Object.values(state?.shards ?? {});
  const open = all.filter((c) => !c.finished);
  const candidates = open.length > 0 ? open : all;
  const timeOf = (c: ShardCheckpoint) => c.changeTime ?? c.skipBefore;
  if (candidates.length === 0 || candidates.some((c) => timeOf(c) === undefined)) return 0;
  return Math.min(...candidates.map((c) => timeOf(c) as number));
}

function parseState(text: string, where: string): CheckpointState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new InvalidDataError(`Checkpoint ${where} is not valid JSON; delete it to start over`, { cause });
  }
  const v = value as Partial<CheckpointState> | null;
  if (!v || v.version !== 1 || typeof v.streamArn !== 'string' || typeof v.shards !== 'object' || !v.shards)
    throw new InvalidDataError(`Checkpoint ${where} is not a dynamodb-replicator checkpoint (version 1)`);
  return v as CheckpointState;
}

/**
 * A local JSON file (0600, its directory 0700), replaced atomically: written to a temporary file in
 * the same directory, flushed, then renamed over the old one, so a crash leaves either the old or the
 * new checkpoint.
 * Its lease is the lock file `<file>.lock`.
 *
 * @example
 * const checkpoint = new FileCheckpointStore('/var/lib/replicator/users.json');
 */
export class FileCheckpointStore implements CheckpointStore {
  readonly description: string;
  constructor(
    private readonly file: string,
    private readonly leaseOptions: FileLeaseOptions = {},
  ) {
    this.description = `file ${file}`;
  }

  lease(request?: LeaseRequest): Promise<CheckpointLease> {
    return FileLease.acquire(this, this.file, request, this.leaseOptions);
  }

  async load(): Promise<CheckpointState | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return parseState(text, this.file);
  }

  async save(state: CheckpointState): Promise<void> {
    await mkdir(path.dirname(path.resolve(this.file)), { recursive: true, mode: PRIVATE_DIR_MODE });
    const temp = `${this.file}.${process.pid}.tmp`;
    const handle = await open(temp, 'w', PRIVATE_FILE_MODE);
    try {
      await handle.writeFile(JSON.stringify(state, null, 1) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, this.file);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
  }
}

/** The update that writes a checkpoint state to its item (`state` is a reserved word). */
function stateUpdate(state: CheckpointState): {
  set: string;
  names: Record<string, string>;
  values: Record<string, AttributeValue>;
} {
  return {
    set: 'SET #state = :state, updatedAt = :updatedAt',
    names: { '#state': 'state' },
    values: { ':state': { S: JSON.stringify(state) }, ':updatedAt': { S: state.updatedAt } },
  };
}

/**
 * One item per checkpoint in a DynamoDB table whose hash key is `id` (S). The state is stored as a
 * JSON string; the item grows with the number of unfinished shards only (finished shards the stream
 * no longer lists are pruned by the runner). The lease lives on the same item (leaseOwner,
 * leaseHolder, leaseToken, leaseExpires), so a save can be conditional on it.
 *
 * @example
 * const checkpoint = new DynamoCheckpointStore(client, 'replicator-checkpoints', 'users->eu-west-1');
 */
export class DynamoCheckpointStore implements CheckpointStore {
  readonly description: string;
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly id: string,
    private readonly leaseOptions: DynamoLeaseOptions = {},
  ) {
    this.description = `item ${JSON.stringify(id)} of table ${table}`;
  }

  lease(request?: LeaseRequest): Promise<CheckpointLease> {
    return DynamoLease.acquire(
      this,
      {
        client: this.client,
        table: this.table,
        id: this.id,
        stateUpdate,
        call: (action, fn) => this.call(action, fn),
      },
      request,
      this.leaseOptions,
    );
  }

  async load(): Promise<CheckpointState | undefined> {
    const out = await this.call('GetItem', () =>
      this.client.send(
        new GetItemCommand({ TableName: this.table, Key: { id: { S: this.id } }, ConsistentRead: true }),
      ),
    );
    const state = out.Item?.state;
    if (!state) return undefined;
    if (!('S' in state) || typeof state.S !== 'string')
      throw new InvalidDataError(`Checkpoint ${this.description} has no string attribute "state"`);
    return parseState(state.S, this.description);
  }

  async save(state: CheckpointState): Promise<void> {
    const update = stateUpdate(state);
    await this.call('UpdateItem', () =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { id: { S: this.id } },
          UpdateExpression: update.set,
          ExpressionAttributeNames: update.names,
          ExpressionAttributeValues: update.values,
        }),
      ),
    );
  }

  /**
   * One SDK call on the checkpoint table, its failure translated by the data layer; a missing table
   * says how to create it.
   */
  private async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await callDynamo(this.client, { action, table: this.table }, fn);
    } catch (error) {
      if (error instanceof NotFoundError)
        throw new NotFoundError(
          `Checkpoint table ${this.table} does not exist; create it with a hash key "id" of type S`,
          { cause: error },
        );
      throw error;
    }
  }
}

export interface OpenCheckpointOptions {
  /** The runner's source and replicas (none: a backup-only runner); labels default to the table names. */
  readonly source: { readonly table: string; readonly label?: string };
  readonly replicas: readonly { readonly table: string; readonly label?: string }[];
  /** The checkpoint file. Default `.dynamodb-replicator/<source table>[.backup].checkpoint.json`. */
  readonly file?: string;
  /** Keep the checkpoint in this DynamoDB table (hash key `id` S) instead of a file. */
  readonly table?: {
    readonly client: DynamoDBClient;
    readonly table: string;
    readonly lease?: DynamoLeaseOptions;
  };
}

/**
 * The checkpoint store of a `replicateTable` runner, as the `replicate` command opens it: an item of
 * `table` named after the source and replicas (`<source> -> <replica>, ...`, or `<source> backup`),
 * or else a file, refused (UsageError) when it could not be saved. A backup-only runner keeps a
 * checkpoint of its own, never shared with a replicating runner of the same source.
 */
export async function openCheckpointStore(o: OpenCheckpointOptions): Promise<CheckpointStore> {
  const label = (t: { readonly table: string; readonly label?: string }) => t.label ?? t.table;
  const backupOnly = o.replicas.length === 0;
  if (o.table) {
    const id = backupOnly
      ? `${label(o.source)} backup`
      : `${label(o.source)} -> ${o.replicas.map(label).join(', ')}`;
    return new DynamoCheckpointStore(o.table.client, o.table.table, id, o.table.lease);
  }
  return openFileCheckpoint(
    o.file ?? defaultCheckpointFile(o.source.table, backupOnly ? 'backup' : undefined),
  );
}

/** A file's checkpoint store, once checkCheckpointFile has found that it can be saved there. */
export async function openFileCheckpoint(file: string): Promise<FileCheckpointStore> {
  await checkCheckpointFile(file);
  return new FileCheckpointStore(file);
}

export interface SavePacing {
  /**
   * Least time between the starts of two saves (default 0): updates arriving in between share the
   * next save. Bounds the store's load, not what a save covers.
   */
  readonly minIntervalMs?: number;
  /** performance.now() and a timer by default (tests pass a virtual clock). */
  readonly clock?: { now(): number; sleep(ms: number): Promise<void> };
}

const REAL_CLOCK = { now: () => performance.now(), sleep: (ms: number) => sleep(ms) };

/**
 * Coalesces checkpoint updates from many shards into serialized saves. `commit` resolves once a save
 * that includes the update has completed, so a caller never moves on before its progress is durable.
 */
export class CheckpointWriter {
  private shards: Record<string, ShardCheckpoint>;
  private saving: Promise<void> | undefined;
  private pending: Promise<void> | undefined;
  private saves = 0;
  /** The clock's time when the last save began (-Infinity before the first). */
  private lastSaveAt = -Infinity;

  constructor(
    private readonly store: CheckpointStore,
    private readonly streamArn: string,
    initial?: CheckpointState,
    private readonly pacing: SavePacing = {},
  ) {
    this.shards = { ...(initial?.streamArn === streamArn ? initial.shards : {}) };
  }

  get(shardId: string): ShardCheckpoint | undefined {
    return this.shards[shardId];
  }

  get saveCount(): number {
    return this.saves;
  }

  snapshot(): CheckpointState {
    return {
      version: 1,
      streamArn: this.streamArn,
      shards: { ...this.shards },
      updatedAt: new Date().toISOString(),
    };
  }

  /** Records a shard's progress and resolves when it is durable. */
  commit(shardId: string, checkpoint: ShardCheckpoint): Promise<void> {
    this.shards[shardId] = checkpoint;
    return this.flush();
  }

  /** Forgets finished shards the stream no longer lists (they were trimmed). Saved with the next commit. */
  prune(listed: ReadonlySet<string>): void {
    for (const [id, c] of Object.entries(this.shards))
      if (c.finished && !listed.has(id)) delete this.shards[id];
  }

  /** Replaces the whole state (a backfill's recorded position) and saves it. */
  async reset(shards: Readonly<Record<string, ShardCheckpoint>>): Promise<void> {
    this.shards = { ...shards };
    await this.flush();
  }

  flush(): Promise<void> {
    // One save in flight; updates arriving meanwhile share the next save, whose snapshot is taken
    // only once the previous save has finished.
    if (this.pending) return this.pending;
    const previous = this.saving ?? Promise.resolve();
    const next: { promise?: Promise<void> } = {};
    next.promise = (async () => {
      await previous.catch(() => {});
      const clock = this.pacing.clock ?? REAL_CLOCK;
      const wait = this.lastSaveAt + (this.pacing.minIntervalMs ?? 0) - clock.now();
      if (wait > 0) await clock.sleep(wait);
      this.lastSaveAt = clock.now();
      if (this.pending === next.promise) this.pending = undefined;
      const current = this.store.save(this.snapshot());
      this.saving = current;
      try {
        await current;
        this.saves++;
      } finally {
        if (this.saving === current) this.saving = undefined;
      }
    })();
    this.pending = next.promise;
    return next.promise;
  }
}
