/**
 * The pages of one shard that are being applied at the same time. A page may start while earlier
 * ones are still being written when it shares no key with any of them (so two writes of one item
 * never race), and at most `maxApplying` pages apply at once. What is durable is committed strictly
 * in stream order: a page's records are handed to `commit` only once every earlier page is durable
 * in full, so a checkpoint taken from them never passes a record that is not on every replica.
 * No I/O: the runner supplies the apply, the commit (its checkpoint) and the completion event.
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
}

export class PageWindow<E> {
  /** Admitted pages not yet committed in full, in stream order. */
  private readonly pages: WindowPage<E>[] = [];
  /** Admitted pages still being applied (neither complete nor abandoned). */
  private readonly applying = new Set<WindowPage<E>>();
  private waiters: (() => void)[] = [];

  constructor(
    private readonly maxApplying: number,
    /** Records that became durable after everything before them, in stream order. */
    private readonly commit: (changes: readonly Change[]) => void,
    /** A page that is durable in full, after every earlier one, in stream order. */
    private readonly complete: (event: E) => void,
  ) {}

  /** Pages being applied. */
  get size(): number {
    return this.applying.size;
  }

  /**
   * Waits until a page with these changes may start (fewer than maxApplying pages applying, none
   * sharing a key with it), then admits it. `keys` identifies the items the changes write.
   */
  async admit(changes: readonly Change[], keys: ReadonlySet<string>): Promise<WindowPage<E>> {
    while (this.applying.size >= this.maxApplying || this.overlaps(keys)) {
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
    this.advance();
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

  /** Resolves once no page is being applied. */
  async drain(): Promise<void> {
    while (this.applying.size > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private release(page: WindowPage<E>): void {
    this.applying.delete(page);
    this.advance();
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
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
