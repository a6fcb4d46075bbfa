import { UsageError } from '../../core/errors.js';
import { LAMBDA_HANDLERS, writeLambdaBundles, type LambdaHandlerName } from '../../deploy/bundle.js';
import { stringOption, writeJson, type Command } from '../command.js';

export const bundleCommand: Command = {
  name: 'bundle',
  summary: 'Write the Lambda deployment packages (replicate.zip, backup.zip, verify.zip)',
  help: `Usage: dynamodb-replicator bundle [--out DIR] [--handler replicate|backup|verify|scanJob|nativeExport] [--json]

Writes the Lambda deployment packages of the handlers to DIR: replicate.zip (handler
index.replicate), backup.zip (handler index.backup) and verify.zip (handler index.verify, the
scheduled verify job), each one ESM file for Node.js 20 or later
with its dependencies, the AWS SDK included. Upload them to S3 for the \`template\` command's stack.
Works offline; an installed package copies its pre-built zips, a source checkout builds them with
esbuild.

Options:
  --out DIR        output folder (default: lambda-bundles)
  --handler NAME   only this handler's package
  --json           print {"files": [...]} instead of one path per line
  --debug          print stack traces on errors`,
  options: { out: { type: 'string' }, handler: { type: 'string' } },
  positionals: [0, 0],
  async run(args, io) {
    const handler = stringOption(args, 'handler');
    if (handler !== undefined && !(LAMBDA_HANDLERS as readonly string[]).includes(handler))
      throw new UsageError(`--handler must be one of ${LAMBDA_HANDLERS.join(', ')}, got "${handler}"`);
    const handlers = handler ? [handler as LambdaHandlerName] : LAMBDA_HANDLERS;
    const files = writeLambdaBundles(stringOption(args, 'out') ?? 'lambda-bundles', handlers);
    if (args.values.json) writeJson(io, { files });
    else io.stdout.write(files.map((f) => f + '\n').join(''));
    return 0;
  },
};
