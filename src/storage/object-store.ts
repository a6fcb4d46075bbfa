import { formatLocationQuery, type Identity } from '../core/location.js';
import type { Readable } from 'node:stream';

/** Where a store lives: an S3 bucket + key prefix, or a directory on the local filesystem. */
export type StoreLocation =
  | {
      readonly kind: 's3';
      readonly bucket: string;
      readonly prefix: string;
      /** The bucket's region when the location names it (`?region=`); otherwise it is looked up. */
      readonly region?: string;
      /** Who the bucket is reached as (`?profile=`, `?role=`); absent: the default chain. */
      readonly identity?: Identity;
    }
  | { readonly kind: 'file'; readonly directory: string };

export interface ObjectInfo {
  /** Key relative to the store's root, '/'-separated. */
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

export interface PutOptions {
  readonly contentType?: string;
}

export interface PutResult {
  /** The object's ETag without quotes (hex MD5 for single-part uploads), when the backend has one. */
  readonly etag?: string;
}

/**
 * A flat key -> bytes store rooted at a location. Keys are '/'-separated paths relative to the
 * root. Prefixes passed to `list`/`listFolders` are folders: `users` means `users/`, so it never
 * picks up `users-archive/...`. Missing objects raise NotFoundError.
 */
export interface ObjectStore {
  readonly location: StoreLocation;
  /** Writes an object whole: readers never see a partial object. Streams are uploaded as they come. */
  put(key: string, body: Buffer | Uint8Array | string | Readable, options?: PutOptions): Promise<PutResult>;
  /**
   * Writes an object only if no object has that key: true when this call created it, false when the
   * key already existed (nothing written). Files: an atomic hard link. S3: a PutObject with
   * `If-None-Match: *` (S3 refuses it with 412 when the key exists; a server that ignores the header,
   * such as s3rver, is still refused when the key exists before the call, but not in a race).
   */
  create(key: string, body: Buffer | Uint8Array | string): Promise<boolean>;
  get(key: string): Promise<Buffer>;
  getStream(key: string): Promise<Readable>;
  /** Every object under the folder `prefix` ('' = the whole store), recursively. Order is backend-specific: sort if it matters. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** The immediate sub-folder names of the folder `prefix` (no trailing '/'), sorted. */
  listFolders(prefix: string): Promise<string[]>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** The same backend rooted at a sub-folder. */
  at(subPrefix: string): ObjectStore;
}

/** Joins key parts with single '/' separators, dropping empty parts. */
export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((p) => p !== '')
    .join('/');
}

/** `prefix` as a folder: '' stays '', anything else ends in exactly one '/'. */
export function folderPrefix(prefix: string): string {
  const k = joinKey(prefix);
  return k === '' ? '' : `${k}/`;
}

export function formatStoreLocation(loc: StoreLocation): string {
  return loc.kind === 's3'
    ? `s3://${loc.bucket}/${loc.prefix}${formatLocationQuery(loc.region, loc.identity)}`
    : loc.directory;
}

/** Reads a whole stream into one Buffer. */
export async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}
