import type { Item, Key } from './types.js';

/** What happened to an item, as DynamoDB Streams names it. */

/**
 * How far a stream creation time may sit before the moment, on our clock, at which its change
 * happened: DynamoDB stamps records from its own clock, truncated to the second (to the minute on
 * DynamoDB Local). Comparisons of stream times with our times allow this much.
 */
export const STREAM_CLOCK_MARGIN_MS = 5 * 60_000;
export type EventName = 'INSERT' | 'MODIFY' | 'REMOVE';

export type StreamViewType = 'KEYS_ONLY' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES';

/**
 * The one change model: a change read from a Lambda DynamoDB stream event, from Streams GetRecords,
 * from the backup change log or from an AWS incremental export is this type.
 */
export interface Change {
  readonly eventName: EventName;
  /** The key attributes of the changed item. */
  readonly keys: Key;
  readonly newImage?: Item;
  readonly oldImage?: Item;
  /** Stream sequence number (a decimal string; compare with compareSequenceNumbers). */
  readonly sequenceNumber: string;
  /**
   * Approximate creation time in epoch milliseconds, with sub-second precision where the source has
   * it (GetRecords gives a Date; Lambda gives whole seconds). Undefined when the source gave none.
   */
  readonly approximateCreationTime?: number;
  /** The shard the record came from, when known. */
  readonly shardId?: string;
  readonly streamViewType?: StreamViewType;
  /** The event source's id (Lambda `eventID`), when known. */
  readonly eventId?: string;
  /** Bytes of the record as DynamoDB counted them, when known. */
  readonly sizeBytes?: number;
}

/** Sequence numbers are decimal strings up to ~40 digits: compare by length, then lexically. */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}
