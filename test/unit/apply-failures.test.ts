/**
 * Failures of a batch as applyChanges reports them, without a server: a record whose new image has
 * another key than the record is refused at planning, before any write (so the replica client
 * below is never called).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { keyId } from '../../src/core/canonical-key.js';
import type { Change } from '../../src/core/change.js';
import type { KeySchema } from '../../src/core/types.js';
import { applyChanges } from '../../src/replicate/engine.js';

const NEVER_CALLED = {} as DynamoDBClient;

it('a failed binary key is named and identified, and marked as refused (no retry can help)', async () => {
  const schema: KeySchema = { hash: { name: 'id', type: 'B' } };
  const key = { id: { B: new Uint8Array([0, 1]) } };
  const change: Change = {
    eventName: 'MODIFY',
    keys: key,
    newImage: { id: { B: new Uint8Array([9]) } },
    sequenceNumber: '100',
  };
  const result = await applyChanges([change], {
    replicas: [{ client: NEVER_CALLED, table: 'replica' }],
    keySchema: schema,
  });
  assert.equal(result.applied, 0);
  assert.deepEqual(result.failed, [
    {
      keyId: keyId(key),
      key: '{"id":{"B":"AAE="}}',
      firstSequenceNumber: '100',
      error: `new image has key {"id":{"B":"CQ=="}}, but the record's key is {"id":{"B":"AAE="}}`,
      refused: true,
    },
  ]);
  assert.equal(result.lowestFailedSequenceNumber, '100');
});
