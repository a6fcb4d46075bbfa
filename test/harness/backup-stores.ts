/**
 * The two object-store backends backup tests run against — the filesystem and an in-process S3
 * server (s3rver) — plus a wrapper that counts PUTs, for the "PUTs per 1,000 changes" figure.
 */
import { after } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openObjectStore } from '../../src/storage/open-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { startLocalS3 } from './s3.js';

export interface StoreBackend {
  readonly name: 'filesystem' | 's3';
  /** A fresh root: its location string (for the CLI) and its store. */
  root(): Promise<{ url: string; store: ObjectStore; env: Record<string, string> }>;
}

const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export const STORE_BACKENDS: readonly StoreBackend[] = [
  {
    name: 'filesystem',
    async root() {
      const dir = await mkdtemp(path.join(tmpdir(), 'backup-'));
      after(() => rm(dir, { recursive: true, force: true }));
      return { url: dir, store: openObjectStore(dir), env: {} };
    },
  },
  {
    name: 's3',
    async root() {
      const s3 = await startLocalS3();
      const bucket = await s3.createBucket();
      const url = `s3://${bucket}/backups`;
      return {
        url,
        store: openObjectStore(url, { s3: { endpoint: s3.endpoint, credentials: S3_CREDENTIALS } }),
        // How the CLI reaches the same server (src/cli/backup-store.ts).
        env: {
          S3_ENDPOINT: s3.endpoint,
          S3_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
          S3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
        },
      };
    },
  },
];

type PutResultPromise = ReturnType<ObjectStore['put']>;

/** The same store with its PUTs (in it and in every `at()` view) going through `intercept`. */
export function interceptPuts(
  inner: ObjectStore,
  intercept: (next: () => PutResultPromise, key: string) => PutResultPromise,
): ObjectStore {
  return {
    location: inner.location,
    put: (key, body, options) => intercept(() => inner.put(key, body, options), key),
    create: (key, body) => inner.create(key, body),
    get: (key) => inner.get(key),
    getStream: (key) => inner.getStream(key),
    list: (prefix) => inner.list(prefix),
    listFolders: (prefix) => inner.listFolders(prefix),
    exists: (key) => inner.exists(key),
    delete: (key) => inner.delete(key),
    at: (sub) => interceptPuts(inner.at(sub), intercept),
  };
}

/** Wraps a store, counting PUTs made through it and through every `at()` view of it. */
export function countingStore(inner: ObjectStore): ObjectStore & { counter: { puts: number } } {
  const counter = { puts: 0 };
  const store = interceptPuts(inner, (next) => {
    counter.puts++;
    return next();
  });
  return Object.assign(store, { counter });
}

/** A store whose PUTs fail for keys matching `pattern` (an S3 server cannot be made to fail selectively). */
export function failingStore(inner: ObjectStore, pattern: RegExp): ObjectStore {
  return interceptPuts(inner, (next, key) =>
    pattern.test(key) ? Promise.reject(new Error('injected PUT failure')) : next(),
  );
}

/** Every object key under `prefix`. */
export async function listKeys(store: ObjectStore, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys;
}
