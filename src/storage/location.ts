import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../core/errors.js';
import { isRegionName, parseLocationQuery } from '../core/location.js';
import { joinKey, type StoreLocation } from './object-store.js';

const EXPECTED =
  'expected s3://bucket/prefix (optional ?region=, profile=, role= with external-id=, session-name=, ' +
  'duration=), a directory path, or a file:///absolute/path URL';
const FILE_FORMS =
  'a file: URL is file:///absolute/path; give a relative directory as a plain path (e.g. ./backups)';

// S3 bucket naming rules (3-63 chars, lowercase letters, digits, dots, hyphens).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parses a backup location: `s3://bucket[/prefix][?region=r&profile=p&role=arn...]`, `file:///dir`,
 * or a plain directory path.
 */
export function parseStoreLocation(text: string, cwd: string = process.cwd()): StoreLocation {
  const raw = text.trim();
  if (raw === '') throw new UsageError(`empty backup location; ${EXPECTED}`);
  if (/^s3:\/\//i.test(raw)) {
    const query = parseLocationQuery(
      raw,
      (problem) => new UsageError(`invalid S3 location "${text}": ${problem}; ${EXPECTED}`),
      isRegionName,
    );
    const rest = query.rest.slice(5);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : joinKey(rest.slice(slash + 1));
    if (!BUCKET.test(bucket))
      throw new UsageError(`invalid S3 bucket name "${bucket}" in "${text}"; ${EXPECTED}`);
    if (prefix.split('/').some((p) => p === '.' || p === '..'))
      throw new UsageError(`"." and ".." are not allowed in an S3 prefix: "${text}"; ${EXPECTED}`);
    return {
      kind: 's3',
      bucket,
      prefix,
      ...(query.region !== undefined ? { region: query.region } : {}),
      ...(query.identity ? { identity: query.identity } : {}),
    };
  }
  if (/^file:/i.test(raw)) return { kind: 'file', directory: fileUrlDirectory(raw) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw))
    throw new UsageError(`unsupported backup location "${text}"; ${EXPECTED}`);
  return { kind: 'file', directory: path.resolve(cwd, raw) };
}

/**
 * The directory of a `file:` URL. Only the absolute form (`file:///dir`, `file://localhost/dir`) is
 * accepted (and `file:/dir`): `file:relative/dir` would silently mean `/relative/dir`, and a query or fragment would be
 * silently dropped, so both are refused.
 */
function fileUrlDirectory(raw: string): string {
  const fail = (problem: string, cause?: unknown) =>
    new UsageError(`invalid backup location "${raw}": ${problem}; ${FILE_FORMS}`, cause ? { cause } : {});
  if (!/^file:\//i.test(raw)) throw fail('not an absolute file URL');
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw fail('not a valid URL', cause);
  }
  if (url.search !== '' || raw.includes('?')) throw fail('a file URL takes no query ("?...")');
  if (url.hash !== '' || raw.includes('#')) throw fail('a file URL takes no fragment ("#...")');
  let directory: string;
  try {
    directory = fileURLToPath(url);
  } catch (cause) {
    throw fail((cause as Error).message, cause);
  }
  return path.resolve(directory);
}
