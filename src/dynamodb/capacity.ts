/**
 * A capacity budget for long jobs: capacity units per second, enforced from the ConsumedCapacity
 * DynamoDB returns, and/or items per second.
 *
 * Each limit is a token bucket that may go into debt. Before a request, `acquire` waits while a
 * bucket is negative; after the response, `record` charges the units DynamoDB actually consumed.
 * Every unit recorded must be repaid before the next request starts, so over a long run the
 * average rate converges on the budget.
 *
 * The cost of a request is only known afterwards, so with several requests in flight they would all
 * pass `acquire` together and overdraw the budget at the start and the end of a job. To avoid that,
 * `acquire` reserves an estimate (learned from earlier responses: units per item, or per request
 * when no item count is given) and `record` replaces the oldest open reservation with the actual
 * units. Reservations pair with records first-in first-out; as concurrent requests are alike, the
 * pairing error is small and the totals are exact.
 */
import { sleep } from '../core/backoff.js';
import { UsageError } from '../core/errors.js';

export interface CapacityBudgetOptions {
  /** Read or write capacity units per second (as DynamoDB reports them in ConsumedCapacity). */
  readonly unitsPerSecond?: number;
  /** Items per second. */
  readonly itemsPerSecond?: number;
  /**
   * How many seconds of unused budget may be saved up after an idle period (bucket size). Default 1.
   * Buckets start empty, so a job never begins with a burst.
   */
  readonly burstSeconds?: number;
  /** Clock in milliseconds; tests may inject one (with `sleep`) to run on virtual time. */
  readonly now?: () => number;
  /** How `acquire` waits; defaults to a timer. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

class TokenBucket {
  private tokens = 0;
  private last: number;
  private readonly capacity: number;

  constructor(
    private readonly rate: number,
    burstSeconds: number,
    private readonly now: () => number,
  ) {
    this.capacity = rate * burstSeconds;
    this.last = now();
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }

  /** Milliseconds until the bucket is no longer in debt; 0 when it is not. */
  waitMs(): number {
    this.refill();
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  /** Charges `amount` (negative: refunds, never above the bucket size). */
  take(amount: number): void {
    this.refill();
    this.tokens = Math.min(this.capacity, this.tokens - amount);
  }
}

function checkRate(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new UsageError(`${name} must be a positive number, got ${value}`);
  }
}

interface Reservation {
  readonly items: number;
  readonly units: number;
}

/** Weight of the newest response in the running cost estimates. */
const ESTIMATE_WEIGHT = 0.2;

/**
 * A rate limit shared by every request of a job: read or write capacity units per second and/or
 * items per second, as DynamoDB reports them consumed. Pass one as `writeBudget`, `readBudget` or
 * `budget`; `consumed` tells what the job used.
 *
 * @example
 * // At most 500 write units per second on the target, with a second of burst saved up when idle.
 * const writeBudget = new CapacityBudget({ unitsPerSecond: 500 });
 * await copyIntoTable({ source, target, writeBudget });
 * console.log(writeBudget.consumed.units);
 */
export class CapacityBudget {
  private readonly units: TokenBucket | undefined;
  private readonly items: TokenBucket | undefined;
  private totalUnits = 0;
  private totalItems = 0;
  private readonly reservations: Reservation[] = [];
  /** Estimated units per item (writes start at 1: items up to 1 KB) and per item-less request. */
  private unitsPerItem = 1;
  private unitsPerRequest = 0;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(readonly options: CapacityBudgetOptions = {}) {
    checkRate('unitsPerSecond', options.unitsPerSecond);
    checkRate('itemsPerSecond', options.itemsPerSecond);
    checkRate('burstSeconds', options.burstSeconds);
    const now = options.now ?? (() => performance.now());
    const burst = options.burstSeconds ?? 1;
    this.sleep = options.sleep ?? sleep;
    if (options.unitsPerSecond) this.units = new TokenBucket(options.unitsPerSecond, burst, now);
    if (options.itemsPerSecond) this.items = new TokenBucket(options.itemsPerSecond, burst, now);
  }

  /**
   * Waits until neither bucket is in debt, then charges `items` to the items budget and reserves
   * the request's estimated units. Call before each request (0 items when the count is unknown,
   * e.g. before a Scan page), and `record` after it.
   */
  async acquire(items: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const wait = Math.max(this.units?.waitMs() ?? 0, this.items?.waitMs() ?? 0);
      if (wait <= 0) break;
      // Sleep at least 1 ms so float remainders cannot spin the loop.
      await this.sleep(Math.max(1, Math.ceil(wait)), signal);
    }
    this.items?.take(items);
    this.totalItems += items;
    if (this.units) {
      const units = items > 0 ? items * this.unitsPerItem : this.unitsPerRequest;
      this.reservations.push({ items, units });
      this.units.take(units);
    }
  }

  /**
   * Charges the capacity units DynamoDB reported for a request, in place of the oldest reservation.
   * `items` charges items that were not known at `acquire` time (a Scan or Query page).
   */
  record(consumedUnits: number, items = 0): void {
    const units = Math.max(0, consumedUnits);
    this.totalUnits += units;
    if (this.units) {
      const reserved = this.reservations.shift();
      this.units.take(units - (reserved?.units ?? 0));
      if (reserved && reserved.items > 0) {
        this.unitsPerItem += ESTIMATE_WEIGHT * (units / reserved.items - this.unitsPerItem);
      } else if (reserved) {
        this.unitsPerRequest += ESTIMATE_WEIGHT * (units - this.unitsPerRequest);
      }
    }
    if (items > 0) {
      this.items?.take(items);
      this.totalItems += items;
    }
  }

  /** Units recorded and items charged so far. */
  get consumed(): { readonly units: number; readonly items: number } {
    return { units: this.totalUnits, items: this.totalItems };
  }
}

/**
 * The ReturnConsumedCapacity part of a request: asked for only when something reads the figure (a
 * budget, a reported total). AWS answers it for free, but DynamoDB Local loses about a quarter of
 * its scan and write throughput computing it (measured in bench/), and tests run there.
 */
export function consumedCapacityParam(wanted: boolean): { ReturnConsumedCapacity?: 'TOTAL' } {
  return wanted ? { ReturnConsumedCapacity: 'TOTAL' } : {};
}
