/**
 * The pages of one shard that are being applied at the same time. A page may start while earlier
 * ones are still being written when it shares no key with any of them (so two writes of one item
 * never race), and at most `maxApplying` pages apply at once. What is durable is committed strictly
 * in stream order: a page's records are handed to `commit` only once every earlier page is durable
 * in full, so a checkpoint taken from them never passes a record that is not on every replica.
 *
 * Pages offered (`offer`) are coalesced: a small page read while an earlier page is being written
 * waits for it, and the pages read after it join it, contiguous and in stream order, so a trickle
 * of records becomes a few full BatchWriteItem requests instead of one small request per GetRecords
 * page (every request is work for the same DynamoDB that serves the source). A page that cannot
 * start (the window is full, or it writes an item being written) takes the following pages in too.
 * No I/O: the runner supplies the apply (`start`), the commit (its checkpoint) and the completion event.
 */
import type { Change } from '../core/change.js';

export interface WindowPage<E> {
  readonly changes: readonly Change[];
  readonly keys: ReadonlySet<string>;
  /** Records of `changes`, from the first, that are durable. */
  durable: number;
  /** How many of them were handed to `commit`. */
  committed: number;
  /** Every record is durable; sent to `complete` when the page's turn comes. */
  completion?: { readonly event: E };
  /**
   * Part of it failed and is retried after a backoff: from then on it holds no small page back (the
   * pages read after it need not wait out its retries).
   */
  retrying?: boolean;
}

/** How offered pages start and are joined. */
export interface Coalescing<E> {
  /** Starts applying a page (the window counts it as applying from now on). */
  readonly start: (page: WindowPage<E>) => void;
  /**
   * Records from which a page starts at once (window and keys permitting) even while earlier pages
   * are being written: a full write request, or a full read page when the reader asks for fewer.
   */
  readonly fullPage: number;
  /** Most records one page may grow to by joining; the next page waits for it to start. */
  readonly maxRecords: number;
}

export class PageWindow<E> {
  /** Admitted pages not yet committed in full, in stream order. */
  private readonly pages: WindowPage<E>[] = [];
  /** Admitted pages still being applied (neither complete nor abandoned). */
  private readonly applying = new Set<WindowPage<E>>();
  /** Offered records waiting to start as one page (the newest page of `pages`). */
  private waiting: WindowPage<E> | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly maxApplying: number,
    /** Records that became durable after everything before them, in stream order. */
    private readonly commit: (changes: readonly Change[]) => void,
    /** A page that is durable in full, after every earlier one, in stream order. */
    private readonly complete: (event: E) => void,
    private readonly coalescing?: Coalescing<E>,
  ) {}

  /** Pages being applied or waiting to start. */
  get size(): number {
    return this.applying.size + (this.waiting ? 1 : 0);
  }

  /**
   * Hands over the shard's next records (`keys`: the items they write). They start as a page of
   * their own when the window may start it now: fewer than maxApplying pages applying, none sharing
   * a key, and either none being written (a retrying page waits for its backoff) or at least
   * `fullPage` records. Otherwise they wait, joined by the records offered after them, until it may.
   * Resolves once they are started or waiting; waits only while the waiting page is at `maxRecords`.
   */
  async offer(changes: readonly Change[], keys: ReadonlySet<string>): Promise<void> {
    const coalescing = this.coalescing;
    if (coalescing === undefined) throw new TypeError('PageWindow.offer needs coalescing options');
    while (this.waiting && this.waiting.changes.length + changes.length > coalescing.maxRecords) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const tail = this.waiting;
    if (tail === undefined) {
      this.waiting = { changes, keys, durable: 0, committed: 0 };
      this.pages.push(this.waiting);
    } else {
      // The waiting page is the newest of `pages` and these records come right after it.
      this.waiting = {
        changes: [...tail.changes, ...changes],
        keys: new Set([...tail.keys, ...keys]),
        durable: 0,
        committed: 0,
      };
      this.pages[this.pages.length - 1] = this.waiting;
    }
    this.startWaiting();
  }

  /**
   * Waits until a page with these changes may start as it is (no offered page waiting, fewer than
   * maxApplying pages applying, none sharing a key with it), then admits it. `keys` identifies the
   * items the changes write.
   */
  async admit(changes: readonly Change[], keys: ReadonlySet<string>): Promise<WindowPage<E>> {
    while (this.waiting || this.applying.size >= this.maxApplying || this.overlaps(keys)) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const page: WindowPage<E> = { changes, keys, durable: 0, committed: 0 };
    this.pages.push(page);
    this.applying.add(page);
    return page;
  }

  /** The first `count` records of `page` are durable (a partial success, before a retry). */
  durable(page: WindowPage<E>, count: number): void {
    page.durable = Math.max(page.durable, Math.min(count, page.changes.length));
    page.retrying = true;
    this.advance();
    this.startWaiting();
    this.wakeAll();
  }

  /** Every record of `page` is durable. */
  completed(page: WindowPage<E>, event: E): void {
    page.durable = page.changes.length;
    page.completion = { event };
    this.release(page);
  }

  /**
   * `page` stopped before it was durable in full (a stop request or a failure): its keys are free
   * again, and nothing after its durable part is ever committed.
   */
  abandon(page: WindowPage<E>): void {
    this.release(page);
  }

  /** Resolves once no page is being applied or waiting to start. */
  async drain(): Promise<void> {
    while (this.size > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private release(page: WindowPage<E>): void {
    this.applying.delete(page);
    this.advance();
    this.startWaiting();
    this.wakeAll();
  }

  private wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Starts the waiting page if the window may start it now (see `offer`). */
  private startWaiting(): void {
    const page = this.waiting;
    const coalescing = this.coalescing;
    if (page === undefined || coalescing === undefined) return;
    if (this.applying.size >= this.maxApplying || this.overlaps(page.keys)) return;
    const writing = [...this.applying].some((p) => !p.retrying);
    if (writing && page.changes.length < coalescing.fullPage) return;
    this.waiting = undefined;
    this.applying.add(page);
    coalescing.start(page);
  }

  private overlaps(keys: ReadonlySet<string>): boolean {
    for (const page of this.applying) {
      const [small, large] = page.keys.size < keys.size ? [page.keys, keys] : [keys, page.keys];
      for (const key of small) if (large.has(key)) return true;
    }
    return false;
  }

  /** Commits what is durable from the oldest page on, stopping at the first page not durable in full. */
  private advance(): void {
    for (let head = this.pages[0]; head !== undefined; head = this.pages[0]) {
      if (head.durable > head.committed) {
        const from = head.committed;
        head.committed = head.durable;
        this.commit(head.changes.slice(from, head.durable));
      }
      if (head.completion === undefined) return;
      this.pages.shift();
      this.complete(head.completion.event);
    }
  }
}
