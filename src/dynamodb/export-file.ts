import { once } from 'node:events';
import { mkdtemp, open, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { InvalidDataError, NotFoundError, UsageError } from '../core/errors.js';
import { PRIVATE_FILE_MODE, removeStaleTempFiles, statIfExists } from '../storage/local-files.js';

/*
 * Files that hold table exports: plain or gzip NDJSON. Reading detects gzip by its magic bytes
 * (whatever the name says); writing gzips when the name ends in .gz and goes through a temporary
 * file renamed into place on success, so a failed export never leaves a file that looks complete.
 */

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** One line of text with its 1-based number in the file. */
export interface NumberedLine {
  readonly lineNumber: number;
  readonly text: string;
}

/** Something that can be read from the start more than once (validate first, then load). */
export interface ExportSource {
  /** A label for messages, e.g. the file name. */
  readonly name: string;
  lines(): AsyncIterable<NumberedLine>;
}

/** An export file on disk, plain or gzip (detected by magic bytes). */
export async function exportFileSource(file: string): Promise<ExportSource> {
  await assertReadableFile(file);
  const gzip = await isGzipFile(file);
  return {
    name: file,
    lines: () => fileLines(file, gzip),
  };
}

export async function isGzipFile(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1;
  } finally {
    await handle.close();
  }
}

async function assertReadableFile(file: string): Promise<void> {
  let info;
  try {
    info = await stat(file);
  } catch (cause) {
    throw new NotFoundError(`cannot read ${file}: no such file`, { cause });
  }
  if (!info.isFile()) throw new UsageError(`cannot read ${file}: not a regular file`);
}

async function* fileLines(file: string, gzip: boolean): AsyncIterable<NumberedLine> {
  const handle = await open(file, 'r');
  const raw = handle.createReadStream();
  const input: Readable = gzip ? raw.pipe(createGunzip()) : raw;
  if (gzip) raw.on('error', (error) => input.destroy(error));
  try {
    yield* splitLines(input, file);
  } finally {
    input.destroy();
    raw.destroy();
  }
}

/**
 * Splits a byte stream into lines (LF or CRLF; a final line without a newline counts). Memory is
 * bounded by the longest line. Each line must be valid UTF-8: a replacement character would silently
 * change a value, so an invalid byte is an InvalidDataError naming the line. Decompression errors
 * become InvalidDataError naming the file.
 */
export async function* splitLines(input: Readable, name: string): AsyncIterable<NumberedLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = (bytes: Buffer, lineNumber: number): string => {
    try {
      return decoder.decode(bytes);
    } catch (error) {
      throw new InvalidDataError(`${name} line ${lineNumber}: not valid UTF-8`, { cause: error });
    }
  };
  let pending: Buffer = Buffer.alloc(0);
  let lineNumber = 0;
  try {
    for await (const chunk of input) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      // Search only the new bytes for newlines; the pending part has none.
      let searchFrom = pending.length;
      pending = pending.length === 0 ? bytes : Buffer.concat([pending, bytes]);
      let start = 0;
      for (let nl = pending.indexOf(10, searchFrom); nl !== -1; nl = pending.indexOf(10, start)) {
        lineNumber++;
        yield { lineNumber, text: stripCr(decode(pending.subarray(start, nl), lineNumber)) };
        start = nl + 1;
      }
      searchFrom = 0;
      pending = pending.subarray(start);
    }
  } catch (error) {
    if (isZlibError(error)) {
      throw new InvalidDataError(
        `${name}: not a valid gzip stream or truncated (${(error as Error).message})`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
  if (pending.length > 0) {
    const text = stripCr(decode(pending, lineNumber + 1));
    if (text !== '') yield { lineNumber: lineNumber + 1, text };
  }
}

function stripCr(text: string): string {
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

function isZlibError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * Copies a one-shot stream (stdin) to a temporary file so it can be validated before anything is
 * written and then read again. `cleanup` removes the file.
 */
export async function spoolToTempFile(input: Readable): Promise<{ file: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ddbr-import-'));
  const file = path.join(dir, 'stdin');
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const handle = await open(file, 'w', PRIVATE_FILE_MODE);
    await pipeline(input, handle.createWriteStream());
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { file, cleanup };
}

/** A destination for an export being written; `commit` makes it visible, `abort` removes it. */
export interface ExportSink {
  readonly stream: Writable;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Creates `file` (gzip when it ends in .gz, mode 0600) through a temporary file in the same
 * directory, first removing temporary files of `file` that a killed export left behind. Errors such
 * as a missing directory, or a directory in the file's place, surface here, before any table is read.
 */
export async function createExportFile(file: string): Promise<ExportSink> {
  const base = path.basename(file);
  const temp = path.join(path.dirname(file), `.${base}.partial-${process.pid}`);
  let handle;
  try {
    const existing = await statIfExists(file);
    if (existing && !existing.isFile())
      throw new UsageError(
        `cannot write ${file}: it is ${existing.isDirectory() ? 'a directory' : 'not a regular file'}`,
      );
    await removeStaleTempFiles(path.dirname(file), (name) => {
      const pid = name.startsWith(`.${base}.partial-`) ? name.slice(base.length + 10) : '';
      return /^\d+$/.test(pid) ? Number(pid) : undefined;
    });
    handle = await open(temp, 'w', PRIVATE_FILE_MODE);
  } catch (cause) {
    if (cause instanceof UsageError) throw cause;
    throw new UsageError(`cannot write ${file}: ${(cause as Error).message}`, { cause });
  }
  const out = handle.createWriteStream();
  const gzip = file.endsWith('.gz') ? createGzip() : undefined;
  const done = gzip ? pipeline(gzip, out) : undefined;
  done?.catch(() => {}); // surfaced by commit()
  const stream = gzip ?? out;
  return {
    stream,
    async commit() {
      stream.end();
      await (done ?? finished(out));
      await rename(temp, file);
    },
    async abort() {
      // A write still in flight fails once the streams are gone; that error concerns a file being
      // thrown away, and unheard it would crash the process (an interrupted export exits 130).
      for (const s of [stream, out]) s.on('error', () => {});
      stream.destroy();
      out.destroy();
      await rm(temp, { force: true });
    },
  };
}

/** Writes text, waiting for the stream to drain when its buffer is full (bounded memory). */
export async function writeText(out: Writable, text: string): Promise<void> {
  if (out.errored) throw out.errored;
  if (!out.write(text)) await once(out, 'drain');
}

/** Ends a stream we do not own (stdout) once everything written so far is flushed. */
export async function flush(out: Writable): Promise<void> {
  if (out.writableNeedDrain) await once(out, 'drain');
}
