/**
 * One direction of a multi-active group: the records of the source member's stream, decided by
 * group-decide.ts, become conditional writes — local writes sent to the target, repairs of the
 * source's own writes — and conflict log entries. It is the stream runner's `applier`: the same
 * contract as applyChanges (the outcome of every key; retry from the lowest failed record).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import { canonicalKey, keyIdOfCanonical, keyOf } from '../core/canonical-key.js';
import { compareSequenceNumbers, type Change } from '../core/change.js';
import { InvalidDataError, ReplicatorError } from '../core/errors.js';
import type { Item } from '../core/types.js';
import { putIfNewer } from '../dynamodb/conditional-put.js';
import type { ApplyOptions, ApplyResult, KeyFailure } from './engine.js';
import type { ConflictLog } from './group-conflicts.js';
import {
  decideRecord,
  handledBy,
  refusalOf,
  type AmbiguousReason,
  type Conflict,
  type GroupContext,
  type LocalMemo,
  type RecordPlan,
} from './group-decide.js';
import { formatStamp, isTombstone, type Stamp } from './group-stamp.js';

export interface GroupTable {
  readonly id: string;
  readonly client: DynamoDBClient;
  readonly table: string;
}

export interface DirectionCounters {
  /** Local writes sent (one per key per batch) and written on the target. */
  sent: number;
  /** Sends the target refused as already there (same version) or superseded by a later one. */
  duplicates: number;
  superseded: number;
  /** Conflicts this direction found (the log may hold one more than once). */
  conflicts: number;
  /** The source's own writes restored after a concurrent lower version overwrote them. */
  repairs: number;
  ambiguous: Record<AmbiguousReason, number>;
}

export function emptyCounters(): DirectionCounters {
  return {
    sent: 0,
    duplicates: 0,
    superseded: 0,
    conflicts: 0,
    repairs: 0,
    ambiguous: { 'stamped-copy-over-local': 0, 'unknown-local-version': 0 },
  };
}

interface Planned {
  readonly change: Change;
  readonly plan: RecordPlan;
}

/** One write of a batch: the last send (or repair) of a key, and where a retry of it starts. */
interface Write {
  readonly canonical: string;
  readonly to: GroupTable;
  readonly item: Item;
  readonly stamp: Stamp;
  readonly firstSequenceNumber: string;
}

const DEFAULT_CONCURRENCY = 8;

export class GroupDirection {
  /** The source member's latest local write per key, as of the last durable record. */
  private readonly memo = new Map<string, LocalMemo>();
  readonly counters = emptyCounters();
  readonly name: string;

  constructor(
    readonly source: GroupTable,
    readonly target: GroupTable,
    private readonly members: readonly string[],
    private readonly ctx: GroupContext,
    private readonly log: ConflictLog,
    private readonly concurrency = DEFAULT_CONCURRENCY,
  ) {
    this.name = `${source.id}-to-${target.id}`;
  }

  /** Records before the checkpoint, read again on start: they only rebuild the memory. */
  observe(changes: readonly Change[]): void {
    for (const c of changes)
      remember(this.memo, decideRecord(c, this.memo.get(keyText(c, this.ctx)), this.ctx));
  }

  /** The runner's applier. */
  apply = async (changes: readonly Change[], options: Omit<ApplyOptions, 'signal'>): Promise<ApplyResult> => {
    const started = performance.now();
    const planned = this.plan(changes);
    const { writes, conflicts } = this.writesOf(planned);
    const failures: KeyFailure[] = [];
    const limit = pLimit(Math.max(1, this.concurrency));
    await Promise.all(
      writes.map((w) =>
        limit(async () => {
          try {
            await options.guard?.();
            const refusal = await this.write(w);
            if (refusal) conflicts.push(refusal);
          } catch (error) {
            // A missing table or bad credentials stop the run; DynamoDB refusing this item (too
            // large, invalid) stops it at this record (refused), anything else is retried.
            const refused = error instanceof InvalidDataError;
            if (error instanceof ReplicatorError && error.userError && !refused) throw error;
            failures.push({
              keyId: keyIdOfCanonical(w.canonical),
              key: w.canonical,
              firstSequenceNumber: w.firstSequenceNumber,
              error: `${w.to.id}: ${(error as Error).message}`,
              ...(refused ? { refused: true as const } : {}),
            });
          }
        }),
      ),
    );
    // Conflicts are logged before the batch counts as done: a crash here finds them again.
    await this.log.append(conflicts);
    this.counters.conflicts += conflicts.length;
    const lowest = failures.reduce<string | undefined>(
      (min, f) =>
        min === undefined || compareSequenceNumbers(f.firstSequenceNumber, min) < 0
          ? f.firstSequenceNumber
          : min,
      undefined,
    );
    let durable = 0;
    for (const p of planned) {
      if (lowest !== undefined && compareSequenceNumbers(p.change.sequenceNumber, lowest) >= 0) break;
      remember(this.memo, p.plan);
      this.count(p.plan);
      durable++;
    }
    return {
      received: changes.length,
      applied: durable,
      skipped: 0,
      failed: failures,
      rejected: [],
      rejectedRecords: 0,
      ...(lowest !== undefined ? { lowestFailedSequenceNumber: lowest } : {}),
      keys: writes.length,
      durationMs: performance.now() - started,
      retries: 0,
    };
  };

  /** Decisions for the batch in stream order, each from the memory the records before it leave. */
  private plan(changes: readonly Change[]): Planned[] {
    const overlay = new Map<string, LocalMemo | undefined>();
    const memoOf = (key: string): LocalMemo | undefined =>
      overlay.has(key) ? overlay.get(key) : this.memo.get(key);
    return changes.map((change) => {
      const plan = decideRecord(change, memoOf(keyText(change, this.ctx)), this.ctx);
      if (plan.kind === 'local') overlay.set(plan.canonical, plan.memo);
      if (plan.kind === 'expired') overlay.set(plan.canonical, undefined);
      return { change, plan };
    });
  }

  /** The last send and the last repair per key, and the conflicts found on arrival. */
  private writesOf(planned: readonly Planned[]): { writes: Write[]; conflicts: Conflict[] } {
    const sends = new Map<string, Write>();
    const repairs = new Map<string, Write>();
    const conflicts: Conflict[] = [];
    for (const { change, plan } of planned) {
      if (plan.kind === 'local') {
        const first = sends.get(plan.canonical)?.firstSequenceNumber ?? change.sequenceNumber;
        sends.set(plan.canonical, {
          canonical: plan.canonical,
          to: this.target,
          item: plan.send,
          stamp: plan.stamp,
          firstSequenceNumber: first,
        });
      } else if (handledBy(plan, this.target.id, this.source.id, this.members)) {
        if (plan.conflict) conflicts.push(plan.conflict);
        if (plan.repair) {
          const first = repairs.get(plan.canonical)?.firstSequenceNumber ?? change.sequenceNumber;
          repairs.set(plan.canonical, {
            canonical: plan.canonical,
            to: this.source,
            item: plan.repair.item,
            stamp: plan.repair.stamp,
            firstSequenceNumber: first,
          });
        }
      }
    }
    return { writes: [...sends.values(), ...repairs.values()], conflicts };
  }

  /** A conditional write; a refusal that is a conflict is returned for the log. */
  private async write(w: Write): Promise<Conflict | undefined> {
    const names = this.ctx.names;
    const result = await putIfNewer(w.to.client, w.to.table, w.item, names.stamp, formatStamp(w.stamp));
    const repair = w.to === this.source;
    if (result.written) {
      if (repair) this.counters.repairs++;
      else this.counters.sent++;
      return undefined;
    }
    const refusal = refusalOf(
      w.stamp,
      isTombstone(w.item, names),
      result.stored,
      w.canonical,
      w.to.id,
      names,
    );
    if (refusal.kind === 'conflict') return refusal.conflict;
    if (refusal.kind === 'duplicate') this.counters.duplicates++;
    else this.counters.superseded++;
    return undefined;
  }

  private count(plan: RecordPlan): void {
    if (handledBy(plan, this.target.id, this.source.id, this.members) && plan.ambiguous)
      this.counters.ambiguous[plan.ambiguous]++;
  }
}

function keyText(change: Change, ctx: GroupContext): string {
  return canonicalKey(keyOf(change.keys, ctx.keySchema));
}

function remember(memo: Map<string, LocalMemo>, plan: RecordPlan): void {
  if (plan.kind === 'local') memo.set(plan.canonical, plan.memo);
  else if (plan.kind === 'expired') memo.delete(plan.canonical);
}
