import { UsageError } from '../core/errors.js';
import { DEFAULT_GROUP_METADATA, type GroupMetadataNames } from '../replicate/group-stamp.js';

/** `--metadata-attributes STAMP,EXPIRES` (replicate --multi-active, diff-tables --group-metadata). */
export function parseMetadataNames(text: string | undefined): GroupMetadataNames {
  if (text === undefined) return DEFAULT_GROUP_METADATA;
  const parts = text.split(',');
  if (parts.length !== 2 || parts.some((p) => p.trim() === ''))
    throw new UsageError(`--metadata-attributes must be two names, STAMP,EXPIRES, got "${text}"`);
  return { stamp: (parts[0] as string).trim(), expires: (parts[1] as string).trim() };
}
