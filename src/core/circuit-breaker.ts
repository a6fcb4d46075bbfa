/**
 * The health of one member of a regional client (dynamodb/regional-client.ts), as a circuit breaker,
 * and the order in which reads try the members. Pure: time comes from the `now` given.
 *
 * - closed: requests go to the member. `failureThreshold` consecutive failures open it.
 * - open: no request goes to the member. After a cool-down (`openMs`, doubling after each failed
 *   trial up to `maxOpenMs`) one trial request may go: the breaker is half-open while it runs.
 * - half-open: the trial's success closes the breaker; its failure opens it again.
 *
 * An outcome counts only if its request started after the breaker's last change: a request that was
 * already in flight when a member failed (or recovered) says nothing about the member since then,
 * and must not close (or open) the breaker again.
 */
import { backoffCeiling } from './backoff.js';
import { UsageError } from './errors.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open a closed breaker. Default 3. */
  readonly failureThreshold: number;
  /** Cool-down of an open breaker before its first trial. Default 1 s. */
  readonly openMs: number;
  /** Upper bound of the cool-down, which doubles after each failed trial. Default 30 s. */
  readonly maxOpenMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { failureThreshold: 3, openMs: 1_000, maxOpenMs: 30_000 };

/** A change of state, with what caused it (for events and logs). */
export interface BreakerTransition {
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** Consecutive failures when it happened. */
  readonly failures: number;
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1)
    throw new UsageError(`${name} must be a whole number of at least 1 (got ${value})`);
}

function durationMs(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0)
    throw new UsageError(`${name} must be a number of milliseconds of at least 0 (got ${value})`);
}

/** The defaults with `overrides` applied; UsageError naming the option that is out of range. */
export function resolveBreakerOptions(
  overrides: Partial<BreakerOptions> = {},
  prefix = 'breaker.',
): BreakerOptions {
  const o = { ...DEFAULT_BREAKER, ...overrides };
  positiveInteger(`${prefix}failureThreshold`, o.failureThreshold);
  durationMs(`${prefix}openMs`, o.openMs);
  durationMs(`${prefix}maxOpenMs`, o.maxOpenMs);
  if (o.maxOpenMs < o.openMs)
    throw new UsageError(
      `${prefix}maxOpenMs (${o.maxOpenMs}) must not be less than ${prefix}openMs (${o.openMs})`,
    );
  return o;
}

export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #failures = 0;
  /** Failed trials since the breaker last closed: the cool-down doubles with each. */
  #failedTrials = 0;
  #changedAt = -Infinity;
  #trialAt = Infinity;

  constructor(
    readonly options: BreakerOptions,
    private readonly now: () => number,
  ) {}

  get state(): BreakerState {
    return this.#state;
  }

  /** Consecutive failures counted so far (0 once a request succeeds). */
  get failures(): number {
    return this.#failures;
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** The breaker is open and its cool-down has passed: one trial may start. */
  get trialDue(): boolean {
    return this.#state === 'open' && this.now() >= this.#trialAt;
  }

  /** Moves a breaker whose trial is due to half-open; false when no trial may start now. */
  startTrial(): BreakerTransition | undefined {
    if (!this.trialDue) return undefined;
    return this.#move('half-open');
  }

  /**
   * Counts a success of a request that started at `startedAt`: resets the failure count, and closes
   * the breaker when it was the trial.
   */
  recordSuccess(startedAt: number): BreakerTransition | undefined {
    if (startedAt < this.#changedAt) return undefined;
    this.#failures = 0;
    if (this.#state === 'closed') return undefined;
    this.#failedTrials = 0;
    return this.#move('closed');
  }

  /** Counts a failure of a request that started at `startedAt`; opens the breaker when due. */
  recordFailure(startedAt: number): BreakerTransition | undefined {
    if (startedAt < this.#changedAt || this.#state === 'open') return undefined;
    this.#failures++;
    if (this.#state === 'half-open') {
      this.#failedTrials++;
      return this.#move('open');
    }
    return this.#failures >= this.options.failureThreshold ? this.#move('open') : undefined;
  }

  /** Milliseconds until the next trial may start (0 when due, Infinity when not open). */
  msUntilTrial(): number {
    return this.#state === 'open' ? Math.max(0, this.#trialAt - this.now()) : Infinity;
  }

  #move(to: BreakerState): BreakerTransition {
    const from = this.#state;
    this.#state = to;
    this.#changedAt = this.now();
    this.#trialAt =
      to === 'open'
        ? this.#changedAt +
          backoffCeiling(this.#failedTrials + 1, {
            maxAttempts: Infinity,
            baseDelayMs: this.options.openMs,
            maxDelayMs: this.options.maxOpenMs,
          })
        : Infinity;
    return { from, to, failures: this.#failures };
  }
}

/**
 * Whether a request may go to a member now: its breaker is closed, or — when `takeTrials` (no
 * background probe makes the trials) — its trial is due.
 */
export function usable(breaker: CircuitBreaker, takeTrials: boolean): boolean {
  return breaker.isClosed || (takeTrials && breaker.trialDue);
}

/**
 * The members (indexes, in preference order) a read tries: the usable ones. When none is usable,
 * every member in preference order: a read is never refused without having been tried.
 */
export function readOrder(breakers: readonly CircuitBreaker[], takeTrials: boolean): number[] {
  const indexes = breakers.map((_, i) => i);
  const order = indexes.filter((i) => usable(breakers[i] as CircuitBreaker, takeTrials));
  return order.length > 0 ? order : indexes;
}
