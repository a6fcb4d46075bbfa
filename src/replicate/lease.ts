/**
 * One owner per checkpoint. A runner holds its checkpoint under a lease for as long as it applies
 * changes; a second runner on the same checkpoint is refused (CheckpointLeaseHeldError naming the
 * holder) or waits as a standby, and an owner that lost its lease applies and saves nothing more.
 *
 * - File checkpoints: a lock file next to the checkpoint (`<file>.lock`), created atomically (written
 *   aside, then hard-linked into place, which fails if it exists) and holding the owner's pid, host,
 *   process start time and since when. It is held as long as that process lives: a lock whose
 *   process is gone from this host (killed, crashed; a reused pid is told apart by its start time)
 *   is stale and broken by the next runner. The owner checks every second that the lock file is
 *   still its own, and every save checks it first.
 * - DynamoDB checkpoints: lease attributes on the checkpoint item, taken and renewed with
 *   conditional writes: owner, expiry, and a fencing token raised by every new owner. Every save is
 *   conditional on the token still being the owner's, and before each write to a replica the owner
 *   checks its lease against its own monotonic clock, with a safety margin, so an owner that was
 *   paused or cut off past its expiry writes nothing more.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../storage/local-files.js';
import path from 'node:path';
import {
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { sleep } from '../core/backoff.js';
import { isConditionalCheckFailed } from '../dynamodb/sdk-errors.js';
import { ReplicatorError, UsageError } from '../core/errors.js';
import type { CheckpointState, CheckpointStore } from './checkpoint.js';

/** Another runner holds the checkpoint (exit 2). The message names the holder and the checkpoint. */
export class CheckpointLeaseHeldError extends ReplicatorError {}

/** This runner's lease was taken over, expired or released: it stops and applies nothing more. */
export class CheckpointLeaseLostError extends ReplicatorError {}

export interface LeaseRequest {
  /** Wait as a standby until the holder releases the lease (or it expires, or its process dies). */
  readonly wait?: boolean;
  /** Stops waiting: the acquisition rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Called when the acquisition starts waiting, and again whenever the holder changes. */
  readonly onWait?: (holder: string) => void;
}

export interface CheckpointLease {
  /** The checkpoint store with every save fenced by this lease (CheckpointLeaseLostError once lost). */
  readonly store: CheckpointStore;
  /** Who holds it, as other runners are told: pid, host and since when. */
  readonly holder: string;
  /** Aborted, with a CheckpointLeaseLostError as reason, once the lease is known to be lost. */
  readonly signal: AbortSignal;
  /**
   * Returns (synchronously when nothing needs renewing) while the lease is valid for longer than its
   * safety margin; throws CheckpointLeaseLostError otherwise. Called before every write to a replica.
   */
  check(): void | Promise<void>;
  /** Gives the lease up (a standby takes over at once). Later saves fail. */
  release(): Promise<void>;
}

interface Holder {
  readonly pid: number;
  readonly host: string;
  /** ISO time the lease was taken. */
  readonly since: string;
}

function holderText(h: Holder): string {
  return `pid ${h.pid} on host ${h.host} since ${h.since}`;
}

function thisHolder(): Holder {
  return { pid: process.pid, host: hostname(), since: new Date().toISOString() };
}

const WAIT_HINT = 'Stop that runner first, or pass --wait-for-lease to take over when its lease ends.';

/** The lost/released state and the fenced store every lease shares. */
abstract class LeaseBase implements CheckpointLease {
  private readonly lostController = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  protected released = false;
  readonly store: CheckpointStore;

  constructor(
    protected readonly base: CheckpointStore,
    readonly holder: string,
  ) {
    this.store = {
      description: base.description,
      load: () => base.load(),
      save: async (state) => {
        this.assertUsable();
        await this.fencedSave(state);
      },
    };
  }

  get signal(): AbortSignal {
    return this.lostController.signal;
  }

  protected abstract fencedSave(state: CheckpointState): Promise<void>;
  abstract check(): void | Promise<void>;
  /** Gives up the lease where it is kept (called once, if it was not lost). */
  protected abstract giveUp(): Promise<void>;

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopTimer();
    if (!this.signal.aborted) await this.giveUp();
  }

  /** Runs `tick` every `ms` while the lease is held (the timer does not keep the process alive). */
  protected every(ms: number, tick: () => void): void {
    this.timer = setInterval(tick, ms);
    this.timer.unref();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  protected assertUsable(): void {
    if (this.signal.aborted) throw this.signal.reason as Error;
    if (this.released)
      throw new CheckpointLeaseLostError(`The lease on the checkpoint ${this.base.description} was released`);
  }

  /** Marks the lease lost (once) and returns the error to throw. */
  protected lose(message: string): CheckpointLeaseLostError {
    if (!this.signal.aborted) {
      this.stopTimer();
      this.lostController.abort(
        new CheckpointLeaseLostError(
          `${message} This runner stopped and applies nothing more to the replicas.`,
        ),
      );
    }
    return this.signal.reason as CheckpointLeaseLostError;
  }
}

// ---------------------------------------------------------------------------------------------
// File checkpoints: a lock file.

export interface FileLeaseOptions {
  /** How often the owner checks that the lock file is still its own (ms). Default 1,000. */
  readonly verifyMs?: number;
  /** How often a standby looks at the lock again (ms). Default 500. */
  readonly pollMs?: number;
}

interface LockInfo extends Holder {
  /** The process's start time as the kernel gives it (Linux), to tell a reused pid apart. */
  readonly pidStart?: string;
  /** Unique per acquisition: tells this lock from a later one of the same process. */
  readonly nonce: string;
}

type LockRead = { readonly info: LockInfo } | { readonly invalid: string } | undefined;

async function readLock(file: string): Promise<LockRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const v = JSON.parse(text) as Partial<LockInfo> | null;
    if (v && typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.nonce === 'string')
      return { info: v as LockInfo };
  } catch {
    // reported below
  }
  return { invalid: text.slice(0, 200) };
}

/** Linux: the process's state letter and start time (clock ticks since boot), or undefined elsewhere. */
async function procStat(pid: number): Promise<{ state: string; start: string } | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: fields resume after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const start = fields[19];
    return state && start ? { state, start } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote `lock` is certainly gone (only knowable on the same host). */
async function lockIsStale(lock: LockInfo): Promise<boolean> {
  if (lock.host !== hostname()) return false;
  try {
    process.kill(lock.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const stat = await procStat(lock.pid);
  if (!stat) return false;
  if (stat.state === 'Z' || stat.state === 'X') return true; // killed, not yet reaped
  return lock.pidStart !== undefined && stat.start !== lock.pidStart; // the pid was reused
}

/**
 * Exclusive lock `<file>.lock` for a checkpoint file; see the module comment. Breaking a stale lock
 * moves it aside first and checks it is still the stale one, so two runners breaking the same stale
 * lock at once cannot both end up holding a new one.
 */
export class FileLease extends LeaseBase {
  private constructor(
    base: CheckpointStore,
    private readonly lockFile: string,
    private readonly info: LockInfo,
    verifyMs: number,
  ) {
    super(base, holderText(info));
    this.every(verifyMs, () => void this.verify().catch(() => {}));
  }

  static async acquire(
    base: CheckpointStore,
    checkpointFile: string,
    request: LeaseRequest = {},
    options: FileLeaseOptions = {},
  ): Promise<FileLease> {
    const lockFile = `${checkpointFile}.lock`;
    await mkdir(path.dirname(path.resolve(lockFile)), { recursive: true, mode: PRIVATE_DIR_MODE });
    const stat = await procStat(process.pid);
    const info: LockInfo = {
      ...thisHolder(),
      ...(stat ? { pidStart: stat.start } : {}),
      nonce: randomUUID(),
    };
    const aside = `${lockFile}.${process.pid}.${info.nonce.slice(0, 8)}.tmp`;
    await writeFile(aside, JSON.stringify(info) + '\n', { mode: PRIVATE_FILE_MODE });
    let waitingFor: string | undefined;
    try {
      for (;;) {
        request.signal?.throwIfAborted();
        if (await createLock(aside, lockFile, info)) break;
        const current = await readLock(lockFile);
        if (current === undefined) continue; // released meanwhile
        if ('invalid' in current && current.invalid === '') {
          await sleep(50, request.signal); // created without hard links, not written yet
          continue;
        }
        if ('invalid' in current)
          throw new CheckpointLeaseHeldError(
            `The lock file ${lockFile} of the checkpoint file ${checkpointFile} is not a dynamodb-replicator lock ` +
              `(${JSON.stringify(current.invalid)}); delete it if no runner uses this checkpoint.`,
          );
        if (await lockIsStale(current.info)) {
          await breakStaleLock(lockFile, current.info);
          continue;
        }
        const holder = holderText(current.info);
        if (!request.wait)
          throw new CheckpointLeaseHeldError(
            `The checkpoint file ${checkpointFile} is held by ${holder} (lock file ${lockFile}): another ` +
              `runner is following this stream. ${WAIT_HINT}` +
              (current.info.host === hostname()
                ? ''
                : ` The lock is from another host; if that runner is gone, delete the lock file.`),
          );
        if (holder !== waitingFor) request.onWait?.(holder);
        waitingFor = holder;
        await sleep(options.pollMs ?? 500, request.signal);
      }
    } finally {
      await unlink(aside).catch(() => {});
    }
    return new FileLease(base, lockFile, info, options.verifyMs ?? 1_000);
  }

  check(): void {
    this.assertUsable();
  }

  /** Loses the lease if the lock file is no longer this lease's (deleted, or broken by another runner). */
  private async verify(): Promise<void> {
    if (this.signal.aborted || this.released) return;
    const current = await readLock(this.lockFile);
    if (current && 'info' in current && current.info.nonce === this.info.nonce) return;
    if (this.released) return;
    const now = current && 'info' in current ? `; it is now held by ${holderText(current.info)}` : '';
    throw this.lose(
      `The lock file ${this.lockFile} of this runner's checkpoint was removed or replaced${now}.`,
    );
  }

  protected async fencedSave(state: CheckpointState): Promise<void> {
    await this.verify();
    await this.base.save(state);
  }

  protected async giveUp(): Promise<void> {
    const current = await readLock(this.lockFile).catch(() => undefined);
    if (current && 'info' in current && current.info.nonce === this.info.nonce)
      await unlink(this.lockFile).catch(() => {});
  }
}

const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Creates the lock file, or returns false if one exists. A hard link of the file written aside is
 * atomic and never shows a half-written lock; on filesystems without hard links, an exclusive create.
 */
async function createLock(aside: string, lockFile: string, info: LockInfo): Promise<boolean> {
  try {
    await link(aside, lockFile);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_HARD_LINKS.has(code)) throw error;
  }
  try {
    await writeFile(lockFile, JSON.stringify(info) + '\n', { flag: 'wx', mode: PRIVATE_FILE_MODE });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

async function breakStaleLock(lockFile: string, stale: LockInfo): Promise<void> {
  const aside = `${lockFile}.${process.pid}.${randomUUID().slice(0, 8)}.stale`;
  try {
    await rename(lockFile, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = await readLock(aside);
  if (!(moved && 'info' in moved && moved.info.nonce === stale.nonce)) {
    // Another runner broke the stale lock and took a new one in between: put that one back.
    await link(aside, lockFile).catch(() => {});
  }
  await unlink(aside).catch(() => {});
}

// ---------------------------------------------------------------------------------------------
// DynamoDB checkpoints: a lease with heartbeat and fencing token on the checkpoint item.

export interface DynamoLeaseOptions {
  /** How long a lease lasts without renewal (ms). Default 20,000. */
  readonly durationMs?: number;
  /** How often the owner renews it (ms). Default a quarter of the duration. */
  readonly heartbeatMs?: number;
  /**
   * The owner writes to replicas only while its lease has more than this left by its own clock (ms),
   * renewing first when needed. It covers the time one write takes and the difference between the
   * machines' clocks. Default a quarter of the duration.
   */
  readonly marginMs?: number;
  /** How often a standby reads the lease again (ms). Default 1,000. */
  readonly pollMs?: number;
  /** Wall clock (epoch ms) for the expiry written to and read from the table. Default Date.now. */
  readonly clock?: () => number;
}

export const DEFAULT_LEASE_DURATION_MS = 20_000;

interface LeaseTimings {
  readonly durationMs: number;
  readonly heartbeatMs: number;
  readonly marginMs: number;
  readonly pollMs: number;
  readonly clock: () => number;
}

function leaseTimings(o: DynamoLeaseOptions): LeaseTimings {
  const durationMs = o.durationMs ?? DEFAULT_LEASE_DURATION_MS;
  const t = {
    durationMs,
    heartbeatMs: o.heartbeatMs ?? durationMs / 4,
    marginMs: o.marginMs ?? durationMs / 4,
    pollMs: o.pollMs ?? 1_000,
    clock: o.clock ?? Date.now,
  };
  if (!(t.durationMs > 0 && t.heartbeatMs > 0 && t.marginMs >= 0 && t.pollMs > 0))
    throw new UsageError('Lease timings must be positive durations');
  if (t.heartbeatMs + t.marginMs >= t.durationMs)
    throw new UsageError(
      `The lease heartbeat (${t.heartbeatMs} ms) plus its safety margin (${t.marginMs} ms) must be shorter than the lease (${t.durationMs} ms)`,
    );
  return t;
}

/** Where a DynamoDB checkpoint lives, and how its state attributes are written. */
export interface DynamoLeaseTarget {
  readonly client: DynamoDBClient;
  readonly table: string;
  readonly id: string;
  /** The SET part and values that write a state (shared with the store's unfenced save). */
  readonly stateUpdate: (state: CheckpointState) => {
    readonly set: string;
    readonly names: Record<string, string>;
    readonly values: Record<string, AttributeValue>;
  };
  /**
   * Runs one SDK call on the checkpoint table with its failure translated by the data layer (a
   * refused conditional write stays recognisable: isConditionalCheckFailed).
   */
  readonly call: <T>(action: string, fn: () => Promise<T>) => Promise<T>;
}

const n = (value: number): AttributeValue => ({ N: String(value) });

/** Lease attributes of the checkpoint item: leaseOwner, leaseHolder, leaseToken, leaseExpires. */
export class DynamoLease extends LeaseBase {
  private renewing: Promise<void> | undefined;
  private lastError: unknown;

  private constructor(
    base: CheckpointStore,
    private readonly target: DynamoLeaseTarget,
    private readonly t: LeaseTimings,
    private readonly owner: string,
    holder: string,
    /** The fencing token: every new owner raises it; every save and renewal is conditional on it. */
    readonly token: number,
    /** performance.now() when the lease ends, measured from when the write that set it was sent. */
    private localExpiry: number,
  ) {
    super(base, holder);
    this.every(t.heartbeatMs, () => this.heartbeat());
  }

  static async acquire(
    base: CheckpointStore,
    target: DynamoLeaseTarget,
    request: LeaseRequest = {},
    options: DynamoLeaseOptions = {},
  ): Promise<DynamoLease> {
    const t = leaseTimings(options);
    const { client, table, id } = target;
    const owner = randomUUID();
    let waitingFor: string | undefined;
    for (;;) {
      request.signal?.throwIfAborted();
      const { Item: item } = await target.call('GetItem', () =>
        client.send(new GetItemCommand({ TableName: table, Key: { id: { S: id } }, ConsistentRead: true })),
      );
      const seenToken = item?.leaseToken?.N;
      const seenExpires = item?.leaseExpires?.N;
      const heldBy =
        item?.leaseOwner?.S !== undefined ? (item.leaseHolder?.S ?? item.leaseOwner.S) : undefined;
      const now = t.clock();
      if (heldBy !== undefined && Number(seenExpires ?? 0) > now) {
        if (!request.wait)
          throw new CheckpointLeaseHeldError(
            `The checkpoint ${base.description} is held by ${heldBy} (lease token ${seenToken}, ` +
              `renewed until ${new Date(Number(seenExpires)).toISOString()}): another runner is following ` +
              `this stream. ${WAIT_HINT}`,
          );
        if (heldBy !== waitingFor) request.onWait?.(heldBy);
        waitingFor = heldBy;
        await sleep(Math.min(t.pollMs, Number(seenExpires) - now + 10), request.signal);
        continue;
      }
      // Free, released or expired: take it over, unless someone else changed it since it was read.
      const token = Number(seenToken ?? 0) + 1;
      const holder = holderText(thisHolder());
      const sent = performance.now();
      const conditions = [
        seenToken === undefined ? 'attribute_not_exists(leaseToken)' : 'leaseToken = :seenToken',
        seenExpires === undefined ? 'attribute_not_exists(leaseExpires)' : 'leaseExpires = :seenExpires',
      ];
      try {
        await target.call('UpdateItem', () =>
          client.send(
            new UpdateItemCommand({
              TableName: table,
              Key: { id: { S: id } },
              UpdateExpression:
                'SET leaseOwner = :owner, leaseHolder = :holder, leaseToken = :token, leaseExpires = :expires',
              ConditionExpression: conditions.join(' AND '),
              ExpressionAttributeValues: {
                ':owner': { S: owner },
                ':holder': { S: holder },
                ':token': n(token),
                ':expires': n(t.clock() + t.durationMs),
                ...(seenToken !== undefined ? { ':seenToken': { N: seenToken } } : {}),
                ...(seenExpires !== undefined ? { ':seenExpires': { N: seenExpires } } : {}),
              },
            }),
          ),
        );
      } catch (error) {
        if (isConditionalCheckFailed(error)) continue; // someone was quicker: look again
        throw error;
      }
      return new DynamoLease(base, target, t, owner, holder, token, sent + t.durationMs);
    }
  }

  check(): void | Promise<void> {
    this.assertUsable();
    if (performance.now() < this.localExpiry - this.t.marginMs) return;
    return this.renewBeforeWriting();
  }

  /** Within the margin: nothing more is written until a renewal succeeds; lost once the lease ends. */
  private async renewBeforeWriting(): Promise<void> {
    for (;;) {
      this.assertUsable();
      const now = performance.now();
      if (now >= this.localExpiry) throw this.expired();
      if (now < this.localExpiry - this.t.marginMs) return;
      await this.renew();
      if (this.lastError) await sleep(Math.min(250, Math.max(0, this.localExpiry - performance.now())));
    }
  }

  private expired(): CheckpointLeaseLostError {
    const why = this.lastError
      ? ` (renewing it failed: ${this.lastError instanceof Error ? this.lastError.message : String(this.lastError)})`
      : ' (this runner was paused, or could not renew it in time)';
    return this.lose(
      `The lease on the checkpoint ${this.base.description} (token ${this.token}) expired${why}; another runner may own it now.`,
    );
  }

  private heartbeat(): void {
    if (this.signal.aborted || this.released) return;
    if (performance.now() >= this.localExpiry) {
      this.expired();
      return;
    }
    void this.renew();
  }

  /** Renews the lease if it is still ours (one renewal in flight); never rejects. */
  private renew(): Promise<void> {
    this.renewing ??= (async () => {
      const sent = performance.now();
      try {
        await this.updateIfOwner('SET leaseExpires = :expires', {
          ':expires': n(this.t.clock() + this.t.durationMs),
        });
        // A renewal sent after the lease had ended locally proves nothing for the time in between.
        if (sent < this.localExpiry) this.localExpiry = sent + this.t.durationMs;
        this.lastError = undefined;
      } catch (error) {
        if (isConditionalCheckFailed(error)) await this.takenOver().catch(() => {});
        else this.lastError = error;
      } finally {
        this.renewing = undefined;
      }
    })();
    return this.renewing;
  }

  /** The conditional write failed: name the new holder if it can be read. */
  private async takenOver(): Promise<never> {
    let now = '';
    try {
      const out = await this.target.call('GetItem', () =>
        this.target.client.send(
          new GetItemCommand({
            TableName: this.target.table,
            Key: { id: { S: this.target.id } },
            ConsistentRead: true,
          }),
        ),
      );
      const holder = out.Item?.leaseOwner ? (out.Item.leaseHolder?.S ?? out.Item.leaseOwner.S) : undefined;
      now = holder
        ? `; it is now held by ${holder} (token ${out.Item?.leaseToken?.N})`
        : '; it is now free (released by a later owner)';
    } catch {
      // the message goes without the new holder
    }
    throw this.lose(
      `The lease on the checkpoint ${this.base.description} (token ${this.token}) was taken over by another runner${now}.`,
    );
  }

  protected async fencedSave(state: CheckpointState): Promise<void> {
    const update = this.target.stateUpdate(state);
    try {
      await this.updateIfOwner(update.set, update.values, update.names);
    } catch (error) {
      if (isConditionalCheckFailed(error)) await this.takenOver();
      throw error;
    }
  }

  /** An update of the checkpoint item that fails (ConditionalCheckFailed) unless the lease is still ours. */
  private async updateIfOwner(
    expression: string,
    values: Record<string, AttributeValue>,
    names?: Record<string, string>,
  ): Promise<void> {
    await this.target.call('UpdateItem', () =>
      this.target.client.send(
        new UpdateItemCommand({
          TableName: this.target.table,
          Key: { id: { S: this.target.id } },
          UpdateExpression: expression,
          ConditionExpression: 'leaseOwner = :owner AND leaseToken = :token',
          ...(names ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: { ...values, ':owner': { S: this.owner }, ':token': n(this.token) },
        }),
      ),
    );
  }

  protected async giveUp(): Promise<void> {
    await this.renewing;
    try {
      await this.updateIfOwner('SET leaseExpires = :zero REMOVE leaseOwner, leaseHolder', { ':zero': n(0) });
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}
