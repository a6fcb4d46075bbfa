import type { Command } from '../command.js';

/**
 * Every subcommand of the `dynamodb-replicator` binary. Each lives in its own module next to this
 * file; add one import and one entry per command.
 */
export const COMMANDS: readonly Command[] = [];
