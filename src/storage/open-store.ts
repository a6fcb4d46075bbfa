import { FileObjectStore } from './fs-store.js';
import { parseStoreLocation } from './location.js';
import type { ObjectStore, StoreLocation } from './object-store.js';
import { S3ObjectStore, type S3StoreOptions } from './s3-store.js';

export interface OpenStoreOptions {
  /** How to reach S3 for `s3://` locations (endpoint override, credentials, SSE-KMS, owner). */
  readonly s3?: S3StoreOptions;
}

/**
 * Opens the store for a location string (`s3://bucket/prefix`, a path, `file://`) or a parsed one.
 *
 * @example
 * const s3 = openObjectStore('s3://my-backups/users', { s3: { region: 'eu-west-1' } });
 * const dir = openObjectStore('/var/backups/users');
 */
export function openObjectStore(
  location: string | StoreLocation,
  options: OpenStoreOptions = {},
): ObjectStore {
  const loc = typeof location === 'string' ? parseStoreLocation(location) : location;
  return loc.kind === 's3'
    ? new S3ObjectStore(loc.bucket, loc.prefix, {
        ...options.s3,
        ...(loc.region !== undefined ? { region: loc.region } : {}),
        ...(loc.identity ? { identity: loc.identity } : {}),
      })
    : new FileObjectStore(loc.directory);
}
