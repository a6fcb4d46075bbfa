/**
 * A backup's latest state as the replica side of a diff, so `diff-tables <table> <backup>` proves a
 * backup complete. A backup is a fixed snapshot: it is read once as a stream (it has no segments)
 * and has no key lookup; the engine judges differences against the fingerprints taken while reading
 * it, and reads only the table again.
 */
import type { Item, KeySchema } from '../core/types.js';
import type { DiffSide } from './side.js';

/** What the backup readers provide (a verified RestoreSource has this shape). */
export interface SnapshotSource {
  readonly label: string;
  readonly itemCount?: number;
  items(): AsyncIterable<Item>;
}

const PAGE = 1_000;

/**
 * A verified backup (resolveRestoreSource) as a diff side; see the top of this file.
 *
 * @example
 * // Compare a table with its newest full backup.
 * const backup = await resolveRestoreSource(openObjectStore('s3://my-backups/users'));
 * const result = await diffTables(tableSide(client, 'users', keySchema), snapshotSide(backup, keySchema));
 */
export function snapshotSide(source: SnapshotSource, keySchema: KeySchema): DiffSide {
  return {
    label: source.label,
    keySchema,
    segmented: false,
    ...(source.itemCount !== undefined ? { itemCountEstimate: source.itemCount } : {}),
    async *scanSegment(segment, totalSegments, signal) {
      if (segment !== 0 || totalSegments !== 1) return;
      let page: Item[] = [];
      for await (const item of source.items()) {
        signal?.throwIfAborted();
        page.push(item);
        if (page.length >= PAGE) {
          yield page;
          page = [];
        }
      }
      if (page.length > 0) yield page;
    },
  };
}
