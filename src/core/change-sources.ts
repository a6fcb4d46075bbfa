/**
 * Builds the one change model from the two shapes a stream record arrives in: a Lambda
 * `DynamoDBStreamEvent` record (images as DynamoDB JSON, binary as base64, creation time in epoch
 * seconds) and a DynamoDB Streams `GetRecords` record from the AWS SDK (images already typed,
 * creation time a Date). Lambda input is validated strictly: a malformed record is an
 * InvalidDataError naming the record's index and the problem, before anything is written.
 */
import type { Change, EventName, StreamViewType } from './change.js';
import { compareSequenceNumbers } from './change.js';
import { canonicalKey } from './canonical-key.js';
import { InvalidDataError, ItemLimitError } from './errors.js';
import { fromDynamoJson } from './ddb-json.js';
import { setAttribute } from './attribute-map.js';
import { assertStructure, structureProblem } from './item-limits.js';
import { secondsToEpochMs } from './turnover.js';
import type { Item } from './types.js';

/** One record of a Lambda DynamoDB stream event, as Lambda delivers it (JSON). */
export interface LambdaStreamRecord {
  eventID?: string;
  eventName?: string;
  eventVersion?: string;
  eventSource?: string;
  awsRegion?: string;
  dynamodb?: {
    ApproximateCreationDateTime?: number;
    Keys?: Record<string, unknown>;
    NewImage?: Record<string, unknown>;
    OldImage?: Record<string, unknown>;
    SequenceNumber?: string;
    SizeBytes?: number;
    StreamViewType?: string;
  };
  eventSourceARN?: string;
}

/** A Lambda `DynamoDBStreamEvent`. */
export interface LambdaStreamEvent {
  Records: LambdaStreamRecord[];
}

/**
 * The part of the SDK's `_Record` (client-dynamodb-streams) this module reads. Declared here because
 * core/ does not import the SDK; the SDK type is assignable to it.
 */
export interface SdkStreamRecord {
  readonly eventID?: string | undefined;
  readonly eventName?: string | undefined;
  readonly dynamodb?:
    | {
        readonly ApproximateCreationDateTime?: Date | undefined;
        readonly Keys?: Record<string, unknown> | undefined;
        readonly NewImage?: Record<string, unknown> | undefined;
        readonly OldImage?: Record<string, unknown> | undefined;
        readonly SequenceNumber?: string | undefined;
        readonly SizeBytes?: number | undefined;
        readonly StreamViewType?: string | undefined;
      }
    | undefined;
}

const EVENT_NAMES: ReadonlySet<string> = new Set(['INSERT', 'MODIFY', 'REMOVE']);
const VIEW_TYPES: ReadonlySet<string> = new Set([
  'KEYS_ONLY',
  'NEW_IMAGE',
  'OLD_IMAGE',
  'NEW_AND_OLD_IMAGES',
]);
const SEQUENCE_NUMBER = /^\d{1,64}$/;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing (the field is missing)';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `"${v.length > 40 ? v.slice(0, 40) + '...' : v}"`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function recordLabel(index: number, record: unknown): string {
  const id = isObject(record) && typeof record.eventID === 'string' ? ` (eventID ${record.eventID})` : '';
  return `stream record ${index}${id}`;
}

/** Fields both record shapes share once their images are typed. */
interface CommonFields {
  readonly eventName: unknown;
  readonly keys: Item;
  readonly newImage: Item | undefined;
  readonly oldImage: Item | undefined;
  readonly sequenceNumber: unknown;
  readonly sizeBytes: unknown;
  readonly streamViewType: unknown;
  readonly eventId: unknown;
}

function buildChange(where: string, f: CommonFields, approximateCreationTime: number | undefined): Change {
  const fail = (problem: string): never => {
    throw new InvalidDataError(`${where}: ${problem}`);
  };
  if (typeof f.eventName !== 'string' || !EVENT_NAMES.has(f.eventName)) {
    fail(`eventName must be INSERT, MODIFY or REMOVE, got ${describe(f.eventName)}`);
  }
  const eventName = f.eventName as EventName;
  if (typeof f.sequenceNumber !== 'string' || !SEQUENCE_NUMBER.test(f.sequenceNumber)) {
    fail(`dynamodb.SequenceNumber must be a decimal string, got ${describe(f.sequenceNumber)}`);
  }
  if (Object.keys(f.keys).length === 0) fail('dynamodb.Keys is empty');
  let streamViewType: StreamViewType | undefined;
  if (f.streamViewType !== undefined) {
    if (typeof f.streamViewType !== 'string' || !VIEW_TYPES.has(f.streamViewType)) {
      fail(
        `dynamodb.StreamViewType must be KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES, got ${describe(f.streamViewType)}`,
      );
    }
    streamViewType = f.streamViewType as StreamViewType;
  }
  // A stream that promises new images but sent none for an insert or update is corrupt, not KEYS_ONLY.
  const promisesNewImage = streamViewType === 'NEW_IMAGE' || streamViewType === 'NEW_AND_OLD_IMAGES';
  if (promisesNewImage && eventName !== 'REMOVE' && f.newImage === undefined) {
    fail(`${eventName} record of a ${streamViewType} stream has no dynamodb.NewImage`);
  }
  if (
    f.sizeBytes !== undefined &&
    !(typeof f.sizeBytes === 'number' && Number.isInteger(f.sizeBytes) && f.sizeBytes >= 0)
  ) {
    fail(`dynamodb.SizeBytes must be a non-negative integer, got ${describe(f.sizeBytes)}`);
  }
  if (f.eventId !== undefined && typeof f.eventId !== 'string') {
    fail(`eventID must be a string, got ${describe(f.eventId)}`);
  }
  return {
    eventName,
    keys: f.keys,
    ...(f.newImage !== undefined ? { newImage: f.newImage } : {}),
    ...(f.oldImage !== undefined ? { oldImage: f.oldImage } : {}),
    sequenceNumber: f.sequenceNumber as string,
    ...(approximateCreationTime !== undefined ? { approximateCreationTime } : {}),
    ...(streamViewType !== undefined ? { streamViewType } : {}),
    ...(typeof f.eventId === 'string' ? { eventId: f.eventId } : {}),
    ...(typeof f.sizeBytes === 'number' ? { sizeBytes: f.sizeBytes } : {}),
  };
}

/**
 * One Lambda stream record -> Change. `index` is the record's position in the event, used in
 * error messages. Lambda gives no shard id, so `shardId` stays undefined.
 */
export function changeFromLambdaRecord(record: unknown, index: number): Change {
  const where = recordLabel(index, record);
  if (!isObject(record)) throw new InvalidDataError(`${where}: expected an object, got ${describe(record)}`);
  const ddb = record.dynamodb;
  if (!isObject(ddb))
    throw new InvalidDataError(`${where}: dynamodb must be an object, got ${describe(ddb)}`);
  if (ddb.Keys === undefined) throw new InvalidDataError(`${where}: dynamodb.Keys is missing`);
  const image = (name: 'Keys' | 'NewImage' | 'OldImage'): Item | undefined => {
    if (ddb[name] === undefined) return undefined;
    // Before parsing: the parser recurses, and an image DynamoDB could not hold is a rejected record.
    assertStructure(ddb[name], `${where}: dynamodb.${name}`);
    if (isObject(ddb[name])) typeEmptyMaps(ddb[name]);
    return fromDynamoJson(ddb[name], `${where}: dynamodb.${name}`);
  };
  const time = ddb.ApproximateCreationDateTime;
  if (time !== undefined && !(typeof time === 'number' && Number.isFinite(time) && time >= 0)) {
    throw new InvalidDataError(
      `${where}: dynamodb.ApproximateCreationDateTime must be a non-negative number of epoch seconds, got ${describe(time)}`,
    );
  }
  return buildChange(
    where,
    {
      eventName: record.eventName,
      keys: image('Keys') as Item,
      newImage: image('NewImage'),
      oldImage: image('OldImage'),
      sequenceNumber: ddb.SequenceNumber,
      sizeBytes: ddb.SizeBytes,
      streamViewType: ddb.StreamViewType,
      eventId: record.eventID,
    },
    time === undefined ? undefined : secondsToEpochMs(time),
  );
}

function eventRecords(event: unknown): unknown[] {
  if (!isObject(event) || !Array.isArray(event.Records)) {
    throw new InvalidDataError(
      `not a DynamoDB stream event: expected an object with a Records array, got ${isObject(event) ? `Records ${describe(event.Records)}` : describe(event)}`,
    );
  }
  return event.Records as unknown[];
}

/** Every record of a Lambda DynamoDB stream event -> Changes, in order. Throws on the first bad record. */
export function changesFromLambdaEvent(event: unknown): Change[] {
  return eventRecords(event).map((record, index) => changeFromLambdaRecord(record, index));
}

/** A record of a Lambda event whose image DynamoDB could not hold (ItemLimitError while reading it). */
export interface RejectedRecord {
  /** Position in the event's Records. */
  readonly index: number;
  readonly sequenceNumber?: string;
  /** canonicalKey of dynamodb.Keys, when they could be read. */
  readonly key?: string;
  readonly error: string;
}

/** A Lambda stream event, read and checked as one batch (see readLambdaBatch). */
export interface LambdaBatch {
  readonly changes: Change[];
  readonly rejected: RejectedRecord[];
  /** The one eventSourceARN every record names; undefined when the records carry none. */
  readonly streamArn?: string;
}

function rawSequenceNumber(record: unknown): string | undefined {
  const ddb = isObject(record) ? record.dynamodb : undefined;
  const n = isObject(ddb) ? ddb.SequenceNumber : undefined;
  return typeof n === 'string' && SEQUENCE_NUMBER.test(n) ? n : undefined;
}

function rawKey(record: unknown): string | undefined {
  try {
    const keys = (record as { dynamodb: { Keys: unknown } }).dynamodb.Keys;
    return structureProblem(keys) === undefined ? canonicalKey(fromDynamoJson(keys)) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A Lambda stream event as the handlers take it. Lambda delivers one shard of one stream per batch,
 * records in sequence-number order; an event that mixes eventSourceARNs, or whose sequence numbers
 * do not strictly increase, is not such a delivery (a hand-built or corrupted event), so it is refused
 * whole (InvalidDataError naming the records) before anything is written: sorting would guess at the
 * order of changes to one item, and sequence numbers of two streams do not compare at all.
 * A record whose image breaks one of DynamoDB's item limits (nesting, empty names) is returned in
 * `rejected` rather than refusing the batch: no retry can make it valid. Other malformed records
 * refuse the batch, as changesFromLambdaEvent does.
 */
export function readLambdaBatch(event: unknown): LambdaBatch {
  const records = eventRecords(event);
  const changes: Change[] = [];
  const rejected: RejectedRecord[] = [];
  let previous: { index: number; sequenceNumber: string } | undefined;
  records.forEach((record, index) => {
    const sequenceNumber = rawSequenceNumber(record);
    try {
      changes.push(changeFromLambdaRecord(record, index));
    } catch (error) {
      if (!(error instanceof ItemLimitError)) throw error;
      const key = rawKey(record);
      rejected.push({
        index,
        ...(sequenceNumber !== undefined ? { sequenceNumber } : {}),
        ...(key !== undefined ? { key } : {}),
        error: error.message,
      });
    }
    if (sequenceNumber === undefined) return;
    if (previous && compareSequenceNumbers(sequenceNumber, previous.sequenceNumber) <= 0) {
      throw new InvalidDataError(
        `stream record ${index} has sequence number ${sequenceNumber}, not after record ${previous.index}'s ${previous.sequenceNumber}: a batch's records must be in stream order`,
      );
    }
    previous = { index, sequenceNumber };
  });
  const arns = new Set(records.map((r) => (isObject(r) ? r.eventSourceARN : undefined)));
  if (arns.size > 1) {
    const names = [...arns].map((a) => (typeof a === 'string' ? a : 'none')).join(', ');
    throw new InvalidDataError(
      `the event mixes ${arns.size} event sources (${names}): a batch must come from one stream`,
    );
  }
  const arn = [...arns][0];
  return { changes, rejected, ...(typeof arn === 'string' ? { streamArn: arn } : {}) };
}

/** True for `{}` — an object with no own enumerable key (checked without allocating a key list). */
function isTypeless(v: object): boolean {
  for (const _ in v) return false;
  return true;
}

function typeEmptyMapsIn(map: Record<string, unknown>): void {
  for (const name in map) {
    const v = map[name];
    if (!isObject(v)) continue;
    if (isTypeless(v)) setAttribute(map, name, { M: {} });
    else typeEmptyMapsInValue(v);
  }
}

function typeEmptyMapsInValue(v: Record<string, unknown>): void {
  if (isObject(v.M)) typeEmptyMapsIn(v.M);
  else if (Array.isArray(v.L)) {
    const list = v.L as unknown[];
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (!isObject(e)) continue;
      if (isTypeless(e)) list[i] = { M: {} };
      else typeEmptyMapsInValue(e);
    }
  }
}

/**
 * Gives an empty map in a stream image its type back, in place: DynamoDB Local 3.x sends `{"M":{}}`
 * as `{}` in GetRecords images, at any depth (awslabs/amazon-dynamodb-local-samples#37; empty lists
 * keep their `L`), and DynamoDB refuses `{}` on write ("Supplied AttributeValue is empty"). The web
 * service always sends the type, and no other value can arrive without one, so `{}` can only be an
 * empty map. Recursive: images from DynamoDB, or checked by assertStructure first, nest at most
 * 32 levels. Exported for tests.
 */
export function typeEmptyMaps<T extends Record<string, unknown> | undefined>(image: T): T {
  if (image !== undefined) typeEmptyMapsIn(image);
  return image;
}

function typedImage(where: string, name: string, value: unknown): Item | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value))
    throw new InvalidDataError(`${where}: dynamodb.${name} must be an object, got ${describe(value)}`);
  return value as Item;
}

/**
 * One SDK GetRecords record -> Change, keeping the Date's millisecond precision. Images are typed by
 * the SDK already (its AttributeValue is structurally the core type). `shardId` is the shard read.
 */
export function changeFromSdkRecord(record: SdkStreamRecord, index: number, shardId?: string): Change {
  const where = recordLabel(index, record);
  const ddb = record.dynamodb;
  if (!isObject(ddb))
    throw new InvalidDataError(`${where}: dynamodb must be an object, got ${describe(ddb)}`);
  const keys = typedImage(where, 'Keys', ddb.Keys);
  if (keys === undefined) throw new InvalidDataError(`${where}: dynamodb.Keys is missing`);
  const time = ddb.ApproximateCreationDateTime;
  let ms: number | undefined;
  if (time !== undefined) {
    ms = time instanceof Date ? time.getTime() : NaN;
    if (!Number.isFinite(ms)) {
      throw new InvalidDataError(`${where}: dynamodb.ApproximateCreationDateTime is not a valid date`);
    }
  }
  const change = buildChange(
    where,
    {
      eventName: record.eventName,
      keys,
      newImage: typeEmptyMaps(typedImage(where, 'NewImage', ddb.NewImage)),
      oldImage: typeEmptyMaps(typedImage(where, 'OldImage', ddb.OldImage)),
      sequenceNumber: ddb.SequenceNumber,
      sizeBytes: ddb.SizeBytes,
      streamViewType: ddb.StreamViewType,
      eventId: record.eventID,
    },
    ms,
  );
  return shardId === undefined ? change : { ...change, shardId };
}

/**
 * The table a stream belongs to, from a stream ARN
 * (`arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-01-01T00:00:00.000`).
 */
export function tableOfStreamArn(arn: string): {
  readonly region: string;
  readonly account: string;
  readonly table: string;
} {
  const match = /^arn:aws[a-z-]*:dynamodb:([^:]*):([^:]*):table\/([^/]+)\/stream\/.+$/.exec(arn);
  if (!match) throw new InvalidDataError(`eventSourceARN "${arn}" is not a DynamoDB stream ARN`);
  return { region: match[1] as string, account: match[2] as string, table: match[3] as string };
}
