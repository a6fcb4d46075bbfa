/**
 * Rules for the files the toolkit writes on the local filesystem (backups in a directory store,
 * exports, checkpoints, temporary files): they hold table data or stream positions, so they are
 * private to their owner — files 0600, directories 0700 — whatever the process umask. A temporary
 * file names the process writing it, so a later run can tell one left behind by a killed process
 * (removed) from one still being written (kept).
 */
import { readdir, rm, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';

/** Mode of every file written: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of every directory created: owner only. */
export const PRIVATE_DIR_MODE = 0o700;

/** The longest file name (one path component) Linux and macOS filesystems accept, in bytes. */
export const NAME_MAX_BYTES = 255;

/** Linux's largest process id (PID_MAX_LIMIT); macOS stays below it too. */
const PID_MAX = 4_194_304;

/** Whether a process with this id runs on this machine (EPERM: it runs, under another user). */
export function processAlive(pid: number): boolean {
  // Never hand kill() 0 or an id that would wrap to a negative one (a process group).
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid > PID_MAX) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files in `dir` left by processes that no longer run: `writerOf` returns the
 * id of the process that wrote a name, or undefined for names that are not temporary files. Returns
 * the names removed. A missing directory has none.
 */
export async function removeStaleTempFiles(
  dir: string,
  writerOf: (name: string) => number | undefined,
): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
  const stale = names.filter((name) => {
    const pid = writerOf(name);
    return pid !== undefined && pid !== process.pid && !processAlive(pid);
  });
  await Promise.all(stale.map((name) => rm(path.join(dir, name), { force: true })));
  return stale;
}

/** What is at `file`, or undefined when nothing is (or a part of its path is not a directory). */
export async function statIfExists(file: string): Promise<Stats | undefined> {
  try {
    return await stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}
