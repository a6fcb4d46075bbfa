// Defaults of the data layer that help texts show: plain numbers, so a command's --help loads no SDK.

/** BatchWriteItem requests in flight. DynamoDB Local and AWS both scale with a few; more mostly adds contention. */
export const DEFAULT_WRITE_CONCURRENCY = 8;
