// The `tables` command itself, loaded only when it runs (its spec and help are in tables.ts).
import { writeJson } from '../command.js';
import { closing, openService } from '../locations.js';
import { listTables } from '../../dynamodb/tables.js';
import type { CliIO, ParsedArgs } from '../command.js';

export async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const { client } = openService(args.positionals[0], io);
  const names = await closing([client], () => listTables(client));
  if (args.values.json) writeJson(io, names);
  else io.stdout.write(names.map((n) => n + '\n').join(''));
  return 0;
}
