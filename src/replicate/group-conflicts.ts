/**
 * The conflict log of a multi-active group: JSON lines in an object store (S3 or a directory), one
 * object per batch that saw conflicts, under `<UTC day of detection>/`. A conflict can be seen by
 * more than one direction (and again after a retry); readers keep one entry per (key, losing version).
 */
import { InvalidDataError } from '../core/errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Conflict } from './group-decide.js';
import { versionTime } from './group-stamp.js';

export interface ConflictEntry extends Conflict {
  /** ISO time of the losing version. */
  readonly at: string;
  /** The direction that logged it, `<source>-to-<target>`. */
  readonly detectedBy: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Appends a direction's conflicts; each call writes one object (nothing for none). */
export class ConflictLog {
  private sequence = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly direction: string,
    private readonly now: () => number = Date.now,
  ) {}

  async append(conflicts: readonly Conflict[]): Promise<void> {
    if (conflicts.length === 0) return;
    const at = this.now();
    const day = new Date(at).toISOString().slice(0, 10);
    const lines = conflicts.map((c) =>
      JSON.stringify({
        ...c,
        at: new Date(versionTime(c.loser)).toISOString(),
        detectedBy: this.direction,
      } satisfies ConflictEntry),
    );
    const name = `${day}/${String(at).padStart(13, '0')}-${this.direction}-${process.pid}-${this.sequence++}.jsonl`;
    await this.store.put(name, lines.join('\n') + '\n', { contentType: 'application/x-ndjson' });
  }
}

/**
 * Every conflict in the log whose losing version is at or after `since` (epoch ms), one per
 * (key, losing version), ordered by losing version time then key.
 */
export async function readConflicts(store: ObjectStore, since = 0): Promise<ConflictEntry[]> {
  const sinceDay = new Date(since).toISOString().slice(0, 10);
  const days = (await store.listFolders('')).filter((d) => DAY.test(d) && d >= sinceDay);
  const seen = new Map<string, ConflictEntry>();
  for (const day of days) {
    const names: string[] = [];
    for await (const info of store.list(day)) if (info.key.endsWith('.jsonl')) names.push(info.key);
    for (const name of names.sort()) {
      const text = (await store.get(name)).toString('utf8');
      for (const [i, line] of text.split('\n').entries()) {
        if (line.trim() === '') continue;
        const entry = parseEntry(line, `${name}:${i + 1}`);
        if (versionTime(entry.loser) < since) continue;
        const id = `${entry.key} ${entry.loser}`;
        if (!seen.has(id)) seen.set(id, entry);
      }
    }
  }
  return [...seen.values()].sort((a, b) =>
    a.loser === b.loser ? (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) : a.loser < b.loser ? -1 : 1,
  );
}

function parseEntry(line: string, where: string): ConflictEntry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new InvalidDataError(`conflict log ${where}: not a JSON line`);
  }
  const e = value as Partial<ConflictEntry>;
  if (typeof e.key !== 'string' || typeof e.loser !== 'string' || typeof e.winner !== 'string')
    throw new InvalidDataError(`conflict log ${where}: not a conflict entry (key, loser, winner)`);
  return e as ConflictEntry;
}
