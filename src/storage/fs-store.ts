import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFoundError, ServiceError, UsageError } from '../core/errors.js';
import {
  folderPrefix,
  joinKey,
  type ObjectInfo,
  type ObjectStore,
  type PutResult,
  type StoreLocation,
} from './object-store.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, removeStaleTempFiles } from './local-files.js';

// Temp files live next to their target (so rename is atomic) and are hidden from listings. Their
// 16 hex digits are the writing process's id (8) and a random part (8), so the first write into a
// directory can remove those left behind by a killed process.
const TEMP = /^\..+\.([0-9a-f]{8})[0-9a-f]{8}\.partial$/;

function tempWriter(name: string): number | undefined {
  const m = TEMP.exec(name);
  return m ? parseInt(m[1] as string, 16) : undefined;
}

function tempName(file: string): string {
  const id = process.pid.toString(16).padStart(8, '0') + randomBytes(4).toString('hex');
  return path.join(path.dirname(file), `.${path.basename(file)}.${id}.partial`);
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * The filesystem backend: one file per key under a root directory. Writes go to a temp file that
 * is renamed into place, so a reader sees the whole old object or the whole new one, never a part.
 */
export class FileObjectStore implements ObjectStore {
  readonly location: StoreLocation;

  constructor(
    readonly directory: string,
    private readonly root = '',
    /** Directories already swept of stale temp files (shared by every `at()` of one store). */
    private readonly swept = new Map<string, Promise<unknown>>(),
  ) {
    this.location = { kind: 'file', directory: path.join(directory, ...root.split('/').filter(Boolean)) };
  }

  at(subPrefix: string): ObjectStore {
    return new FileObjectStore(this.directory, joinKey(this.root, subPrefix), this.swept);
  }

  /** Creates the directory (0700) and, once per directory, removes temp files of dead writers. */
  private async prepareDir(dir: string): Promise<void> {
    let sweeping = this.swept.get(dir);
    if (!sweeping) {
      sweeping = mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE }).then(() =>
        removeStaleTempFiles(dir, tempWriter),
      );
      this.swept.set(dir, sweeping);
      sweeping.catch(() => this.swept.delete(dir));
    }
    await sweeping;
  }

  private pathOf(key: string): string {
    const rel = joinKey(this.root, key);
    if (rel === '' || rel.split('/').some((p) => p === '.' || p === '..'))
      throw new UsageError(`invalid object key "${key}"`);
    return path.join(this.directory, ...rel.split('/'));
  }

  private describe(key: string): string {
    return path.join(this.location.kind === 'file' ? this.location.directory : '', key);
  }

  async put(key: string, body: Buffer | Uint8Array | string | Readable): Promise<PutResult> {
    const file = this.pathOf(key);
    const temp = tempName(file);
    const md5 = createHash('md5');
    try {
      await this.prepareDir(path.dirname(file));
      if (body instanceof Readable) {
        const tap = new Transform({
          transform(chunk: Buffer, _enc, done) {
            md5.update(chunk);
            done(null, chunk);
          },
        });
        await pipeline(body, tap, createWriteStream(temp, { mode: PRIVATE_FILE_MODE }));
      } else {
        md5.update(body);
        await writeFile(temp, body, { mode: PRIVATE_FILE_MODE });
      }
      await rename(temp, file);
    } catch (error) {
      await rm(temp, { force: true });
      throw new ServiceError(`could not write ${this.describe(key)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return { etag: md5.digest('hex') };
  }

  async create(key: string, body: Buffer | Uint8Array | string): Promise<boolean> {
    const file = this.pathOf(key);
    const temp = tempName(file);
    try {
      await this.prepareDir(path.dirname(file));
      await writeFile(temp, body, { mode: PRIVATE_FILE_MODE });
      // link() fails with EEXIST when the key exists: the create is atomic between processes.
      await link(temp, file);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new ServiceError(`could not write ${this.describe(key)}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      await rm(temp, { force: true });
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError(`no object ${this.describe(key)}`, { cause: error });
      throw new ServiceError(`could not read ${this.describe(key)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async getStream(key: string): Promise<Readable> {
    const file = this.pathOf(key);
    // Open eagerly so a missing object fails here rather than on the first read.
    await this.statOrThrow(key, file);
    return createReadStream(file);
  }

  private async statOrThrow(key: string, file: string) {
    try {
      return await stat(file);
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError(`no object ${this.describe(key)}`, { cause: error });
      throw new ServiceError(`could not read ${this.describe(key)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const folder = folderPrefix(prefix);
    yield* this.walk(folder);
  }

  async listFolders(prefix: string): Promise<string[]> {
    const entries = await this.readDir(folderPrefix(prefix));
    return entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  }

  private async readDir(folder: string) {
    const dir = path.join(this.directory, ...joinKey(this.root, folder).split('/').filter(Boolean));
    try {
      const entries = await readdir(dir, { withFileTypes: true });
      // Key order as S3 lists it: compare names with a trailing '/' for folders, bytewise (each
      // name encoded once: a folder of a scan job holds tens of thousands of entries).
      return entries
        .filter((e) => (e.isFile() && !TEMP.test(e.name)) || e.isDirectory())
        .map((e) => ({ e, bytes: Buffer.from(e.name + (e.isDirectory() ? '/' : '')) }))
        .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
        .map(({ e }) => e);
    } catch (error) {
      if (isNotFound(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw error;
    }
  }

  private async *walk(folder: string): AsyncIterable<ObjectInfo> {
    for (const entry of await this.readDir(folder)) {
      const key = folder + entry.name;
      if (entry.isDirectory()) {
        yield* this.walk(`${key}/`);
        continue;
      }
      try {
        const s = await stat(this.pathOf(key));
        yield { key, size: s.size, lastModified: s.mtime };
      } catch (error) {
        if (!isNotFound(error)) throw error; // deleted while listing: skip
      }
    }
  }
}
