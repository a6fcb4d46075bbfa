import type { Change } from '../core/change.js';
import type { BatchEvent } from './runner.js';

/**
 * End-to-end lag samples: the time a change became durable on every replica minus the time it was
 * made. DynamoDB Local truncates a record's ApproximateCreationDateTime to the minute (AWS to the
 * second), so measurements that need milliseconds carry the write time in the item itself.
 */
export class LagRecorder {
  private samples: number[] = [];

  constructor(private readonly origin: (change: Change) => number | undefined) {}

  /** Feed it the runner's `onBatch` events. */
  readonly onBatch = (event: BatchEvent): void => {
    for (const change of event.changes) {
      const t = this.origin(change);
      if (t !== undefined) this.samples.push(Math.max(0, event.appliedAt - t));
    }
  };

  get count(): number {
    return this.samples.length;
  }

  /** Percentiles of the samples so far (nearest rank), in ms; `reset` starts a new window. */
  summary(): { count: number; p50?: number; p99?: number; max?: number } {
    if (this.samples.length === 0) return { count: 0 };
    const sorted = [...this.samples].sort((a, b) => a - b);
    return {
      count: sorted.length,
      p50: nearestRank(sorted, 0.5),
      p99: nearestRank(sorted, 0.99),
      max: sorted.at(-1) as number,
    };
  }

  reset(): void {
    this.samples = [];
  }
}

/** The q-quantile (0 < q <= 1) of ascending, non-empty `sorted` by the nearest-rank method. */
export function nearestRank(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1))] as number;
}

/** Reads a write time (epoch ms) the writer stored in the item's `attribute` (N). */
export function originFromAttribute(attribute: string): (change: Change) => number | undefined {
  return (change) => {
    const v = change.newImage?.[attribute];
    if (!v || !('N' in v)) return undefined;
    const t = Number(v.N);
    return Number.isFinite(t) ? t : undefined;
  };
}
