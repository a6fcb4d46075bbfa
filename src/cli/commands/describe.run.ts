// The `describe` command itself, loaded only when it runs (its spec and help are in describe.ts).
import { closing, openTable } from '../locations.js';
import { describeTable } from '../../dynamodb/tables.js';
import type { CliIO, ParsedArgs } from '../command.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const { client, table } = openTable(args.positionals[0] as string, io);
  const info = await closing([client], () => describeTable(client, table));
  io.stdout.write(JSON.stringify(info.description, null, args.values.json ? undefined : 2) + '\n');
  return 0;
}
