/**
 * The verify job: proof, on a schedule, that replicas and backups hold what the source holds. A job
 * is a list of checks (a replica pair, or a table against its backup), each a full `diffTables`
 * without repair; a run reports each check's discrepancy counts and when it was verified. The Lambda
 * handler (lambda/verify.ts) runs one job per scheduled invocation; the runner (`replicate
 * --verify-every`) runs it every interval with `verifyEvery`.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { sleep } from '../core/backoff.js';
import { resolveRestoreSource } from '../backup/restore-source.js';
import { CapacityBudget } from '../dynamodb/capacity.js';
import { describeTable } from '../dynamodb/tables.js';
import type { ObjectStore } from '../storage/object-store.js';
import { snapshotSide } from './backup-side.js';
import { diffTables, type DiscrepancyCounts } from './diff-tables.js';
import { tableSide, type DiffSide } from './side.js';

export interface VerifyCheck {
  /** How reports name the check, e.g. `us-east-1/users -> eu-west-1/users`. */
  readonly label: string;
  /** Opens both sides (describes the tables, resolves and verifies the backup) for one run. */
  open(signal?: AbortSignal): Promise<{ readonly primary: DiffSide; readonly other: DiffSide }>;
}

/** A table the job reads. */
export interface VerifyTable {
  readonly client: DynamoDBClient;
  readonly table: string;
  readonly label: string;
}

/** What a job compares: the source with each replica, and with a backup of it. */
export interface VerifyTargets {
  readonly source: VerifyTable;
  readonly replicas: readonly VerifyTable[];
  /** The source table's backup (its change log, or full backups), as `resolveRestoreSource` reads it. */
  readonly backup?: { readonly store: ObjectStore; readonly label: string };
  /** Read capacity units per second on each table, per run. Default: no limit. */
  readonly readCapacity?: number;
}

/** A check of a job, with what it compares the source with. */
export interface TargetCheck extends VerifyCheck {
  readonly kind: 'replica' | 'backup';
  /** The replica's or the backup's label. */
  readonly target: string;
}

/**
 * The checks of a job: one per replica, then one against the backup (verified before it is read).
 * Each run describes the tables again and gets a fresh read budget per table.
 */
export function verifyChecks(targets: VerifyTargets): TargetCheck[] {
  const budget = () =>
    targets.readCapacity !== undefined
      ? { budget: new CapacityBudget({ unitsPerSecond: targets.readCapacity }) }
      : {};
  const { source } = targets;
  const openSource = async () => {
    const { keySchema } = await describeTable(source.client, source.table);
    return {
      keySchema,
      primary: tableSide(source.client, source.table, keySchema, { label: source.label, ...budget() }),
    };
  };
  const checks: TargetCheck[] = targets.replicas.map((r) => ({
    kind: 'replica',
    target: r.label,
    label: `${source.label} -> ${r.label}`,
    async open() {
      const { keySchema, primary } = await openSource();
      return { primary, other: tableSide(r.client, r.table, keySchema, { label: r.label, ...budget() }) };
    },
  }));
  const backup = targets.backup;
  if (backup)
    checks.push({
      kind: 'backup',
      target: backup.label,
      label: `${source.label} -> ${backup.label}`,
      async open() {
        const { keySchema, primary } = await openSource();
        const state = await resolveRestoreSource(backup.store, { keySchema });
        return { primary, other: snapshotSide(state, keySchema) };
      },
    });
  return checks;
}

export type VerifyOutcome =
  | {
      readonly label: string;
      readonly ok: true;
      readonly discrepancies: DiscrepancyCounts;
      readonly scanned: { readonly primary: number; readonly replica: number };
      /** When the check completed, epoch ms. */
      readonly verifiedAt: number;
    }
  | { readonly label: string; readonly ok: false; readonly error: unknown };

export interface VerifyRunOptions {
  /** Re-check each confirmed difference after this many ms, so changes in flight are not reported. */
  readonly settleMs?: number;
  /** Segments scanned at once per table (diffTables' `parallel`). */
  readonly parallel?: number;
  readonly signal?: AbortSignal;
  /** Clock for `verifiedAt` (tests). */
  readonly now?: () => number;
}

/**
 * Runs the checks one after another (one table pair's read load at a time); a check that fails is
 * reported with its error and the others still run.
 */
export async function runVerifyChecks(
  checks: readonly VerifyCheck[],
  options: VerifyRunOptions = {},
): Promise<VerifyOutcome[]> {
  const now = options.now ?? Date.now;
  const outcomes: VerifyOutcome[] = [];
  for (const check of checks) {
    options.signal?.throwIfAborted();
    try {
      const { primary, other } = await check.open(options.signal);
      const result = await diffTables(primary, other, {
        settleMs: options.settleMs ?? 0,
        ...(options.parallel ? { parallel: options.parallel } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      outcomes.push({
        label: check.label,
        ok: true,
        discrepancies: { ...result.discrepancies },
        scanned: result.scanned,
        verifiedAt: now(),
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      outcomes.push({ label: check.label, ok: false, error });
    }
  }
  return outcomes;
}

/**
 * Runs `run` every `everyMs` (the first time one interval after the start, so a runner that is
 * still copying or catching up is not judged at once) until `signal` aborts; each run's outcomes go
 * to `onOutcomes`. Resolves when stopped.
 */
export async function verifyEvery(o: {
  readonly everyMs: number;
  readonly run: (signal: AbortSignal) => Promise<readonly VerifyOutcome[]>;
  readonly onOutcomes: (outcomes: readonly VerifyOutcome[]) => void;
  readonly signal: AbortSignal;
  /** Waits between runs (tests pass a virtual clock's). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}): Promise<void> {
  const wait = o.sleep ?? sleep;
  while (!o.signal.aborted) {
    try {
      await wait(o.everyMs, o.signal);
      o.onOutcomes(await o.run(o.signal));
    } catch (error) {
      if (o.signal.aborted) return;
      throw error;
    }
  }
}

/** One line per outcome: `<label>: N discrepancies (a missing, b different, c extraneous)` or the error. */
export function formatVerifyOutcome(outcome: VerifyOutcome): string {
  if (!outcome.ok) {
    const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    return `verify ${outcome.label}: failed: ${message}`;
  }
  const d = outcome.discrepancies;
  return (
    `verify ${outcome.label}: ${d.total} discrepanc${d.total === 1 ? 'y' : 'ies'} ` +
    `(${d.missing} missing, ${d.different} different, ${d.extraneous} extraneous; ` +
    `${outcome.scanned.primary} + ${outcome.scanned.replica} items scanned) at ${new Date(outcome.verifiedAt).toISOString()}`
  );
}
