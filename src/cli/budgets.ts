import { CapacityBudget } from '../dynamodb/capacity.js';
import { numberOption, type ParsedArgs } from './command.js';

/** Options of commands that write in bulk (import, copy). */
export const WRITE_BUDGET_OPTIONS = {
  'write-budget': { type: 'string' },
  'items-per-second': { type: 'string' },
} as const;

export const WRITE_BUDGET_HELP = `  --write-budget WCU       at most WCU write capacity units per second, measured from the
                           ConsumedCapacity DynamoDB returns (default: no limit)
  --items-per-second N     at most N items written per second (default: no limit)`;

/** The write budget from --write-budget and --items-per-second, or undefined for full speed. */
export function writeBudgetOption(args: ParsedArgs): CapacityBudget | undefined {
  const unitsPerSecond = numberOption(args, 'write-budget');
  const itemsPerSecond = numberOption(args, 'items-per-second');
  if (unitsPerSecond === undefined && itemsPerSecond === undefined) return undefined;
  return new CapacityBudget({ unitsPerSecond, itemsPerSecond });
}

/** The read budget from --read-budget, or undefined for full speed. */
export function readBudgetOption(args: ParsedArgs): CapacityBudget | undefined {
  const unitsPerSecond = numberOption(args, 'read-budget');
  return unitsPerSecond === undefined ? undefined : new CapacityBudget({ unitsPerSecond });
}
