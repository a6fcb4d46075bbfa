/**
 * A member of a multi-active group as a diff side: what applications see. Members hold the same data
 * but not the same metadata (the origin of a write holds it unstamped, the others stamped; a delete
 * is a tombstone everywhere but at its origin), so the metadata attributes are left out and
 * tombstones count as absent items.
 */
import type { Item } from '../core/types.js';
import { dataOf, isTombstone, type GroupMetadataNames } from '../replicate/group-stamp.js';
import type { DiffSide } from './side.js';

function visible(items: readonly Item[], names: GroupMetadataNames): Item[] {
  return items.filter((item) => !isTombstone(item, names)).map((item) => dataOf(item, names));
}

/**
 * @example
 * const eu = groupMemberSide(tableSide(euClient, 'users', keySchema), DEFAULT_GROUP_METADATA);
 */
export function groupMemberSide(side: DiffSide, names: GroupMetadataNames): DiffSide {
  const getItems = side.getItems?.bind(side);
  return {
    ...side,
    async *scanSegment(segment, totalSegments, signal) {
      for await (const page of side.scanSegment(segment, totalSegments, signal)) yield visible(page, names);
    },
    ...(getItems ? { getItems: async (keys, signal) => visible(await getItems(keys, signal), names) } : {}),
  };
}
