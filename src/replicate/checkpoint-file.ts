/**
 * Where a file checkpoint lives, checked before the first batch: a name the filesystem accepts (with
 * the room its temporary file needs), a place that can be written. Temporary files a killed runner
 * left beside the checkpoint are removed.
 */
import { createHash } from 'node:crypto';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../core/errors.js';
import { NAME_MAX_BYTES, removeStaleTempFiles, statIfExists } from '../storage/local-files.js';

/**
 * Beside the checkpoint go `<file>.<pid>.tmp` (a save) and `<file>.lock.<pid>.<nonce>.tmp` (the
 * lease's lock being created, lease.ts): the name keeps room for the longer, with a 7-digit pid.
 */
const TEMP_SUFFIX_BYTES = '.lock.1234567.12345678.tmp'.length;
export const CHECKPOINT_NAME_MAX_BYTES = NAME_MAX_BYTES - TEMP_SUFFIX_BYTES;

/**
 * `.dynamodb-replicator/<source table>[.backup].checkpoint.json` (a backup-only runner keeps its own,
 * never shared with a replicating runner). A table name too long for that (DynamoDB allows 255
 * characters) is cut and followed by a hash of the whole name, so the name fits and two tables never
 * share a checkpoint.
 */
export function defaultCheckpointFile(table: string, kind?: 'backup'): string {
  const suffix = `${kind ? `.${kind}` : ''}.checkpoint.json`;
  const room = CHECKPOINT_NAME_MAX_BYTES - suffix.length;
  const stem =
    Buffer.byteLength(table) <= room
      ? table
      : `${table.slice(0, room - 17)}-${createHash('sha256').update(table).digest('hex').slice(0, 16)}`;
  return path.join('.dynamodb-replicator', stem + suffix);
}

/**
 * Refuses (UsageError naming the file) a checkpoint file that could not be saved: a name too long, a
 * directory in its place, a parent that is a file or cannot be written. Changes nothing except
 * removing temporary files of dead runners.
 */
export async function checkCheckpointFile(file: string): Promise<void> {
  const fail = (problem: string) => new UsageError(`cannot keep the checkpoint in ${file}: ${problem}`);
  const full = path.resolve(file);
  const name = path.basename(full);
  if (Buffer.byteLength(name) > CHECKPOINT_NAME_MAX_BYTES)
    throw fail(
      `the file name is ${Buffer.byteLength(name)} bytes long (at most ${CHECKPOINT_NAME_MAX_BYTES})`,
    );
  const long = full.split(path.sep).find((part) => Buffer.byteLength(part) > NAME_MAX_BYTES);
  if (long !== undefined) throw fail(`a directory name is longer than ${NAME_MAX_BYTES} bytes`);
  const existing = await statIfExists(full);
  if (existing && !existing.isFile()) throw fail('it is not a regular file');
  // The nearest directory that exists must be writable: the rest is created on the first save.
  let dir = path.dirname(full);
  for (;;) {
    const info = await statIfExists(dir);
    if (info) {
      if (!info.isDirectory()) throw fail(`${dir} is not a directory`);
      break;
    }
    dir = path.dirname(dir);
  }
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw fail(`${dir} is not writable (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  await removeStaleTempFiles(path.dirname(full), (entry) => {
    const pid =
      entry.startsWith(`${name}.`) && entry.endsWith('.tmp') ? entry.slice(name.length + 1, -4) : '';
    return /^\d+$/.test(pid) ? Number(pid) : undefined;
  });
}
