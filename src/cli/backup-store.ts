import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import { parseStoreLocation } from '../storage/location.js';
import { openObjectStore } from '../storage/open-store.js';
import { S3ObjectStore, type S3StoreOptions } from '../storage/s3-store.js';
import { stringOption, type CliIO, type ParsedArgs } from './command.js';

/** Options of commands that read or write a backup location. */
export const STORE_OPTIONS = {
  's3-endpoint': { type: 'string' },
  'sse-kms-key-id': { type: 'string' },
  'expected-bucket-owner': { type: 'string' },
} as const;

export const STORE_HELP = `  --s3-endpoint URL        an S3-compatible endpoint (also env S3_ENDPOINT or AWS_ENDPOINT_URL_S3);
                           path-style addressing; keys from S3_ACCESS_KEY_ID/S3_SECRET_ACCESS_KEY
                           or the usual AWS credentials
  --sse-kms-key-id KEY     encrypt new objects with this KMS key (SSE-KMS)
  --expected-bucket-owner ACCOUNT
                           refuse a bucket owned by another AWS account`;

export const LOCATION_HELP = `location  s3://bucket/prefix, a directory path, or file:///absolute/path; an S3 location
            may add ?region= (default: the bucket's own), profile=, role= (external-id=,
            session-name=, duration=)`;

/**
 * Opens the backup store named by a location argument. The S3 endpoint and its keys come from the
 * command line or the environment here, in the shell, and are passed down as plain options.
 */
export function openBackupStore(
  text: string,
  args: ParsedArgs,
  io: CliIO,
): { store: ObjectStore; label: string; destroy(): void } {
  const location = parseStoreLocation(text);
  const env = io.env;
  const endpoint = stringOption(args, 's3-endpoint') ?? env.S3_ENDPOINT ?? env.AWS_ENDPOINT_URL_S3;
  const accessKeyId = env.S3_ACCESS_KEY_ID ?? (endpoint ? env.AWS_ACCESS_KEY_ID : undefined);
  const secretAccessKey = env.S3_SECRET_ACCESS_KEY ?? (endpoint ? env.AWS_SECRET_ACCESS_KEY : undefined);
  const sseKmsKeyId = stringOption(args, 'sse-kms-key-id');
  const expectedBucketOwner = stringOption(args, 'expected-bucket-owner');
  const s3: S3StoreOptions = {
    ...(endpoint ? { endpoint } : {}),
    ...(accessKeyId && secretAccessKey
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(env.S3_ACCESS_KEY_ID || !env.AWS_SESSION_TOKEN
              ? {}
              : { sessionToken: env.AWS_SESSION_TOKEN }),
          },
        }
      : {}),
    ...(sseKmsKeyId ? { sseKmsKeyId } : {}),
    ...(expectedBucketOwner ? { expectedBucketOwner } : {}),
  };
  const store = openObjectStore(location, { s3 });
  return {
    store,
    label: formatStoreLocation(location),
    // Release the S3 client's sockets so in-process callers (tests) do not hang.
    destroy: () => {
      if (store instanceof S3ObjectStore) store.client.destroy();
    },
  };
}
