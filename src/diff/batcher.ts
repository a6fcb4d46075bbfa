/**
 * Groups entries into batches (one BatchGetItem per side per batch) and runs at most `concurrency`
 * batches at once. `add` waits when that many are running, which pushes back on the scans. A batch
 * that is not full is sent anyway once its first entry has waited `maxWaitMs`.
 */
export interface BatcherOptions<T> {
  readonly batchSize: number;
  readonly concurrency: number;
  readonly maxWaitMs: number;
  readonly process: (batch: T[]) => Promise<void>;
}

export class Batcher<T> {
  private batch: T[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly options: BatcherOptions<T>) {}

  /**
   * Adds an entry. `wait: false` never waits for a free slot: for entries added from inside a
   * running batch, which would otherwise wait on itself.
   */
  async add(entry: T, wait = true): Promise<void> {
    this.throwIfFailed();
    this.batch.push(entry);
    if (this.batch.length >= this.options.batchSize) {
      await this.send(wait);
    } else if (this.batch.length === 1) {
      this.timer = setTimeout(() => void this.send().catch(() => {}), this.options.maxWaitMs);
    }
  }

  /**
   * Sends what is left and waits for every batch to finish, including entries that running batches
   * add meanwhile; rethrows the first failure.
   */
  async flush(): Promise<void> {
    while (this.batch.length > 0 || this.running.size > 0) {
      if (this.batch.length > 0) await this.send();
      else await Promise.race(this.running);
    }
    this.throwIfFailed();
  }

  /** Entries waiting in the open batch plus batches running: for progress and memory checks. */
  get pending(): number {
    return this.batch.length + this.running.size * this.options.batchSize;
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  private async send(wait = true): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    while (wait && this.running.size >= this.options.concurrency) await Promise.race(this.running);
    this.throwIfFailed();
    const task: Promise<void> = this.options
      .process(batch)
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(task));
    this.running.add(task);
  }
}
