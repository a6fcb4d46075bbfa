import { UsageError } from '../core/errors.js';
import { parseGroupMetadataNames, type GroupMetadataNames } from '../replicate/group-stamp.js';

/** `--metadata-attributes STAMP,EXPIRES` (replicate --multi-active, diff-tables --group-metadata). */
export function parseMetadataNames(text: string | undefined): GroupMetadataNames {
  const names = parseGroupMetadataNames(text);
  if ('problem' in names) throw new UsageError(`--metadata-attributes ${names.problem}`);
  return names;
}
