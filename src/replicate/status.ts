/**
 * The status page's model: what a runner is doing now and a per-second history of its lag and
 * record rate over the last 15 minutes. Pure (no timers, no I/O): the shell feeds it the runner's
 * events and batches and calls `tick` once a second; memory is bounded by the ring's capacity and
 * the per-second sample cap.
 */
import type { Change } from '../core/change.js';
import type { BackupCoverage } from '../backup/coverage.js';
import { redactUrls } from '../core/redact.js';
import { nearestRank } from './lag.js';
import type { ReplicateTableEvent } from './replicate-table.js';
import type { BatchEvent, RunnerStats } from './runner.js';

export const STATUS_FORMAT = 'dynamodb-replicator/status';
/** 15 minutes of one-second samples. */
export const HISTORY_SECONDS = 900;
/** Lag samples kept for one second's percentiles; beyond it, a uniform sample of them. */
const MAX_LAGS_PER_SECOND = 10_000;
const MAX_GAPS = 50;

export type RunnerState = 'starting' | 'waiting-for-lease' | 'backfilling' | 'running' | 'stopped' | 'failed';

/** One second: end-to-end lag percentiles (ms) and records applied per second. */
export interface StatusSample {
  /** Epoch seconds. */
  readonly t: number;
  readonly lagP50: number | null;
  readonly lagP99: number | null;
  readonly recordsPerSecond: number;
}

export interface ShardStatus {
  readonly shardId: string;
  readonly parentShardId?: string;
  readonly state: 'waiting' | 'reading' | 'finished';
  readonly records: number;
  /** The sequence number of the last record applied (the checkpointed position). */
  readonly position?: string;
  /** Age of the newest applied record while records wait; 0 once caught up. */
  readonly ageMs?: number;
  readonly caughtUp: boolean;
}

export interface StatusGap {
  /** Epoch ms when the runner met it. */
  readonly at: number;
  readonly message: string;
  /** Recorded in the change log: changes from this time (epoch ms) on may be missing from it. */
  readonly lossFrom?: number;
}

/** `/status.json`. Optional parts are absent, not null, when they do not apply. */
export interface ReplicationStatus {
  readonly format: typeof STATUS_FORMAT;
  readonly version: 1;
  /** Epoch ms. */
  readonly generatedAt: number;
  readonly state: RunnerState;
  readonly error?: string;
  readonly source: { readonly label: string; readonly streamArn?: string };
  /** Replica labels; lag is until a change is durable on every one of them. Empty: backup only. */
  readonly replicas: readonly string[];
  /** The runner's figures (as on /metrics) and the record rate of the last second. */
  readonly totals?: Omit<RunnerStats, 'streamArn' | 'shards'> & { readonly recordsPerSecond: number };
  readonly shards: readonly ShardStatus[];
  /** Columns of the samples, oldest first (the chart's series). */
  readonly history: {
    readonly t: readonly number[];
    readonly lagP50: readonly (number | null)[];
    readonly lagP99: readonly (number | null)[];
    readonly recordsPerSecond: readonly number[];
  };
  readonly gaps: readonly StatusGap[];
  /** When the checkpoint count last moved (to the second), and the count then. */
  readonly lastCheckpoint?: { readonly at: number; readonly count: number };
  /** Group (multi-active) mode only: write conflicts resolved so far. */
  readonly conflicts?: number;
  /** The change log's coverage, when the runner keeps one (refreshed by the shell). */
  readonly backup?: BackupCoverage | { readonly error: string };
}

/** A fixed-capacity ring of samples: the oldest is overwritten once full. */
export class SampleRing<T> {
  private readonly items: T[] = [];
  private next = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('capacity must be at least 1');
  }

  push(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  toArray(): T[] {
    return this.items.length < this.capacity
      ? [...this.items]
      : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }

  get size(): number {
    return this.items.length;
  }
}

export interface StatusTrackerOptions {
  readonly source: string;
  readonly replicas: readonly string[];
  /** When a change was made, for the lag samples (default: its approximate creation time). */
  readonly origin?: (change: Change) => number | undefined;
  /** Samples kept (default HISTORY_SECONDS). */
  readonly capacity?: number;
  /** Used only once more than MAX_LAGS_PER_SECOND lags arrive in one second (default Math.random). */
  readonly random?: () => number;
}

/** Folds a runner's events, batches and figures into a ReplicationStatus. */
export class StatusTracker {
  private readonly ring: SampleRing<StatusSample>;
  private readonly origin: (change: Change) => number | undefined;
  private readonly random: () => number;
  private runner: { stats(): RunnerStats } | undefined;
  private state: RunnerState = 'starting';
  private error: string | undefined;
  private lags: number[] = [];
  private lagsSeen = 0;
  private previous: { records: number; at: number } | undefined;
  private rate = 0;
  private checkpoint: { at: number; count: number } | undefined;
  private checkpointCount = 0;
  private readonly gaps: StatusGap[] = [];
  private conflicts: number | undefined;
  private backup: BackupCoverage | { error: string } | undefined;

  constructor(private readonly options: StatusTrackerOptions) {
    this.ring = new SampleRing(options.capacity ?? HISTORY_SECONDS);
    this.origin = options.origin ?? ((change) => change.approximateCreationTime);
    this.random = options.random ?? Math.random;
  }

  /** A stream runner started (again after a resync: its counters start from 0). */
  /**
   * `now`: when the runner starts, so the records it applies before the first tick count in that
   * tick's rate (a busy machine may apply a whole burst before it); without it, the first tick only
   * sets the rate's starting point.
   */
  attach(runner: { stats(): RunnerStats }, now?: number): void {
    this.runner = runner;
    this.previous = now === undefined ? undefined : { records: runner.stats().records, at: now };
    this.checkpointCount = 0;
    if (this.state !== 'stopped' && this.state !== 'failed') this.state = 'running';
  }

  /** The end-to-end lag of every change of a durably applied batch. */
  onBatch(event: BatchEvent): void {
    for (const change of event.changes) {
      const t = this.origin(change);
      if (t === undefined) continue;
      const lag = Math.max(0, event.appliedAt - t);
      this.lagsSeen++;
      if (this.lags.length < MAX_LAGS_PER_SECOND) this.lags.push(lag);
      else {
        const i = Math.floor(this.random() * this.lagsSeen);
        if (i < MAX_LAGS_PER_SECOND) this.lags[i] = lag;
      }
    }
  }

  onEvent(event: ReplicateTableEvent, now: number): void {
    switch (event.event) {
      case 'lease-wait':
        this.state = 'waiting-for-lease';
        break;
      case 'backfill-start':
        this.state = 'backfilling';
        break;
      case 'gap':
        this.addGap({ at: now, message: redactUrls(event.message) });
        break;
      case 'backup-gap':
        this.addGap({
          at: event.detectedAt,
          message: 'changes may be missing from the change log',
          lossFrom: event.lossFrom,
        });
        break;
      case 'stopped':
        this.state = 'stopped';
        break;
    }
  }

  /** The runner ended: `error` undefined for a clean stop. */
  finish(error?: unknown): void {
    if (error === undefined) {
      this.state = 'stopped';
      return;
    }
    this.state = 'failed';
    // Messages may quote an endpoint: credentials in URLs are redacted, as in the printed events.
    this.error = redactUrls(error instanceof Error ? error.message : String(error));
  }

  /** Group mode's hook: the conflicts count shown beside the lag (absent otherwise). */
  setConflicts(count: number): void {
    this.conflicts = count;
  }

  setBackup(coverage: BackupCoverage | { error: string }): void {
    this.backup = coverage;
  }

  /** Closes one second: a sample from the batches since the previous tick and the runner's figures. */
  tick(now: number): void {
    const stats = this.runner?.stats();
    if (!stats) return;
    const previous = this.previous;
    this.rate =
      previous && now > previous.at && stats.records >= previous.records
        ? ((stats.records - previous.records) * 1000) / (now - previous.at)
        : 0;
    this.previous = { records: stats.records, at: now };
    if (stats.checkpoints !== this.checkpointCount) {
      this.checkpointCount = stats.checkpoints;
      this.checkpoint = { at: now, count: stats.checkpoints };
    }
    const sorted = this.lags.sort((a, b) => a - b);
    // A second without applied records shows the runner's lag gauge: 0 when caught up, growing while stuck.
    const gauge = stats.lagMs ?? null;
    this.ring.push({
      t: Math.floor(now / 1000),
      lagP50: sorted.length ? nearestRank(sorted, 0.5) : gauge,
      lagP99: sorted.length ? nearestRank(sorted, 0.99) : gauge,
      recordsPerSecond: Math.round(this.rate * 10) / 10,
    });
    this.lags = [];
    this.lagsSeen = 0;
  }

  /** Liveness: the runner loop is alive (not stopped, not failed). */
  get alive(): boolean {
    return this.state !== 'stopped' && this.state !== 'failed';
  }

  get current(): { stats(): RunnerStats } | undefined {
    return this.runner;
  }

  snapshot(now: number): ReplicationStatus {
    const stats = this.runner?.stats();
    const samples = this.ring.toArray();
    return {
      format: STATUS_FORMAT,
      version: 1,
      generatedAt: now,
      state: this.state,
      ...(this.error !== undefined ? { error: this.error } : {}),
      source: { label: this.options.source, ...(stats ? { streamArn: stats.streamArn } : {}) },
      replicas: [...this.options.replicas],
      ...(stats ? { totals: totalsOf(stats, this.rate) } : {}),
      shards: (stats?.shards ?? []).map((s) => ({
        shardId: s.shardId,
        ...(s.parentShardId ? { parentShardId: s.parentShardId } : {}),
        state: s.state,
        records: s.records,
        ...(s.lastSequenceNumber ? { position: s.lastSequenceNumber } : {}),
        ...(s.lagMs !== undefined ? { ageMs: s.lagMs } : {}),
        caughtUp: s.caughtUp,
      })),
      history: {
        t: samples.map((s) => s.t),
        lagP50: samples.map((s) => s.lagP50),
        lagP99: samples.map((s) => s.lagP99),
        recordsPerSecond: samples.map((s) => s.recordsPerSecond),
      },
      gaps: [...this.gaps],
      ...(this.checkpoint ? { lastCheckpoint: { ...this.checkpoint } } : {}),
      ...(this.conflicts !== undefined ? { conflicts: this.conflicts } : {}),
      ...(this.backup ? { backup: this.backup } : {}),
    };
  }

  private addGap(gap: StatusGap): void {
    this.gaps.push(gap);
    if (this.gaps.length > MAX_GAPS) this.gaps.shift();
  }
}

function totalsOf(stats: RunnerStats, rate: number): NonNullable<ReplicationStatus['totals']> {
  const { streamArn: _arn, shards: _shards, ...totals } = stats;
  return { ...totals, recordsPerSecond: Math.round(rate * 10) / 10 };
}
