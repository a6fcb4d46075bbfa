// Public library entry point of dynamodb-replicator.
export * from './core/types.js';
export * from './core/errors.js';
export * from './core/change.js';
export * from './core/decimal.js';
export * from './core/canonical-key.js';
export * from './core/equality.js';
export * from './core/item-size.js';
export * from './core/ddb-json.js';
export * from './core/exact-json.js';
export * from './core/key-input.js';
export * from './core/backoff.js';
export * from './core/location.js';
