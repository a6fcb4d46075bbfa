// Public library entry point of dynamodb-replicator.
export * from './core/types.js';
export * from './core/errors.js';
export * from './core/change.js';
