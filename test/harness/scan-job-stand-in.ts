/**
 * A STAND-IN for the segment task code's Lambda handler (jobs/tasks.ts + lambda/scan-job.ts, built
 * on another branch), answering the same contract the ScanJob state machine drives:
 *
 *   { action: 'plan', work, jobId, kind, params, segments } -> { work, jobId, kind, segments, created, tasks }
 *   { action: 'slice', work, jobId, segment, capacity? }    -> { work, jobId, segment, done, slice, totals }
 *   { action: 'merge', work, jobId }                        -> { work, jobId, kind, done, pending, totals, result? }
 *
 * Its one kind, `count`, counts a table's items: each slice scans up to `params.itemsPerSlice` items
 * of its DynamoDB segment from the continuation committed in the job folder (s3rver), and commits
 * the next one; the merge adds the segments' counts. `params.failSegment` makes that segment's
 * slices throw every time; `params.busySegment` makes its first slice throw SegmentBusyError;
 * `params.badSegment` makes its slices throw InvalidDataError (not worth a retry).
 * Once the branches meet, the same test runs with the real handler.
 */
import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ObjectStore } from '../../src/storage/object-store.js';

interface SegmentState {
  slice: number;
  done: boolean;
  lastKey: Record<string, AttributeValue> | null;
  items: number;
}

interface Job {
  kind: string;
  segments: number;
  params: {
    table: string;
    itemsPerSlice: number;
    failSegment?: number;
    busySegment?: number;
    badSegment?: number;
  };
}

class SegmentBusyError extends Error {
  override name = 'SegmentBusyError';
}

class InjectedError extends Error {
  override name = 'InjectedError';
}

/** Named like the task code's error for data no retry can fix (core/errors.ts). */
class InvalidDataError extends Error {
  override name = 'InvalidDataError';
}

export interface StandIn {
  handler(event: unknown): Promise<unknown>;
  /** Every slice invocation's segment and capacity, in order. */
  readonly slices: { segment: number; capacity: unknown }[];
}

export function scanJobStandIn(o: {
  client: DynamoDBClient;
  openWork: (work: string) => ObjectStore;
}): StandIn {
  const slices: StandIn['slices'] = [];
  const busied = new Set<number>();
  const readJson = async <T>(store: ObjectStore, key: string): Promise<T | undefined> =>
    (await store.exists(key)) ? (JSON.parse((await store.get(key)).toString('utf8')) as T) : undefined;
  const stateOf = async (folder: ObjectStore, segment: number): Promise<SegmentState> =>
    (await readJson<SegmentState>(folder, `segments/${segment}.json`)) ?? {
      slice: 0,
      done: false,
      lastKey: null,
      items: 0,
    };

  async function slice(work: string, jobId: string, segment: number, capacity: unknown) {
    slices.push({ segment, capacity });
    const folder = o.openWork(work).at(jobId);
    const job = (await readJson<Job>(folder, 'job.json')) as Job;
    if (job.params.failSegment === segment) throw new InjectedError(`segment ${segment} cannot be read`);
    if (job.params.badSegment === segment) throw new InvalidDataError(`segment ${segment} holds a bad item`);
    if (job.params.busySegment === segment && !busied.has(segment)) {
      busied.add(segment);
      throw new SegmentBusyError(`segment ${segment} is claimed by another run`);
    }
    const prev = await stateOf(folder, segment);
    const page = await o.client.send(
      new ScanCommand({
        TableName: job.params.table,
        Segment: segment,
        TotalSegments: job.segments,
        Limit: job.params.itemsPerSlice,
        ...(prev.lastKey ? { ExclusiveStartKey: prev.lastKey } : {}),
      }),
    );
    const next: SegmentState = {
      slice: prev.slice + 1,
      done: page.LastEvaluatedKey === undefined,
      lastKey: page.LastEvaluatedKey ?? null,
      items: prev.items + (page.Items?.length ?? 0),
    };
    await folder.put(`segments/${segment}.json`, JSON.stringify(next));
    return { work, jobId, segment, done: next.done, slice: next.slice, totals: { items: next.items } };
  }

  async function handler(event: unknown): Promise<unknown> {
    const e = event as Record<string, unknown> & { work: string; jobId: string };
    const folder = o.openWork(e.work).at(e.jobId);
    switch (e.action) {
      case 'plan': {
        const created = !(await folder.exists('job.json'));
        const job: Job = {
          kind: e.kind as string,
          segments: e.segments as number,
          params: e.params as Job['params'],
        };
        if (created) await folder.put('job.json', JSON.stringify(job));
        const tasks = Array.from({ length: job.segments }, (_, segment) => ({
          work: e.work,
          jobId: e.jobId,
          segment,
        }));
        return { work: e.work, jobId: e.jobId, kind: job.kind, segments: job.segments, created, tasks };
      }
      case 'slice':
        if (e.budget !== undefined) throw new Error("a slice budget is the handler's own (remaining time)");
        return slice(e.work, e.jobId, e.segment as number, e.capacity);
      case 'merge': {
        const job = (await readJson<Job>(folder, 'job.json')) as Job;
        const states = await Promise.all(Array.from({ length: job.segments }, (_, s) => stateOf(folder, s)));
        const pending = states.flatMap((s, i) => (s.done ? [] : [i]));
        const totals = { items: states.reduce((n, s) => n + s.items, 0) };
        if (pending.length > 0)
          return { work: e.work, jobId: e.jobId, kind: job.kind, done: false, pending, totals };
        await folder.put('result.json', JSON.stringify(totals));
        return { work: e.work, jobId: e.jobId, kind: job.kind, done: true, pending, totals, result: totals };
      }
      default:
        throw new Error(`unknown action ${String(e.action)}`);
    }
  }
  return { handler, slices };
}
