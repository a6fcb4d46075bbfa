/**
 * The filter/transform hook: a user module exporting `transform(change)` that returns the change (or
 * a rewritten one) to replicate, or null to drop it; sync or async. Applied before writing by the
 * Lambda handler, the runner and the backfill. What it returns is checked before it is written: a
 * bad result fails that item's key only, never the whole batch.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Change } from '../core/change.js';
import { fromDynamoJson, toDynamoJson } from '../core/ddb-json.js';
import { InvalidDataError, NotFoundError, UsageError } from '../core/errors.js';
import type { Item, KeySchema } from '../core/types.js';
import { recordKey } from './plan.js';

export type TransformResult = Change | null;
export type TransformFn = (change: Change) => TransformResult | Promise<TransformResult>;

/**
 * Imports a transform module (a path, relative to `baseDir`, default the working directory) and
 * returns its `transform` export (or `default.transform`, for CommonJS modules). `label` names where
 * the path came from in errors, e.g. `TransformModule` or `--transform`.
 */
export async function loadTransform(
  modulePath: string,
  options: { baseDir?: string; label?: string } = {},
): Promise<TransformFn> {
  const label = options.label ?? 'transform module';
  const file = path.resolve(options.baseDir ?? process.cwd(), modulePath);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((cause as Error).message).includes(file)) {
      throw new NotFoundError(`${label}: no module at ${file}`, { cause });
    }
    throw new UsageError(`${label}: could not load ${file}: ${(cause as Error).message}`, { cause });
  }
  const fromDefault = (mod.default as Record<string, unknown> | undefined)?.transform;
  const fn = typeof mod.transform === 'function' ? mod.transform : fromDefault;
  if (typeof fn !== 'function') {
    throw new UsageError(
      `${label}: ${file} must export a function named "transform" (change) => change | null, found ${typeof (mod.transform ?? fromDefault)}`,
    );
  }
  return fn as TransformFn;
}

function checkImage(image: unknown, name: string): Item | undefined {
  if (image === undefined) return undefined;
  // A round trip through the strict DynamoDB JSON reader rejects anything DynamoDB would not store.
  return fromDynamoJson(toDynamoJson(image as Item), name);
}

/**
 * Runs the transform on one change and checks what it returned against the key schema. The result
 * keeps the original record's sequence number, creation time and shard: they say where the record
 * sits in the stream, which a retry or checkpoint relies on. Returns null to drop; throws
 * InvalidDataError (or whatever the transform threw) to fail the record's key.
 */
export async function runTransform(
  transform: TransformFn,
  change: Change,
  options: { keySchema: KeySchema; readThrough: boolean },
): Promise<Change | null> {
  const result = await transform(change);
  if (result === null) return null;
  if (typeof result !== 'object' || result === undefined) {
    throw new InvalidDataError(`transform returned ${String(result)}; return a change, or null to drop it`);
  }
  const { eventName } = result;
  if (eventName !== 'INSERT' && eventName !== 'MODIFY' && eventName !== 'REMOVE') {
    throw new InvalidDataError(
      `transform returned eventName ${JSON.stringify(eventName)}; expected INSERT, MODIFY or REMOVE`,
    );
  }
  let newImage: Item | undefined;
  try {
    recordKey({ ...result, sequenceNumber: change.sequenceNumber }, options.keySchema);
    newImage = checkImage(result.newImage, 'transform result newImage');
  } catch (error) {
    throw new InvalidDataError(`transform returned an invalid change: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (eventName !== 'REMOVE' && newImage === undefined && !options.readThrough) {
    throw new InvalidDataError(`transform returned an ${eventName} change without newImage`);
  }
  const { sequenceNumber, approximateCreationTime, shardId } = change;
  return {
    ...result,
    sequenceNumber,
    ...(approximateCreationTime !== undefined ? { approximateCreationTime } : {}),
    ...(shardId !== undefined ? { shardId } : {}),
  };
}
