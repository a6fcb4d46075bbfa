/**
 * A plain CloudFormation template equivalent to the `DynamoDbReplicator` construct, for users
 * without CDK: the construct is synthesized in-process (offline) in a stack whose source table is
 * imported from its stream ARN, so the template is the construct's by construction. The functions'
 * code comes from parameters (the S3 bucket and keys where the `bundle` command's zips were
 * uploaded) instead of CDK assets, and the stack needs no CDK bootstrap.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, CfnParameter, DefaultStackSynthesizer, Duration, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ConfigError } from '../core/errors.js';
import { DynamoDbReplicator, type ReplicaTableProps, type TurnoverProps } from './replicator.js';

export interface ReplicatorTemplateOptions {
  /** The source table's stream ARN (`arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`). */
  readonly sourceStreamArn: string;
  /** Must match the stream ARN's table when given. Default: the table named in the stream ARN. */
  readonly sourceTable?: string;
  readonly replicas: readonly ReplicaTableProps[];
  /** Incremental backup: an existing bucket by name, or a new bucket when `bucketName` is absent. */
  readonly backup?: { readonly bucketName?: string; readonly prefix?: string };
  readonly batchSize?: number;
  readonly retryAttempts?: number;
  readonly parallelizationFactor?: number;
  readonly maxRecordAgeSeconds?: number;
  readonly turnover?: TurnoverProps;
}

const STREAM_ARN =
  /^arn:(aws[a-z-]*):dynamodb:([a-z0-9-]+):(\d{12}):table\/([A-Za-z0-9_.-]{3,255})\/stream\/(.+)$/;

/** The stack's logical name inside the template's generation; it appears nowhere in the output. */
const STACK_ID = 'DynamoDbReplicator';

export function replicatorStack(app: App, options: ReplicatorTemplateOptions): Stack {
  const m = STREAM_ARN.exec(options.sourceStreamArn);
  if (!m)
    throw new ConfigError(
      `the source stream ARN must look like arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-01-01T00:00:00.000, got "${options.sourceStreamArn}"`,
    );
  const [, partition, region, account, table] = m as unknown as [string, string, string, string, string];
  if (options.sourceTable !== undefined && options.sourceTable !== table)
    throw new ConfigError(
      `the source table "${options.sourceTable}" is not the table of the stream ARN ("${table}")`,
    );
  const stack = new Stack(app, STACK_ID, {
    synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
    analyticsReporting: false,
    description: `dynamodb-replicator: replication of ${table} (${region}) from its stream`,
  });
  const sourceTable = dynamodb.Table.fromTableAttributes(stack, 'SourceTable', {
    tableArn: `arn:${partition}:dynamodb:${region}:${account}:table/${table}`,
    tableStreamArn: options.sourceStreamArn,
  });
  const codeBucket = new CfnParameter(stack, 'CodeBucket', {
    type: 'String',
    description:
      'S3 bucket (in the stack region) holding the Lambda zips written by `dynamodb-replicator bundle`',
  });
  const codeKey = (handler: 'replicate' | 'backup'): lambda.Code =>
    lambda.Code.fromCfnParameters({
      bucketNameParam: codeBucket,
      objectKeyParam: new CfnParameter(stack, `${handler === 'replicate' ? 'Replicate' : 'Backup'}CodeKey`, {
        type: 'String',
        default: `${handler}.zip`,
        description: `S3 key of ${handler}.zip in CodeBucket`,
      }),
    });
  const backup = options.backup;
  new DynamoDbReplicator(stack, 'Replicator', {
    sourceTable,
    replicas: options.replicas,
    ...(backup
      ? {
          backup: {
            ...(backup.bucketName
              ? { bucket: s3.Bucket.fromBucketName(stack, 'BackupBucket', backup.bucketName) }
              : {}),
            ...(backup.prefix !== undefined ? { prefix: backup.prefix } : {}),
          },
        }
      : {}),
    ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
    ...(options.retryAttempts !== undefined ? { retryAttempts: options.retryAttempts } : {}),
    ...(options.parallelizationFactor !== undefined
      ? { parallelizationFactor: options.parallelizationFactor }
      : {}),
    ...(options.maxRecordAgeSeconds !== undefined
      ? { maxRecordAge: Duration.seconds(options.maxRecordAgeSeconds) }
      : {}),
    ...(options.turnover ? { turnover: options.turnover } : {}),
    code: {
      ...(options.replicas.length > 0 ? { replicate: codeKey('replicate') } : {}),
      ...(backup ? { backup: codeKey('backup') } : {}),
    },
  });
  return stack;
}

/** The template as a JSON value. Synthesizes into a temporary folder, removed afterwards. */
export function replicatorTemplate(options: ReplicatorTemplateOptions): Record<string, unknown> {
  const outdir = mkdtempSync(path.join(tmpdir(), 'dynamodb-replicator-template-'));
  try {
    const app = new App({
      outdir,
      analyticsReporting: false,
      // No CDK construct paths in the resources' Metadata: the template is for plain CloudFormation.
      context: { 'aws:cdk:enable-path-metadata': false },
    });
    const stack = replicatorStack(app, options);
    return app.synth().getStackByName(stack.stackName).template as Record<string, unknown>;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
