/**
 * Synthesized DynamoDB stream records in Lambda's event shape, from an in-memory model of the source:
 * random puts, updates and deletes over a small key space become INSERT / MODIFY / REMOVE records
 * with NEW_AND_OLD_IMAGES and increasing sequence numbers, exactly as DynamoDB emits them for those
 * operations (deleting a missing item emits nothing). Thousands of changes need no source table.
 */
import { seededRandom } from '../harness/fault-proxy.js';

export type Json = Record<string, unknown>;

export interface EventRecord {
  eventID: string;
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  eventSource: 'aws:dynamodb';
  eventVersion: '1.1';
  awsRegion: string;
  eventSourceARN: string;
  dynamodb: Json & { SequenceNumber: string; ApproximateCreationDateTime: number };
}

export function streamArn(table: string): string {
  return `arn:aws:dynamodb:us-east-1:123456789012:table/${table}/stream/2026-01-01T00:00:00.000`;
}

/**
 * `ops` random operations on keys `<prefix>k0..k<keys-1>`; `changesPerSecond` records share each
 * ApproximateCreationDateTime second from `startSecond` on. Returns the records and the final state.
 */
export function generateChanges(
  seed: number,
  ops: number,
  o: { keys: number; arn: string; prefix: string; startSecond: number; changesPerSecond: number },
): { records: EventRecord[]; state: Map<string, Json> } {
  const random = seededRandom(seed);
  const state = new Map<string, Json>();
  const records: EventRecord[] = [];
  let seq = 1000n + BigInt(seed) * 1_000_000n;
  for (let i = 0; i < ops; i++) {
    const id = `${o.prefix}k${Math.floor(random() * o.keys)}`;
    const keys = { id: { S: id } };
    const old = state.get(id);
    const r = random();
    let next: Json | undefined;
    if (r < 0.45) next = { ...keys, v: { N: `${i}.${seed}00000000000000000000000000001` }, op: { S: 'put' } };
    else if (r < 0.75)
      next = {
        ...(old ?? keys),
        u: { N: String(i) },
        b: { B: Buffer.from([i % 256, seed % 256]).toString('base64') },
        tags: { SS: [`t${i % 3}`, 'x'] },
      };
    if (next === undefined && old === undefined) continue;
    seq += BigInt(1 + Math.floor(random() * 5));
    const eventName = next === undefined ? 'REMOVE' : old === undefined ? 'INSERT' : 'MODIFY';
    if (next === undefined) state.delete(id);
    else state.set(id, next);
    records.push({
      eventID: `e${seq}`,
      eventName,
      eventSource: 'aws:dynamodb',
      eventVersion: '1.1',
      awsRegion: 'us-east-1',
      eventSourceARN: o.arn,
      dynamodb: {
        ApproximateCreationDateTime: o.startSecond + Math.floor(i / o.changesPerSecond),
        Keys: keys,
        ...(next ? { NewImage: next } : {}),
        ...(old ? { OldImage: old } : {}),
        SequenceNumber: String(seq).padStart(21, '0'),
        SizeBytes: 100,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
  }
  return { records, state };
}

/** The source's state after the records up to and including creation second `second`. */
export function stateAt(records: readonly EventRecord[], second: number): Map<string, Json> {
  const state = new Map<string, Json>();
  for (const r of records) {
    if (r.dynamodb.ApproximateCreationDateTime > second) break;
    const id = (r.dynamodb.Keys as { id: { S: string } }).id.S;
    if (r.eventName === 'REMOVE') state.delete(id);
    else state.set(id, r.dynamodb.NewImage as Json);
  }
  return state;
}

/**
 * Delivers `records` to a stream handler as Lambda does: batches of random size; a
 * batchItemFailures answer re-delivers from the named record, a throw re-delivers the whole batch;
 * with probability `duplicates` a successful batch is delivered again from a random record.
 */
export async function deliver(
  records: readonly EventRecord[],
  handle: (event: unknown) => Promise<{ batchItemFailures: readonly { itemIdentifier: string }[] }>,
  o: { random: () => number; maxBatch: number; duplicates: number },
  stats: { deliveries: number; partial: number; thrown: number; duplicates: number },
): Promise<void> {
  let start = 0;
  while (start < records.length) {
    const size = 1 + Math.floor(o.random() * o.maxBatch);
    let batch = records.slice(start, start + size);
    for (let attempt = 0; batch.length > 0; attempt++) {
      if (attempt >= 100) throw new Error('a batch never got through in 100 deliveries');
      stats.deliveries++;
      let failedAt: string | undefined;
      try {
        const response = await handle(JSON.parse(JSON.stringify({ Records: batch })));
        failedAt = response.batchItemFailures[0]?.itemIdentifier;
        if (failedAt !== undefined) stats.partial++;
      } catch {
        stats.thrown++;
        failedAt = batch[0]?.dynamodb.SequenceNumber;
      }
      if (failedAt !== undefined) {
        const from = batch.findIndex((r) => r.dynamodb.SequenceNumber === failedAt);
        if (from < 0) throw new Error(`batchItemFailures names a record outside the batch: ${failedAt}`);
        batch = batch.slice(from);
      } else if (o.random() < o.duplicates) {
        stats.duplicates++;
        batch = batch.slice(Math.floor(o.random() * batch.length));
      } else batch = [];
    }
    start += size;
  }
}
