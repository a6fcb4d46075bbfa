import { linkedAbortController } from './unprocessed.js';

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

/**
 * The pages of several sources read concurrently, in whatever order they arrive, with at most
 * `capacity` pages queued. Each source gets a signal that aborts when the consumer stops early or a
 * source fails (the first failure ends the merge).
 */
export async function* mergePages<T>(
  sources: readonly ((signal: AbortSignal) => AsyncIterable<T>)[],
  signal: AbortSignal | undefined,
  capacity = sources.length,
): AsyncGenerator<T> {
  const { controller: stop, dispose } = linkedAbortController(signal);
  const channel = new PageChannel<T>(Math.max(1, capacity));
  const workers = sources.map(async (source) => {
    for await (const page of source(stop.signal)) if (!(await channel.push(page))) return;
  });
  const all = Promise.all(workers).then(
    () => channel.close(),
    (error: unknown) => {
      channel.fail(error);
      stop.abort(error);
    },
  );
  try {
    yield* channel;
  } finally {
    // The consumer stopped early or failed: stop the other sources and let them settle.
    channel.close();
    if (!stop.signal.aborted) stop.abort();
    dispose();
    await Promise.allSettled([all, ...workers]);
  }
}
