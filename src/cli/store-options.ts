// The options and help lines of commands that read or write a backup location: plain data, kept
// apart from backup-store.ts so a command's --help loads no storage client.

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
