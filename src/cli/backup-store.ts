import { formatStoreLocation, type ObjectStore } from '../storage/object-store.js';
import { parseStoreLocation } from '../storage/location.js';
import { openObjectStore } from '../storage/open-store.js';
import { S3ObjectStore, type S3StoreOptions } from '../storage/s3-store.js';
import { stringOption, type CliIO, type ParsedArgs } from './command.js';
import { networkFromEnv } from './network.js';

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
  const store = openObjectStore(location, { s3: s3StoreOptions(args, io) });
  return {
    store,
    label: formatStoreLocation(location),
    // Release the S3 client's sockets so in-process callers (tests) do not hang.
    destroy: () => {
      if (store instanceof S3ObjectStore) store.client.destroy();
    },
  };
}

/** How this command reaches S3: endpoint and keys from the command line or the environment. */
export function s3StoreOptions(args: ParsedArgs, io: CliIO): S3StoreOptions {
  const env = io.env;
  const endpoint = stringOption(args, 's3-endpoint') ?? env.S3_ENDPOINT ?? env.AWS_ENDPOINT_URL_S3;
  const accessKeyId = env.S3_ACCESS_KEY_ID ?? (endpoint ? env.AWS_ACCESS_KEY_ID : undefined);
  const secretAccessKey = env.S3_SECRET_ACCESS_KEY ?? (endpoint ? env.AWS_SECRET_ACCESS_KEY : undefined);
  const sseKmsKeyId = stringOption(args, 'sse-kms-key-id');
  const expectedBucketOwner = stringOption(args, 'expected-bucket-owner');
  return {
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
    network: networkFromEnv(env),
  };
}
