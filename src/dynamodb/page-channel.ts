/**
 * A bounded queue between several producers and one async consumer: producers wait while it is
 * full, so memory stays bounded by its capacity however fast they read.
 */
export class PageChannel<T> {
  private readonly items: T[] = [];
  private readonly spaceWaiters: (() => void)[] = [];
  private dataWaiter: (() => void) | undefined;
  private closed = false;
  private failure: { error: unknown } | undefined;

  constructor(private readonly capacity: number) {}

  /** Waits for room, then enqueues. Returns false (dropping `item`) once the channel is closed. */
  async push(item: T): Promise<boolean> {
    while (!this.closed && this.items.length >= this.capacity) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    if (this.closed) return false;
    this.items.push(item);
    this.wakeConsumer();
    return true;
  }

  /** No more items: the consumer drains what is queued, then ends. Releases waiting producers. */
  close(): void {
    this.closed = true;
    this.wakeConsumer();
    for (const wake of this.spaceWaiters.splice(0)) wake();
  }

  /** Ends the consumer with `error` at its next read; queued items are discarded. */
  fail(error: unknown): void {
    this.failure ??= { error };
    this.items.length = 0;
    this.close();
  }

  private wakeConsumer(): void {
    const wake = this.dataWaiter;
    this.dataWaiter = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.failure) throw this.failure.error;
      const item = this.items.shift();
      if (item !== undefined) {
        this.spaceWaiters.shift()?.();
        yield item;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.dataWaiter = resolve));
    }
  }
}
