/**
 * A lease kept in an object store: one run at a time of something that spans processes (a native
 * export run: started by one Lambda invocation, finished by another hours later), with no server
 * but the store. It is the job folder's mechanism (jobs/job-folder.ts: create-only objects, the
 * highest one wins) applied to a lease:
 *
 *   <folder>/<generation>.json   {format, generation, run, since, expiresAt, released?}
 *
 * Taking the lease creates the next generation create-only (ObjectStore.create: an atomic link on
 * files, `If-None-Match: *` on S3), so of two runs racing for it exactly one creates it and the other
 * is refused with the winner named. The newest generation is the lease: it is held until it is
 * released (its owner rewrites it with `released`) or until `expiresAt` has passed (a crashed run),
 * after which the next run takes over by creating the generation after it; an owner whose lease
 * was taken over finds a newer generation and is told so (LeaseLostError) before it acts.
 * Older generations are removed (best effort) by the next owner.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { InvalidDataError, NotFoundError, ReplicatorError } from '../core/errors.js';
import { formatStoreLocation, joinKey, type ObjectStore } from './object-store.js';

export const LEASE_FORMAT = 'dynamodb-replicator/lease';

/** One generation of a lease, as stored. */
export interface LeaseRecord {
  readonly format: typeof LEASE_FORMAT;
  readonly generation: number;
  /** Who holds it: a run id (an execution name, or host:pid:random for a process). */
  readonly run: string;
  /** Epoch ms: when it was taken. */
  readonly since: number;
  /** Epoch ms: after this a run that did not release it is taken to have crashed. */
  readonly expiresAt: number;
  /** Epoch ms: when its owner gave it up. */
  readonly released?: number;
}

/** A lease this run holds: where it is and which generation is ours. */
export interface HeldLease {
  readonly folder: string;
  readonly generation: number;
  readonly run: string;
  readonly since: number;
  readonly expiresAt: number;
}

/** Another run holds the lease (exit 2). `holder` says who and since when. */
export class LeaseHeldError extends ReplicatorError {
  constructor(
    message: string,
    readonly holder: LeaseRecord,
  ) {
    super(message);
  }
}

/** This run's lease was taken over or is gone: it must not act on what it guarded. */
export class LeaseLostError extends ReplicatorError {}

/** A run's identity when it has none of its own: host, pid and a random part. */
export function newRunId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

const GENERATION = /^(\d{10})\.json$/;

function generationKey(folder: string, generation: number): string {
  return joinKey(folder, `${String(generation).padStart(10, '0')}.json`);
}

function parseRecord(bytes: Buffer, where: string, generation: number): LeaseRecord {
  let v: Partial<LeaseRecord> | undefined;
  try {
    v = JSON.parse(bytes.toString('utf8')) as Partial<LeaseRecord>;
  } catch {
    v = undefined;
  }
  if (
    v?.format !== LEASE_FORMAT ||
    v.generation !== generation ||
    typeof v.run !== 'string' ||
    typeof v.since !== 'number' ||
    typeof v.expiresAt !== 'number' ||
    (v.released !== undefined && typeof v.released !== 'number')
  )
    throw new InvalidDataError(`${where} is not a ${LEASE_FORMAT} record`);
  return v as LeaseRecord;
}

/** The generations present in the lease folder, ascending. */
async function generations(store: ObjectStore, folder: string): Promise<number[]> {
  const found: number[] = [];
  for await (const info of store.list(folder)) {
    const m = GENERATION.exec(info.key.slice(info.key.lastIndexOf('/') + 1));
    if (m) found.push(Number(m[1]));
  }
  return found.sort((a, b) => a - b);
}

async function readGeneration(
  store: ObjectStore,
  folder: string,
  generation: number,
): Promise<LeaseRecord | undefined> {
  const key = generationKey(folder, generation);
  try {
    return parseRecord(await store.get(key), `${formatStoreLocation(store.location)}/${key}`, generation);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** The newest generation of the lease, or undefined when it was never taken. */
export async function currentLease(store: ObjectStore, folder: string): Promise<LeaseRecord | undefined> {
  const all = await generations(store, folder);
  const newest = all.at(-1);
  return newest === undefined ? undefined : readGeneration(store, folder, newest);
}

/** True while a lease generation keeps others out: not released and not expired at `now`. */
export function leaseLive(record: LeaseRecord, now: number): boolean {
  return record.released === undefined && record.expiresAt > now;
}

/** How a refused run is told who holds the lease. */
export function describeHolder(record: LeaseRecord): string {
  return `run ${record.run} in progress since ${new Date(record.since).toISOString()}`;
}

export interface TakeLeaseOptions {
  readonly run: string;
  /** How long the lease lasts if never released. */
  readonly ttlMs: number;
  readonly now?: () => number;
}

/**
 * Takes the lease in `folder` for `run`: LeaseHeldError when another run holds it (live), or when
 * another run took it in the same instant. An expired or released lease is taken over.
 */
export async function takeLease(
  store: ObjectStore,
  folder: string,
  options: TakeLeaseOptions,
): Promise<HeldLease> {
  const now = (options.now ?? Date.now)();
  const newest = await currentLease(store, folder);
  if (newest && leaseLive(newest, now) && newest.run !== options.run)
    throw new LeaseHeldError(`skipped: ${describeHolder(newest)}`, newest);
  const generation = (newest?.generation ?? 0) + 1;
  const record: LeaseRecord = {
    format: LEASE_FORMAT,
    generation,
    run: options.run,
    since: now,
    expiresAt: now + options.ttlMs,
  };
  if (!(await store.create(generationKey(folder, generation), JSON.stringify(record) + '\n'))) {
    const winner = await readGeneration(store, folder, generation);
    if (winner) throw new LeaseHeldError(`skipped: ${describeHolder(winner)}`, winner);
    throw new LeaseHeldError(`skipped: another run took the lease ${folder} at the same moment`, record);
  }
  // The generations before the previous one are history: remove them (best effort).
  for (const old of (await generations(store, folder)).filter((g) => g < generation - 1))
    await store.delete(generationKey(folder, old)).catch(() => undefined);
  return { folder, generation, run: options.run, since: now, expiresAt: record.expiresAt };
}

/**
 * LeaseLostError unless `lease` is still the newest generation, unreleased and unexpired at `now`:
 * called before acting on what the lease guards.
 */
export async function assertLeaseHeld(
  store: ObjectStore,
  lease: HeldLease,
  now: number = Date.now(),
): Promise<void> {
  const newest = await currentLease(store, lease.folder);
  const where = `${formatStoreLocation(store.location)}/${lease.folder}`;
  if (!newest || newest.generation < lease.generation)
    throw new LeaseLostError(`run ${lease.run} no longer holds the lease ${where}: it is gone`);
  if (newest.generation > lease.generation)
    throw new LeaseLostError(
      `run ${lease.run} no longer holds the lease ${where}: its lease expired and ${describeHolder(newest)} took it over`,
    );
  if (newest.run !== lease.run || newest.released !== undefined || newest.expiresAt <= now)
    throw new LeaseLostError(
      `run ${lease.run} no longer holds the lease ${where}: it was ${newest.released !== undefined ? 'released' : `expired at ${new Date(newest.expiresAt).toISOString()}`}`,
    );
}

/**
 * Gives the lease up, if this run still holds it (a lease taken over is left alone). True when
 * this call released it.
 */
export async function releaseLease(
  store: ObjectStore,
  lease: HeldLease,
  now: number = Date.now(),
): Promise<boolean> {
  const record = await readGeneration(store, lease.folder, lease.generation);
  if (!record || record.run !== lease.run || record.released !== undefined) return false;
  const newer = (await generations(store, lease.folder)).some((g) => g > lease.generation);
  if (newer) return false;
  const released: LeaseRecord = { ...record, released: now };
  await store.put(generationKey(lease.folder, lease.generation), JSON.stringify(released) + '\n', {
    contentType: 'application/json',
  });
  return true;
}

/** A held lease passed through JSON (a state machine's state): checked, or InvalidDataError. */
export function parseHeldLease(value: unknown, where: string): HeldLease {
  const v = value as Partial<HeldLease> | null;
  if (
    !v ||
    typeof v !== 'object' ||
    typeof v.folder !== 'string' ||
    typeof v.run !== 'string' ||
    typeof v.generation !== 'number' ||
    !Number.isSafeInteger(v.generation) ||
    v.generation < 1 ||
    typeof v.since !== 'number' ||
    typeof v.expiresAt !== 'number'
  )
    throw new InvalidDataError(`${where}: not a lease ({folder, generation, run, since, expiresAt})`);
  return { folder: v.folder, generation: v.generation, run: v.run, since: v.since, expiresAt: v.expiresAt };
}
