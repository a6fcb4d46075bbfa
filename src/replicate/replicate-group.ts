/**
 * A multi-active group as a library call (docs/multi-active.md): every member's stream is followed
 * and each change is written to every other member, one direction (source -> target) per ordered
 * pair, each with its own checkpoint and lease. Checks come first, before anything is written:
 * streams with NEW_AND_OLD_IMAGES, one key schema, distinct members, usable metadata names.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { compareSequenceNumbers } from '../core/change.js';
import { changeFromSdkRecord } from '../core/change-sources.js';
import { backoffDelay, sleep } from '../core/backoff.js';
import { NotFoundError, ReplicatorError, ServiceError, UsageError } from '../core/errors.js';
import { APPLY_RETRY } from '../core/retry-policies.js';
import type { KeySchema } from '../core/types.js';
import { scanPages } from '../dynamodb/scan.js';
import { assertSameKeySchema, describeTable } from '../dynamodb/tables.js';
import type { ObjectStore } from '../storage/object-store.js';
import { describeStream, parentFirstOrder, ShardReader, type PollingOptions } from '../streams/reader.js';
import type { CheckpointState, CheckpointStore } from './checkpoint.js';
import { ConflictLog } from './group-conflicts.js';
import type { GroupContext } from './group-decide.js';
import { GroupDirection, type DirectionCounters } from './group-direction.js';
import {
  checkMemberId,
  checkMetadataNames,
  DEFAULT_GROUP_METADATA,
  DEFAULT_TOMBSTONE_TTL_MS,
  foreignMetadata,
  type GroupMetadataNames,
} from './group-stamp.js';
import type { CheckpointLease } from './lease.js';
import { StreamRunner, type RunnerStats, type RunnerSummary } from './runner.js';

export interface GroupMember {
  /** Part of every version this member's writes get: short, and the same wherever the group runs. */
  readonly id: string;
  readonly client: DynamoDBClient;
  /** A DynamoDB Streams client for the member's region. */
  readonly streams: DynamoDBStreamsClient;
  readonly table: string;
  /** How messages name the member (default: the id). */
  readonly label?: string;
}

export interface ReplicateGroupOptions {
  readonly members: readonly GroupMember[];
  /** The checkpoint of one direction (each needs its own). */
  readonly checkpoint: (source: GroupMember, target: GroupMember) => CheckpointStore;
  /** Where conflicts are logged (JSON lines). */
  readonly conflictLog: ObjectStore;
  readonly metadata?: GroupMetadataNames;
  /** How long tombstones live (default 2 days). */
  readonly tombstoneTtlMs?: number;
  /** Shards read at once per direction (default 4). */
  readonly parallel?: number;
  readonly polling?: PollingOptions;
  /** Finish once every direction is caught up and no record arrived for this long. */
  readonly stopWhenIdleMs?: number;
  /** How often `stats` events are sent (default 5 s). */
  readonly statsEveryMs?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: GroupEvent) => void;
  /** Told once the directions run: their live figures, e.g. for metrics. */
  readonly onDirections?: (directions: readonly GroupDirectionStats[]) => void;
}

export interface GroupDirectionStats {
  readonly name: string;
  readonly counters: DirectionCounters;
  stats(): RunnerStats;
}

export type GroupEvent =
  | { readonly event: 'lease-acquired'; readonly direction: string; readonly holder: string }
  | { readonly event: 'memory-rebuilt'; readonly direction: string; readonly records: number }
  | {
      readonly event: 'stats';
      readonly directions: readonly { name: string; records: number; lagMs?: number }[];
      /** Records handled over all directions. */
      readonly records: number;
      /** Every direction has read every shard to its end (nothing waiting in any stream). */
      readonly caughtUp: boolean;
      readonly conflicts: number;
    }
  | ({ readonly event: 'stopped' } & GroupSummary)
  | { readonly event: string; readonly direction: string; readonly [field: string]: unknown };

export interface GroupSummary {
  readonly reason: RunnerSummary['reason'];
  readonly directions: readonly (RunnerSummary & {
    readonly name: string;
    readonly counters: DirectionCounters;
  })[];
}

export { DEFAULT_TOMBSTONE_TTL_MS } from './group-stamp.js';
const SAMPLE_ITEMS = 100;
const EMPTY_PAGES_AT_TIP = 3;

/** Refusals that need no request: fewer than two members, ids unusable or repeated, labels repeated. */
export function checkGroupMembers(members: readonly Pick<GroupMember, 'id' | 'label'>[]): void {
  if (members.length < 2) throw new UsageError('a multi-active group needs at least two members');
  const ids = new Set<string>();
  const labels = new Set<string>();
  for (const m of members) {
    checkMemberId(m.id);
    const label = m.label ?? m.id;
    if (labels.has(label)) throw new UsageError(`member ${label} is listed twice`);
    if (ids.has(m.id)) throw new UsageError(`member id "${m.id}" is given to two members; ids must differ`);
    ids.add(m.id);
    labels.add(label);
  }
}

interface Described {
  readonly member: GroupMember;
  readonly streamArn: string;
}

/** Every member's table: a NEW_AND_OLD_IMAGES stream, the first member's key schema, no foreign metadata. */
async function describeMembers(
  members: readonly GroupMember[],
  names: GroupMetadataNames,
): Promise<{ described: Described[]; keySchema: KeySchema }> {
  const infos = await Promise.all(members.map((m) => describeTable(m.client, m.table)));
  const first = infos[0] as (typeof infos)[number];
  const label = (m: GroupMember): string => m.label ?? m.id;
  const described = infos.map((info, i) => {
    const m = members[i] as GroupMember;
    assertSameKeySchema(first.keySchema, info.keySchema, [label(members[0] as GroupMember), label(m)]);
    if (!info.streamArn)
      throw new NotFoundError(
        `${label(m)} has no stream enabled; a group member needs one with StreamViewType NEW_AND_OLD_IMAGES`,
      );
    if (info.streamViewType !== 'NEW_AND_OLD_IMAGES')
      throw new UsageError(
        `the stream of ${label(m)} is ${info.streamViewType ?? 'of unknown type'}; a group member needs NEW_AND_OLD_IMAGES ` +
          '(the old image tells a member what a replicated write replaced)',
      );
    return { member: m, streamArn: info.streamArn };
  });
  checkMetadataNames(names, first.keySchema);
  await Promise.all(members.map((m) => checkSample(m, names, label(m))));
  return { described, keySchema: first.keySchema };
}

/** The first items of a member must not hold application values under the metadata names. */
async function checkSample(m: GroupMember, names: GroupMetadataNames, label: string): Promise<void> {
  for await (const page of scanPages(m.client, { table: m.table, pageSize: SAMPLE_ITEMS })) {
    for (const item of page) {
      const problem = foreignMetadata(item, names);
      if (problem)
        throw new UsageError(
          `${label} has items with an attribute the group would use for its metadata (${problem}); ` +
            'choose other names with --metadata-attributes STAMP,EXPIRES',
        );
    }
    return;
  }
}

/**
 * Reads the records of `streamArn` that lie before the checkpoint (from each shard's oldest record)
 * and hands them to `observe`: the direction's memory of the source's local writes, as it was.
 */
export async function readBeforeCheckpoint(
  streams: DynamoDBStreamsClient,
  streamArn: string,
  state: CheckpointState | undefined,
  observe: (changes: ReturnType<typeof changeFromSdkRecord>[]) => void,
  signal?: AbortSignal,
): Promise<number> {
  if (!state || state.streamArn !== streamArn) return 0;
  const stream = await describeStream(streams, streamArn, signal);
  let count = 0;
  for (const shard of parentFirstOrder(stream.shards)) {
    const c = state.shards[shard.shardId];
    if (!c?.finished && !c?.sequenceNumber) continue;
    const reader = new ShardReader(streams, streamArn, shard.shardId, { type: 'TRIM_HORIZON' });
    // Records up to the resume point: through `sequenceNumber`, or before it when it is inclusive.
    const before = (seq: string): boolean => {
      if (c.finished && !c.sequenceNumber) return true;
      const cmp = compareSequenceNumbers(seq, c.sequenceNumber as string);
      return c.inclusive ? cmp < 0 : cmp <= 0;
    };
    // An empty page may come before the records do (a shard read from its trim horizon): only a
    // few in a row mean the shard's tip, with the checkpoint's record trimmed away.
    for (let empty = 0; empty < EMPTY_PAGES_AT_TIP && !signal?.aborted;) {
      const page = await reader.next(signal);
      const changes = page.records.map((r, i) => changeFromSdkRecord(r, i, shard.shardId));
      const kept = changes.filter((x) => before(x.sequenceNumber));
      observe(kept);
      count += kept.length;
      const last = kept.at(-1)?.sequenceNumber;
      const atCheckpoint = last !== undefined && c.sequenceNumber !== undefined && last === c.sequenceNumber;
      if (page.end || kept.length < changes.length || atCheckpoint) break;
      empty = changes.length === 0 ? empty + 1 : 0;
    }
  }
  return count;
}

/**
 * Runs the group until `signal` aborts or, with `stopWhenIdleMs`, every direction is idle.
 *
 * @example
 * const members = [
 *   { id: 'us', client: usClient, streams: usStreams, table: 'users' },
 *   { id: 'eu', client: euClient, streams: euStreams, table: 'users' },
 * ];
 * await replicateGroup({
 *   members,
 *   checkpoint: (s, t) => new FileCheckpointStore(`.dynamodb-replicator/users-${s.id}-to-${t.id}.json`),
 *   conflictLog: openObjectStore('./users-conflicts'),
 *   signal: AbortSignal.timeout(60_000),
 * });
 */
export async function replicateGroup(o: ReplicateGroupOptions): Promise<GroupSummary> {
  checkGroupMembers(o.members);
  const names = o.metadata ?? DEFAULT_GROUP_METADATA;
  const { described, keySchema } = await describeMembers(o.members, names);
  const ids = o.members.map((m) => m.id);
  const emit = (event: GroupEvent): void => o.onEvent?.(event);
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) stop.abort();
  const leases: CheckpointLease[] = [];
  try {
    const runs: Run[] = [];
    for (const from of described) {
      for (const to of described) {
        if (from === to) continue;
        const ctx: GroupContext = {
          self: from.member.id,
          names,
          keySchema,
          tombstoneTtlMs: o.tombstoneTtlMs ?? DEFAULT_TOMBSTONE_TTL_MS,
        };
        const direction = new GroupDirection(
          { id: from.member.id, client: from.member.client, table: from.member.table },
          { id: to.member.id, client: to.member.client, table: to.member.table },
          ids,
          ctx,
          new ConflictLog(o.conflictLog, `${from.member.id}-to-${to.member.id}`),
        );
        const store = o.checkpoint(from.member, to.member);
        if (!store.lease) throw new TypeError(`${store.description} has no lease`);
        const lease = await store.lease({ signal: stop.signal });
        leases.push(lease);
        emit({ event: 'lease-acquired', direction: direction.name, holder: lease.holder });
        runs.push(new Run(from, to.member, direction, lease, keySchema, o, stop.signal, emit));
      }
    }
    for (const run of runs) await run.prepare();
    o.onDirections?.(
      runs.map((run) => ({
        name: run.direction.name,
        counters: run.direction.counters,
        stats: () => run.stats(),
      })),
    );
    return await runAll(runs, o, stop, emit);
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await Promise.all(leases.map((l) => l.release().catch(() => {})));
  }
}

/**
 * One direction's runner, started again after a failure that may pass (a member unreachable for
 * longer than the stream reader's retries): the memory is rebuilt from the checkpoint first, so
 * the records after it are decided as the first time. Bad configuration, a stream gap or a lost
 * lease stop the group.
 */
class Run {
  private runner: StreamRunner | undefined;

  constructor(
    private readonly from: Described,
    private readonly to: GroupMember,
    readonly direction: GroupDirection,
    private readonly lease: CheckpointLease,
    private readonly keySchema: KeySchema,
    private readonly o: ReplicateGroupOptions,
    private readonly signal: AbortSignal,
    private readonly emit: (event: GroupEvent) => void,
  ) {}

  stats(): RunnerStats {
    return (this.runner as StreamRunner).stats();
  }

  /** Rebuilds the memory up to the checkpoint and makes a fresh runner. */
  async prepare(): Promise<void> {
    this.direction.forget();
    const state = await this.lease.store.load();
    const member = this.from.member;
    const records = await readBeforeCheckpoint(
      member.streams,
      this.from.streamArn,
      state,
      (changes) => this.direction.observe(changes),
      this.signal,
    );
    this.emit({ event: 'memory-rebuilt', direction: this.direction.name, records });
    this.runner = new StreamRunner({
      streams: member.streams,
      streamArn: this.from.streamArn,
      apply: { replicas: [{ client: this.to.client, table: this.to.table }], keySchema: this.keySchema },
      applier: this.direction.apply,
      checkpoint: this.lease.store,
      lease: this.lease,
      from: 'trim-horizon',
      parallel: this.o.parallel ?? 4,
      ...(this.o.polling ? { polling: this.o.polling } : {}),
      signal: this.signal,
      log: (event) => this.emit({ ...event, event: String(event.event), direction: this.direction.name }),
    });
  }

  async run(): Promise<RunnerSummary> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (attempt > 1) await this.prepare();
        return await (this.runner as StreamRunner).run();
      } catch (error) {
        if (this.signal.aborted && this.runner) return { ...this.runner.stats(), reason: 'stopped' };
        // Refusals, a stream gap and a lost lease are final; a service or network failure may pass.
        if (error instanceof ReplicatorError && !(error instanceof ServiceError)) throw error;
        this.emit({
          event: 'direction-restart',
          direction: this.direction.name,
          attempt,
          error: error instanceof Error ? error.message : String(error),
        });
        await sleep(backoffDelay(attempt, APPLY_RETRY), this.signal).catch(() => {});
        if (this.signal.aborted && this.runner) return { ...this.runner.stats(), reason: 'stopped' };
      }
    }
  }
}

function allCaughtUp(runs: readonly Run[]): boolean {
  return runs.every((run) => {
    const shards = run.stats().shards;
    return shards.length > 0 && shards.every((s) => s.state === 'finished' || s.caughtUp);
  });
}

async function runAll(
  runs: readonly Run[],
  o: ReplicateGroupOptions,
  stop: AbortController,
  emit: (event: GroupEvent) => void,
): Promise<GroupSummary> {
  let reason: RunnerSummary['reason'] = 'stopped';
  let firstError: unknown;
  let lastTotal = -1;
  let quietSince = performance.now();
  const total = (): number => runs.reduce((n, r) => n + r.stats().records, 0);
  // Idle is judged over the whole group: one direction's writes become another's records.
  const watch = setInterval(() => {
    const now = performance.now();
    const t = total();
    if (t !== lastTotal) {
      lastTotal = t;
      quietSince = now;
    }
    const caughtUp = allCaughtUp(runs);
    if (o.stopWhenIdleMs !== undefined && caughtUp && now - quietSince >= o.stopWhenIdleMs) {
      reason = 'idle';
      stop.abort();
    }
  }, 100);
  const ticker = setInterval(() => {
    emit({
      event: 'stats',
      directions: runs.map((run) => {
        const s = run.stats();
        return {
          name: run.direction.name,
          records: s.records,
          ...(s.lagMs !== undefined ? { lagMs: s.lagMs } : {}),
        };
      }),
      records: total(),
      caughtUp: allCaughtUp(runs),
      conflicts: runs.reduce((n, r) => n + r.direction.counters.conflicts, 0),
    });
  }, o.statsEveryMs ?? 5_000);
  ticker.unref();
  try {
    const results = await Promise.all(
      runs.map((run) =>
        run.run().catch((error: unknown) => {
          firstError ??= error;
          stop.abort();
          return undefined;
        }),
      ),
    );
    if (firstError) throw firstError;
    const summary: GroupSummary = {
      reason,
      directions: results.map((r, i) => ({
        ...(r as RunnerSummary),
        name: (runs[i] as (typeof runs)[number]).direction.name,
        counters: (runs[i] as (typeof runs)[number]).direction.counters,
      })),
    };
    emit({ event: 'stopped', ...summary });
    return summary;
  } finally {
    clearInterval(watch);
    clearInterval(ticker);
  }
}
