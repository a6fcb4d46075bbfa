import { parseStoreLocation } from '../storage/location.js';
import { openObjectStore } from '../storage/open-store.js';
import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import { parseTimeArgument } from '../backup/point-in-time.js';
import { stringOption, type CliIO, type ParsedArgs } from './command.js';

/**
 * Opens a backup location argument (`s3://bucket/prefix`, a directory or `file://` URL). S3 goes
 * through the SDK's default credential chain and region; `AWS_ENDPOINT_URL_S3` (the SDK's own
 * variable) points it at an S3-compatible server, addressed path-style.
 */
export function openStoreArgument(
  text: string,
  io: Pick<CliIO, 'env'>,
): { store: ObjectStore; label: string } {
  const location = parseStoreLocation(text);
  const endpoint = io.env.AWS_ENDPOINT_URL_S3?.trim();
  const store = openObjectStore(location, endpoint ? { s3: { endpoint } } : {});
  return { store, label: formatStoreLocation(location) };
}

/** A time option (`--at`, `--since`, `--until`): ISO 8601 or epoch ms; undefined when absent. */
export function timeOption(args: ParsedArgs, name: string): number | undefined {
  const raw = stringOption(args, name);
  return raw === undefined ? undefined : parseTimeArgument(raw, `--${name}`);
}
