/**
 * A scan job's folder in an object store, `<work>/<jobId>/`:
 *
 *   job.json                          the JobManifest (written once, create-only)
 *   segments/<s>/state-<slice>.json   committed states of segment s (create-only; the highest wins)
 *   segments/<s>/claim-<slice>.json   who is running slice `slice + 1` of segment s, until when
 *   segments/<s>/<kind outputs>       per-slice outputs a kind keeps here (diff report parts)
 *   result.json                       the merged result, once the merge ran
 *
 * Two runs of one segment never both commit: a slice's state is created only if absent
 * (ObjectStore.create: an atomic link on files, `If-None-Match: *` on S3), so of two runs that
 * started from the same state one commits and the other's work is dropped, unreferenced. The claim
 * keeps a second run from starting at all while the first one's lease lasts: a claim is honoured
 * until it expires, or (same host) until its process is gone, so a killed local worker's segment is
 * taken over at once while a Lambda's is taken over when its lease ends.
 */
import { hostname } from 'node:os';
import pLimit from 'p-limit';
import { InvalidDataError, NotFoundError, ReplicatorError, UsageError } from '../core/errors.js';
import {
  initialState,
  validateJobManifest,
  validateSegmentState,
  type JobManifest,
  type SegmentState,
} from '../core/scan-job.js';
import { newRunId } from '../storage/object-lease.js';
import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';

/** Another run holds or has just committed this segment's slice (retry later; exit 2 on the CLI). */
export class SegmentBusyError extends ReplicatorError {}

export const JOB_FILE = 'job.json';
export const RESULT_FILE = 'result.json';
const SEGMENTS = 'segments';
const STATE_READS = 16;
const STATE = /^segments\/(\d{6,})\/state-(\d{8})\.json$/;

export function segmentFolder(segment: number): string {
  return `${SEGMENTS}/${String(segment).padStart(6, '0')}`;
}

function stateKey(segment: number, slice: number): string {
  return `${segmentFolder(segment)}/state-${String(slice).padStart(8, '0')}.json`;
}

function claimKey(segment: number, slice: number): string {
  return `${segmentFolder(segment)}/claim-${String(slice).padStart(8, '0')}.json`;
}

/** Who runs a slice: shown to a refused second run; a claim of a dead process on this host is stale. */
export interface Claim {
  readonly owner: string;
  readonly host: string;
  readonly pid: number;
  /** Epoch ms after which the claim is void. */
  readonly expiresAt: number;
}

/** A run's identity: random per process run, with host and pid for staleness checks. */
export function newOwner(): Pick<Claim, 'owner' | 'host' | 'pid'> {
  return {
    owner: newRunId(),
    host: hostname(),
    pid: process.pid,
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseJson(bytes: Buffer, where: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (cause) {
    throw new InvalidDataError(`${where} is not valid JSON`, { cause });
  }
}

export class JobFolder {
  readonly label: string;

  constructor(readonly store: ObjectStore) {
    this.label = formatStoreLocation(store.location);
  }

  /** The job folder `<work>/<jobId>/` of a work store. */
  static of(work: ObjectStore, jobId: string): JobFolder {
    return new JobFolder(work.at(jobId));
  }

  /** Writes job.json if absent; returns the manifest the folder holds (ours, or the one already there). */
  async create(job: JobManifest): Promise<{ job: JobManifest; created: boolean }> {
    const created = await this.store.create(JOB_FILE, JSON.stringify(job) + '\n');
    return { job: created ? job : await this.read(), created };
  }

  /** job.json, validated; a folder without one is a NotFoundError (exit 2) naming the folder. */
  async read(): Promise<JobManifest> {
    const where = `${this.label}/${JOB_FILE}`;
    let bytes: Buffer;
    try {
      bytes = await this.store.get(JOB_FILE);
    } catch (error) {
      if (error instanceof NotFoundError)
        throw new NotFoundError(`${this.label} holds no scan job (no ${JOB_FILE})`, { cause: error });
      throw error;
    }
    const job = validateJobManifest(parseJson(bytes, where), where);
    const loc = this.store.location;
    const folderId = (loc.kind === 's3' ? loc.prefix : loc.directory).split(/[\\/]/).pop();
    if (folderId !== undefined && folderId !== job.jobId)
      throw new InvalidDataError(`${where} is job "${job.jobId}", not the job of folder "${folderId}"`);
    return job;
  }

  /** The latest committed state of one segment (the initial state when none is committed). */
  async state(job: JobManifest, segment: number): Promise<SegmentState> {
    for (let attempt = 0; ; attempt++) {
      let latest = 0;
      for await (const info of this.store.list(segmentFolder(segment))) {
        const m = STATE.exec(info.key);
        if (m && Number(m[1]) === segment) latest = Math.max(latest, Number(m[2]));
      }
      if (latest === 0) return initialState(job.jobId, segment);
      try {
        return await this.readState(job, segment, latest);
      } catch (error) {
        // The state listed was replaced (and removed) by a newer one meanwhile: list again.
        if (!(error instanceof NotFoundError) || attempt >= 3) throw error;
      }
    }
  }

  private async readState(job: JobManifest, segment: number, slice: number): Promise<SegmentState> {
    const key = stateKey(segment, slice);
    const where = `${this.label}/${key}`;
    const state = validateSegmentState(parseJson(await this.store.get(key), where), where, job, segment);
    if (state.slice !== slice) throw new InvalidDataError(`${where} says it is slice ${state.slice}`);
    return state;
  }

  /** Every segment's latest committed state, from one listing of the folder (what the merge reads). */
  async states(job: JobManifest): Promise<Map<number, SegmentState>> {
    const latest = new Map<number, number>();
    for await (const info of this.store.list(SEGMENTS)) {
      const m = STATE.exec(info.key);
      if (!m) continue;
      const segment = Number(m[1]);
      if (segment >= job.segments)
        throw new InvalidDataError(
          `${this.label}/${info.key}: segment ${segment} is not one of the job's ${job.segments}`,
        );
      latest.set(segment, Math.max(latest.get(segment) ?? 0, Number(m[2])));
    }
    const ordered = [...latest].sort((a, b) => a[0] - b[0]);
    // Independent small reads: 16 at a time (on S3 each is a round trip).
    const limit = pLimit(STATE_READS);
    const read = await Promise.all(
      ordered.map(([segment, slice]) => limit(() => this.readState(job, segment, slice))),
    );
    return new Map(read.map((state) => [state.segment, state]));
  }

  /**
   * Claims the slice after `state` for `leaseMs`. SegmentBusyError when another live run holds it;
   * an expired claim, or one of a process gone from this host, is taken over.
   */
  async claim(
    state: SegmentState,
    me: Pick<Claim, 'owner' | 'host' | 'pid'>,
    leaseMs: number,
    now: number,
  ): Promise<void> {
    const key = claimKey(state.segment, state.slice);
    const claim: Claim = { ...me, expiresAt: now + leaseMs };
    if (await this.store.create(key, JSON.stringify(claim) + '\n')) return;
    let held: Partial<Claim>;
    try {
      held = parseJson(await this.store.get(key), `${this.label}/${key}`) as Partial<Claim>;
    } catch (error) {
      if (error instanceof NotFoundError) return; // released meanwhile: the commit still decides
      throw error;
    }
    if (held.owner === me.owner) return;
    const live =
      typeof held.expiresAt === 'number' &&
      held.expiresAt > now &&
      !(held.host === me.host && typeof held.pid === 'number' && !processAlive(held.pid));
    if (live)
      throw new SegmentBusyError(
        `segment ${state.segment} of job ${state.jobId} is being run by ${String(held.owner)} until ${new Date(held.expiresAt as number).toISOString()}; try again later`,
      );
    // Stale: take over. The create-only commit still keeps two runs from both committing.
    await this.store.put(key, JSON.stringify(claim) + '\n');
  }

  /** Gives up a claim this run holds (after a failed slice), so a retry need not wait for it to expire. */
  async release(state: SegmentState, me: Pick<Claim, 'owner'>): Promise<void> {
    const key = claimKey(state.segment, state.slice);
    try {
      const held = JSON.parse((await this.store.get(key)).toString('utf8')) as Partial<Claim>;
      if (held.owner === me.owner) await this.store.delete(key);
    } catch {
      // Gone or unreadable: nothing of ours to give up.
    }
  }

  /**
   * Commits a slice's new state (create-only). SegmentBusyError when another run committed that
   * slice first: this run's outputs are then not referenced by any state. Older states and the
   * claim are removed after (best effort; readers always take the highest state).
   */
  async commit(next: SegmentState): Promise<void> {
    if (!(await this.store.create(stateKey(next.segment, next.slice), JSON.stringify(next) + '\n')))
      throw new SegmentBusyError(
        `slice ${next.slice} of segment ${next.segment} of job ${next.jobId} was committed by another run first; this run's work was dropped`,
      );
    const stale = [claimKey(next.segment, next.slice - 1)];
    if (next.slice > 1) stale.push(stateKey(next.segment, next.slice - 1));
    await Promise.all(stale.map((k) => this.store.delete(k).catch(() => undefined)));
  }

  async writeResult(result: unknown): Promise<void> {
    await this.store.put(RESULT_FILE, JSON.stringify(result) + '\n', { contentType: 'application/json' });
  }
}

/** UsageError (exit 2) when a job folder holds a different job than the one asked for. */
export function assertSameJob(
  found: JobManifest,
  wanted: Pick<JobManifest, 'kind' | 'params' | 'segments'>,
  label: string,
): void {
  const describe = (j: Pick<JobManifest, 'kind' | 'params' | 'segments'>) =>
    `${j.kind} ${JSON.stringify(j.params)} in ${j.segments} segments`;
  if (describe(found) !== describe(wanted))
    throw new UsageError(
      `${label} holds job ${found.jobId}: ${describe(found)}; this run asks for ${describe(wanted)}. Use another --jobid or --work location`,
    );
}
