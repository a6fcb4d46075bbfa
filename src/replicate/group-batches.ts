/**
 * A member's stream delivered in batches from outside (a Lambda event source mapping): each batch
 * goes through one GroupDirection per other member, the same decisions and conditional writes as
 * the runner's directions. What differs is the memory of the member's own latest local write per
 * key (docs/multi-active.md, "Lambda"): a container keeps it per shard between batches, and it is
 * rebuilt from the stream itself — the shard's lineage read from its oldest record up to the
 * batch's first record — whenever the container cannot show that it saw the batch just before.
 *
 * Why that is exact: the event source mapping delivers a shard's batches one after another
 * (ParallelizationFactor 1) and a batch comes only once every record before it in the shard, and
 * in the shard's parents, counted as done. So the records before the batch are exactly what the
 * memory must hold, the same as the runner's "read up to the checkpoint".
 */
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { GetRecordsCommand } from '@aws-sdk/client-dynamodb-streams';
import { compareSequenceNumbers, type Change } from '../core/change.js';
import { changeFromSdkRecord } from '../core/change-sources.js';
import { InvalidDataError } from '../core/errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import { describeStream, getShardIterator, ShardReader, type ShardInfo } from '../streams/reader.js';
import type { KeyFailure } from './engine.js';
import { ConflictLog } from './group-conflicts.js';
import type { GroupContext } from './group-decide.js';
import { emptyCounters, GroupDirection, type DirectionCounters, type GroupTable } from './group-direction.js';

export interface GroupBatchOptions {
  /** This member: the stream's table (repairs are written here). */
  readonly self: GroupTable;
  /** The other members, in the order the group lists them. */
  readonly others: readonly GroupTable[];
  readonly ctx: GroupContext;
  readonly streams: DynamoDBStreamsClient;
  readonly conflictLog: ObjectStore;
  /** Conditional writes in flight per direction. */
  readonly concurrency?: number;
  /** Names this container in the conflict log's object names (containers may write at the same ms). */
  readonly instance: string;
  /** Shards whose memory a container keeps at once (default 8); the least recently used goes. */
  readonly maxShards?: number;
}

/** How the memory for a batch was found. */
export type MemorySource =
  /** This container applied the shard's previous batch, and the stream says nothing came between. */
  | { readonly kind: 'kept'; readonly shardId: string }
  /** Read from the stream: the shard's lineage up to the batch. */
  | { readonly kind: 'rebuilt'; readonly shardId: string; readonly records: number; readonly shards: number };

export interface GroupBatchResult {
  readonly received: number;
  /** Records before the lowest failure: durable on every other member. */
  readonly applied: number;
  readonly failed: readonly KeyFailure[];
  readonly lowestFailedSequenceNumber?: string;
  readonly memory: MemorySource;
  /** This batch's figures, summed over the directions. */
  readonly counters: DirectionCounters;
}

interface ShardState {
  readonly shardId: string;
  /** The last record whose decisions the directions' memory holds. */
  last: string;
  readonly directions: readonly GroupDirection[];
}

export class GroupBatchApplier {
  private readonly shards = new Map<string, ShardState>();

  constructor(private readonly o: GroupBatchOptions) {}

  /** Applies one batch of the member's stream (records of one shard, in order). */
  async apply(streamArn: string, changes: readonly Change[]): Promise<GroupBatchResult> {
    const first = changes[0];
    if (!first) throw new TypeError('GroupBatchApplier.apply: an empty batch');
    const { state, memory } = await this.memoryFor(streamArn, first.sequenceNumber);
    const before = state.directions.map((d) => ({ ...d.counters, ambiguous: { ...d.counters.ambiguous } }));
    let results;
    try {
      results = await Promise.all(state.directions.map((d) => d.apply(changes, this.applyOptions())));
    } catch (error) {
      this.shards.delete(state.shardId);
      throw error;
    }
    const failed = results.flatMap((r) => r.failed);
    const lowest = results
      .map((r) => r.lowestFailedSequenceNumber)
      .reduce<string | undefined>(
        (min, s) => (s !== undefined && (min === undefined || compareSequenceNumbers(s, min) < 0) ? s : min),
        undefined,
      );
    if (lowest === undefined) {
      state.last = (changes[changes.length - 1] as Change).sequenceNumber;
      this.touch(state);
    } else {
      // Directions that got further remember more than the checkpoint Lambda keeps: read it again.
      this.shards.delete(state.shardId);
    }
    const applied =
      lowest === undefined
        ? changes.length
        : changes.filter((c) => compareSequenceNumbers(c.sequenceNumber, lowest) < 0).length;
    return {
      received: changes.length,
      applied,
      failed,
      ...(lowest !== undefined ? { lowestFailedSequenceNumber: lowest } : {}),
      memory,
      counters: difference(state.directions, before),
    };
  }

  private applyOptions() {
    // The directions write with their own conditional puts; these fields only satisfy the type.
    return { replicas: [], keySchema: this.o.ctx.keySchema };
  }

  private touch(state: ShardState): void {
    this.shards.delete(state.shardId);
    this.shards.set(state.shardId, state);
    const max = this.o.maxShards ?? 8;
    for (const id of this.shards.keys()) {
      if (this.shards.size <= max) break;
      this.shards.delete(id);
    }
  }

  private directions(): GroupDirection[] {
    const { self, others, ctx } = this.o;
    const members = [self.id, ...others.map((m) => m.id)];
    return others.map((target) => {
      const name = `${self.id}-to-${target.id}`;
      const log = new ConflictLog(this.o.conflictLog, `${name}-${this.o.instance}`);
      return new GroupDirection(self, target, members, ctx, log, this.o.concurrency);
    });
  }

  /** The memory as of just before `first`: kept when provably current, otherwise rebuilt. */
  private async memoryFor(
    streamArn: string,
    first: string,
  ): Promise<{ state: ShardState; memory: MemorySource }> {
    const earlier = [...this.shards.values()].filter((s) => compareSequenceNumbers(s.last, first) < 0);
    for (const state of earlier) {
      if ((await this.nextRecord(streamArn, state)) === first)
        return { state, memory: { kind: 'kept', shardId: state.shardId } };
    }
    const stream = await describeStream(this.o.streams, streamArn);
    const shard = await this.shardOf(streamArn, stream.shards, first);
    const lineage = lineageOf(shard, stream.shards);
    const state: ShardState = { shardId: shard.shardId, last: '', directions: this.directions() };
    let records = 0;
    for (const s of lineage) {
      const reader = new ShardReader(this.o.streams, streamArn, s.shardId, { type: 'TRIM_HORIZON' });
      for (;;) {
        const page = await reader.next();
        const changes = page.records.map((r, i) => changeFromSdkRecord(r, i, s.shardId));
        const kept = changes.filter((c) => compareSequenceNumbers(c.sequenceNumber, first) < 0);
        for (const d of state.directions) d.observe(kept);
        records += kept.length;
        if (page.end || page.caughtUp || kept.length < changes.length) break;
      }
    }
    this.shards.delete(shard.shardId);
    return {
      state,
      memory: { kind: 'rebuilt', shardId: shard.shardId, records, shards: lineage.length },
    };
  }

  /** The sequence number of the record after the state's last one in its shard, if any. */
  private async nextRecord(streamArn: string, state: ShardState): Promise<string | undefined> {
    try {
      const iterator = await getShardIterator(this.o.streams, streamArn, state.shardId, {
        type: 'AFTER_SEQUENCE_NUMBER',
        sequenceNumber: state.last,
      });
      if (!iterator) return undefined;
      const out = await this.o.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1 }));
      return out.Records?.[0]?.dynamodb?.SequenceNumber;
    } catch {
      // A trimmed or closed position cannot be shown current: the memory is rebuilt.
      return undefined;
    }
  }

  /** The shard holding the record `first`: by sequence number range, confirmed by reading it. */
  private async shardOf(streamArn: string, shards: readonly ShardInfo[], first: string): Promise<ShardInfo> {
    const candidates = shards.filter(
      (s) =>
        (s.startingSequenceNumber === undefined ||
          compareSequenceNumbers(s.startingSequenceNumber, first) <= 0) &&
        (s.endingSequenceNumber === undefined || compareSequenceNumbers(first, s.endingSequenceNumber) <= 0),
    );
    if (candidates.length === 1) return candidates[0] as ShardInfo;
    for (const s of candidates) {
      try {
        const iterator = await getShardIterator(this.o.streams, streamArn, s.shardId, {
          type: 'AT_SEQUENCE_NUMBER',
          sequenceNumber: first,
        });
        if (!iterator) continue;
        const out = await this.o.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1 }));
        if (out.Records?.[0]?.dynamodb?.SequenceNumber === first) return s;
      } catch {
        // Not this shard's sequence number: DynamoDB refuses the iterator.
      }
    }
    throw new InvalidDataError(
      `no shard of ${streamArn} holds the batch's first record ${first} (trimmed, or a batch of another stream)`,
    );
  }
}

/** The shard and its ancestors still listed by the stream, oldest first. */
function lineageOf(shard: ShardInfo, shards: readonly ShardInfo[]): ShardInfo[] {
  const byId = new Map(shards.map((s) => [s.shardId, s]));
  const lineage: ShardInfo[] = [shard];
  for (let p = shard.parentShardId; p !== undefined;) {
    const parent = byId.get(p);
    if (!parent || lineage.includes(parent)) break;
    lineage.unshift(parent);
    p = parent.parentShardId;
  }
  return lineage;
}

function difference(
  directions: readonly GroupDirection[],
  before: readonly DirectionCounters[],
): DirectionCounters {
  const sum = emptyCounters();
  directions.forEach((d, i) => {
    const b = before[i] as DirectionCounters;
    sum.sent += d.counters.sent - b.sent;
    sum.duplicates += d.counters.duplicates - b.duplicates;
    sum.superseded += d.counters.superseded - b.superseded;
    sum.conflicts += d.counters.conflicts - b.conflicts;
    sum.repairs += d.counters.repairs - b.repairs;
    for (const k of Object.keys(sum.ambiguous) as (keyof DirectionCounters['ambiguous'])[])
      sum.ambiguous[k] += d.counters.ambiguous[k] - b.ambiguous[k];
  });
  return sum;
}
