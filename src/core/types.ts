/**
 * The DynamoDB wire model, kept exactly as DynamoDB sends it: numbers are strings so that all 38
 * digits survive, binary is bytes. Structurally compatible with the AWS SDK v3 types so adapters can
 * pass items through without conversion; core/ itself never imports the SDK.
 */
export type AttributeValue =
  | { S: string }
  | { N: string }
  | { B: Uint8Array }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: Uint8Array[] }
  | { M: Record<string, AttributeValue> }
  | { L: AttributeValue[] }
  | { NULL: true }
  | { BOOL: boolean };

/** A whole item: attribute name -> value. */
export type Item = Record<string, AttributeValue>;

/** The key attributes of an item only. */
export type Key = Record<string, AttributeValue>;

export type KeyType = 'S' | 'N' | 'B';

/** A table's primary key: hash attribute and optional range attribute, with their scalar types. */
export interface KeySchema {
  readonly hash: { readonly name: string; readonly type: KeyType };
  readonly range?: { readonly name: string; readonly type: KeyType };
}
