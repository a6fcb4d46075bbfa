/**
 * The DynamoDB Streams client of a location, configured like the DynamoDB client (dynamodb/client.ts).
 * A module of its own so commands that never read a stream do not load the Streams SDK.
 */
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { keepProtoAttributes } from '../dynamodb/attribute-names.js';
import { clientConfig, remember, type AnyLocation, type ClientOptions } from '../dynamodb/client.js';

/**
 * A DynamoDB Streams client for a location, configured like createDynamoClient.
 *
 * @example
 * const streams = createStreamsClient(parseServiceLocation('us-east-1'));
 * const { shards } = await describeStream(streams, streamArn);
 */
export function createStreamsClient(loc: AnyLocation, options: ClientOptions = {}): DynamoDBStreamsClient {
  return remember(keepProtoAttributes(new DynamoDBStreamsClient(clientConfig(loc, options))), loc);
}
