/**
 * A DynamoDB stream whose shards split and close, served through the fault proxy. DynamoDB Local
 * keeps one open shard per stream and never closes or splits it, while real streams close each
 * shard after a few hours and split hot ones; a runner that read a child before its parent would
 * apply old images over new ones. This model answers DescribeStream, GetShardIterator and
 * GetRecords from synthesized records laid out in a lineage, releasing them over time so children
 * appear only once their parent has closed, as the service does:
 *
 *   P: the first third (every key), closed
 *   ├─ A: the second third, keys of even number, closed
 *   │   └─ A1: the last third, keys of even number, open
 *   └─ B: the second and last thirds, keys of odd number, open
 *
 * DescribeStream lists the shards children first, two per page, so the reader must page and order.
 * GetRecords returns at most 50 records per call (the service may return fewer than asked).
 */
import type { FaultRule } from '../harness/fault-proxy.js';
import type { EventRecord } from './synthetic-stream.js';

interface Shard {
  readonly id: string;
  readonly parent?: string;
  /** Global record indexes [from, to); an open shard runs to the end. */
  readonly from: number;
  readonly to: number;
  readonly open: boolean;
  /** This shard's records with their global index. */
  readonly records: readonly { readonly index: number; readonly record: EventRecord }[];
}

type Json = Record<string, unknown>;

const keyNumber = (r: EventRecord): number =>
  Number(/k(\d+)$/.exec((r.dynamodb.Keys as { id: { S: string } }).id.S)?.[1] ?? 0);

export interface SplitStream {
  /** The proxy rule serving the stream reads. */
  readonly rule: FaultRule;
  readonly shardIds: readonly string[];
  /** Starts releasing records, `perSecond` of them each second (Infinity: all at once). */
  start(perSecond: number): void;
  /** Reads served, by shard. */
  readonly reads: Readonly<Record<string, number>>;
  /** Reads of a child shard served before its parent's last page had been served. */
  readonly violations: readonly string[];
}

const PAGE_LIMIT = 50;

export function splitStream(records: readonly EventRecord[], table: string): SplitStream {
  const n = records.length;
  const third = Math.floor(n / 3);
  const shard = (
    id: string,
    parent: string | undefined,
    from: number,
    to: number,
    keep: (r: EventRecord) => boolean,
  ): Shard => ({
    id,
    ...(parent ? { parent } : {}),
    from,
    to,
    open: to === n,
    records: records
      .map((record, index) => ({ index, record }))
      .filter(({ index, record }) => index >= from && index < to && keep(record)),
  });
  const even = (r: EventRecord) => keyNumber(r) % 2 === 0;
  const odd = (r: EventRecord) => !even(r);
  const shards: Shard[] = [
    shard('shardId-0003-a1', 'shardId-0001-a', 2 * third, n, even),
    shard('shardId-0002-b', 'shardId-0000-p', third, n, odd),
    shard('shardId-0001-a', 'shardId-0000-p', third, 2 * third, even),
    shard('shardId-0000-p', undefined, 0, third, () => true),
  ];
  const byId = new Map(shards.map((s) => [s.id, s]));
  let startedAt: number | undefined;
  let perSecond = 1;
  const reads: Record<string, number> = {};
  const ended = new Set<string>();
  const violations: string[] = [];

  const released = (): number =>
    startedAt === undefined
      ? 0
      : perSecond === Infinity
        ? n
        : Math.min(n, Math.floor(((Date.now() - startedAt) * perSecond) / 1000));
  const listed = (s: Shard): boolean => s.from === 0 || released() >= s.from;
  const closed = (s: Shard): boolean => !s.open && released() >= s.to;
  const visible = (s: Shard) => s.records.filter((r) => r.index < released());
  const seq = (r: EventRecord) => BigInt(r.dynamodb.SequenceNumber);

  const iterator = (id: string, position: number): string =>
    Buffer.from(JSON.stringify({ id, position })).toString('base64');

  function describeStream(input: Json): Json {
    const all = shards.filter(listed);
    const after = input.ExclusiveStartShardId as string | undefined;
    const from = after ? all.findIndex((s) => s.id === after) + 1 : 0;
    const page = all.slice(from, from + 2);
    const last = page.at(-1);
    return {
      StreamDescription: {
        StreamArn: input.StreamArn,
        StreamStatus: 'ENABLED',
        StreamViewType: 'NEW_AND_OLD_IMAGES',
        TableName: table,
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        Shards: page.map((s) => ({
          ShardId: s.id,
          ...(s.parent ? { ParentShardId: s.parent } : {}),
          SequenceNumberRange: {
            StartingSequenceNumber: s.records[0]?.record.dynamodb.SequenceNumber ?? '0',
            ...(closed(s) ? { EndingSequenceNumber: s.records.at(-1)?.record.dynamodb.SequenceNumber } : {}),
          },
        })),
        ...(from + 2 < all.length && last ? { LastEvaluatedShardId: last.id } : {}),
      },
    };
  }

  function getShardIterator(input: Json): Json {
    const s = byId.get(input.ShardId as string);
    if (!s) throw new Error(`no shard ${String(input.ShardId)}`);
    const type = input.ShardIteratorType as string;
    const at = input.SequenceNumber === undefined ? 0n : BigInt(input.SequenceNumber as string);
    let position = 0;
    if (type === 'LATEST') position = visible(s).length;
    else if (type === 'AT_SEQUENCE_NUMBER') position = s.records.findIndex((r) => seq(r.record) >= at);
    else if (type === 'AFTER_SEQUENCE_NUMBER') position = s.records.findIndex((r) => seq(r.record) > at);
    if (position < 0) position = s.records.length;
    return { ShardIterator: iterator(s.id, position) };
  }

  function getRecords(input: Json): Json {
    const { id, position } = JSON.parse(Buffer.from(input.ShardIterator as string, 'base64').toString()) as {
      id: string;
      position: number;
    };
    const s = byId.get(id) as Shard;
    reads[id] = (reads[id] ?? 0) + 1;
    if (s.parent && !ended.has(s.parent)) violations.push(`${id} read before ${s.parent} ended`);
    const limit = Math.min(PAGE_LIMIT, (input.Limit as number | undefined) ?? PAGE_LIMIT);
    const page = visible(s).slice(position, position + limit);
    const next = position + page.length;
    const out = page.map(({ record }) => {
      const { eventSourceARN: _arn, ...rest } = record;
      return rest;
    });
    const end = closed(s) && next >= s.records.length;
    if (end) ended.add(id);
    return { Records: out, ...(end ? {} : { NextShardIterator: iterator(id, next) }) };
  }

  const rule: FaultRule = {
    operation: /^(DescribeStream|GetShardIterator|GetRecords)$/,
    fault: {
      kind: 'serve',
      answer: (operation, input) =>
        operation === 'DescribeStream'
          ? describeStream(input)
          : operation === 'GetShardIterator'
            ? getShardIterator(input)
            : getRecords(input),
    },
  };
  return {
    rule,
    shardIds: shards.map((s) => s.id),
    start(rate) {
      perSecond = rate;
      startedAt = Date.now();
    },
    reads,
    violations,
  };
}
