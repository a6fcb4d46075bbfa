import { UsageError } from '../../core/errors.js';
import { isRegionName, tableNameProblem } from '../../core/location.js';
import { intOption, stringOption, type Command, type ParsedArgs } from '../command.js';
import { parseDuration } from '../duration.js';
import { turnoverOption } from '../time-option.js';
import type { ReplicaTableProps } from '../../cdk/replicator.js';
import type * as TemplateModule from '../../cdk/template.js';
import type { ReplicatorTemplateOptions } from '../../cdk/template.js';

const HELP = `Usage: dynamodb-replicator template --source-stream-arn ARN --replica region/table [--replica ...] [options]

Prints a CloudFormation template that deploys replication of one table from its stream: the same
resources as the DynamoDbReplicator CDK construct (functions, event source mappings with partial
batch failures, on-failure queues, least-privilege roles, alarms). Works offline. Upload the zips
written by \`dynamodb-replicator bundle\` to an S3 bucket in the stack's region and pass it as the
CodeBucket parameter. Needs the packages aws-cdk-lib and constructs (npm install aws-cdk-lib constructs).

Options:
  --source-stream-arn ARN   the source table's stream (required)
  --source-table NAME       checked against the stream ARN (default: the table in the ARN)
  --replica SPEC            region/table[,role=ROLE_ARN][,external-id=ID][,account=ID]; repeat for
                           several replicas
  --role-arn ARN            role to assume for writing to the only --replica (cross-account)
  --backup                  also keep an incremental backup in a new encrypted bucket
  --backup-bucket NAME      ... or in this existing bucket
  --backup-prefix PREFIX    folder in the bucket (default dynamodb-replicator)
  --batch-size N            records per invocation (default 100)
  --retry-attempts N        retries of a failed batch before the on-failure queue (default 10)
  --parallelization-factor N  batches per shard in parallel, 1-10 (default 1)
  --max-record-age DURATION   e.g. 6h; older records go to the on-failure queue (default 24h)
  --turnover-role BEFORE|AFTER  with --turnover-at TIME: the cut-over filter for a hand-over
  --turnover-at TIME        cut-over instant, ISO 8601 or epoch milliseconds
  --format json|yaml        output format (default json)
  --debug                   print stack traces on errors`;

function parseReplica(spec: string): ReplicaTableProps {
  const [location = '', ...extras] = spec.split(',');
  const slash = location.indexOf('/');
  const region = location.slice(0, slash);
  const tableName = location.slice(slash + 1);
  if (slash < 0 || !isRegionName(region))
    throw new UsageError(`--replica must be region/table[,role=ARN][,account=ID], got "${spec}"`);
  const problem = tableNameProblem(tableName);
  if (problem) throw new UsageError(`--replica ${spec}: ${problem}`);
  let replica: ReplicaTableProps = { tableName, region };
  for (const extra of extras) {
    const [k, ...rest] = extra.split('=');
    const v = rest.join('=');
    if (k === 'role' && v) replica = { ...replica, roleArn: v };
    else if (k === 'external-id' && v) replica = { ...replica, externalId: v };
    else if (k === 'account' && v) replica = { ...replica, account: v };
    else
      throw new UsageError(
        `--replica ${spec}: unknown part "${extra}" (known: role=ARN, external-id=ID, account=ID)`,
      );
  }
  return replica;
}

function list(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  return Array.isArray(v) ? v.map(String) : [];
}

export function templateOptions(args: ParsedArgs): ReplicatorTemplateOptions {
  const sourceStreamArn = stringOption(args, 'source-stream-arn');
  if (!sourceStreamArn) throw new UsageError('template: --source-stream-arn is required');
  let replicas = list(args, 'replica').map(parseReplica);
  const roleArn = stringOption(args, 'role-arn');
  if (roleArn !== undefined) {
    if (replicas.length !== 1)
      throw new UsageError(
        '--role-arn applies to exactly one --replica; with several, give each its role as region/table,role=ARN',
      );
    replicas = replicas.map((r) => ({ roleArn, ...r }));
  }
  const bucketName = stringOption(args, 'backup-bucket');
  const prefix = stringOption(args, 'backup-prefix');
  const backup = args.values.backup === true || bucketName !== undefined;
  if (prefix !== undefined && !backup)
    throw new UsageError('--backup-prefix needs --backup (a new bucket) or --backup-bucket NAME');
  if (replicas.length === 0 && !backup)
    throw new UsageError('template: give at least one --replica region/table, or --backup');
  const turnover = turnoverOption(args);
  const maxAge = stringOption(args, 'max-record-age');
  const batchSize = intOption(args, 'batch-size', undefined, { min: 1, max: 10_000 });
  const retryAttempts = intOption(args, 'retry-attempts', undefined, { min: 0, max: 10_000 });
  const parallelizationFactor = intOption(args, 'parallelization-factor', undefined, { min: 1, max: 10 });
  const sourceTable = stringOption(args, 'source-table');
  return {
    sourceStreamArn,
    ...(sourceTable !== undefined ? { sourceTable } : {}),
    replicas,
    ...(backup
      ? { backup: { ...(bucketName ? { bucketName } : {}), ...(prefix !== undefined ? { prefix } : {}) } }
      : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    ...(retryAttempts !== undefined ? { retryAttempts } : {}),
    ...(parallelizationFactor !== undefined ? { parallelizationFactor } : {}),
    ...(maxAge !== undefined
      ? { maxRecordAgeSeconds: Math.round(parseDuration(maxAge, 'max-record-age') / 1000) }
      : {}),
    ...(turnover ? { turnover } : {}),
  };
}

/** Loads the CDK part lazily: aws-cdk-lib is an optional peer dependency, needed by this command only. */
async function loadTemplateModule(): Promise<typeof TemplateModule> {
  try {
    return await import('../../cdk/template.js');
  } catch (error) {
    const message = String((error as Error).message);
    if (
      (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' &&
      /aws-cdk-lib|constructs/.test(message)
    )
      throw new UsageError(
        'template needs the packages aws-cdk-lib and constructs: npm install aws-cdk-lib constructs',
        { cause: error },
      );
    throw error;
  }
}

export const templateCommand: Command = {
  name: 'template',
  noJson: 'the template itself is JSON (or YAML with --format yaml)',
  summary: 'Print a CloudFormation template deploying replication (and backup) of a table',
  help: HELP,
  options: {
    'source-stream-arn': { type: 'string' },
    'source-table': { type: 'string' },
    replica: { type: 'string', multiple: true },
    'role-arn': { type: 'string' },
    backup: { type: 'boolean' },
    'backup-bucket': { type: 'string' },
    'backup-prefix': { type: 'string' },
    'batch-size': { type: 'string' },
    'retry-attempts': { type: 'string' },
    'parallelization-factor': { type: 'string' },
    'max-record-age': { type: 'string' },
    'turnover-role': { type: 'string' },
    'turnover-at': { type: 'string' },
    format: { type: 'string' },
  },
  positionals: [0, 0],
  async run(args, io) {
    const format = stringOption(args, 'format') ?? 'json';
    if (format !== 'json' && format !== 'yaml')
      throw new UsageError(`--format must be json or yaml, got "${format}"`);
    const options = templateOptions(args);
    const { replicatorTemplate } = await loadTemplateModule();
    const template = replicatorTemplate(options);
    if (format === 'yaml') {
      const { toYaml } = await import('../../cdk/yaml.js');
      io.stdout.write(toYaml(template));
    } else io.stdout.write(JSON.stringify(template, null, 2) + '\n');
    return 0;
  },
};
