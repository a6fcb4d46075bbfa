/**
 * Every example of docs/library.md runs as written against DynamoDB Local and prints exactly the
 * output the page shows under it. The examples import 'dynamodb-replicator'; here that import is
 * pointed at the source entry point. Each example runs in its own process with its own access key,
 * so it gets an empty database of its own (DynamoDB Local keeps one per access key and region).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { dynamoEndpoint } from '../harness/dynamodb.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DOC = path.join(ROOT, 'docs/library.md');
const ENTRY = pathToFileURL(path.join(ROOT, 'src/index.ts')).href;
/**
 * Examples are written below the project's node_modules, so their other imports (the AWS SDK, as an
 * application would have it installed) resolve as they would in an application.
 */
const EXAMPLES_DIR = path.join(ROOT, 'node_modules/.cache/library-examples');

async function exampleDir(prefix: string): Promise<string> {
  await mkdir(EXAMPLES_DIR, { recursive: true });
  return mkdtemp(path.join(EXAMPLES_DIR, prefix));
}

interface Example {
  readonly heading: string;
  readonly code: string;
  readonly expected: string;
}

/** The ```ts blocks of the page, each with the ```text block that follows it and its heading. */
function extractExamples(markdown: string): Example[] {
  const examples: Example[] = [];
  const lines = markdown.split('\n');
  let heading = '(before the first heading)';
  let pending: { heading: string; code: string } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith('## ')) heading = line.slice(3).trim();
    const fence = /^```(\w*)$/.exec(line);
    if (!fence) continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`docs/library.md: unclosed code block under "${heading}"`);
    const body = lines.slice(i + 1, end).join('\n') + '\n';
    if (fence[1] === 'ts') {
      if (pending) throw new Error(`docs/library.md: the example under "${pending.heading}" shows no output`);
      pending = { heading, code: body };
    } else if (fence[1] === 'text' && pending) {
      examples.push({ ...pending, expected: body });
      pending = undefined;
    }
    i = end;
  }
  if (pending) throw new Error(`docs/library.md: the example under "${pending.heading}" shows no output`);
  return examples;
}

async function runExample(
  example: Example,
  dir: string,
  endpoint: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const rewritten = example.code.replaceAll("from 'dynamodb-replicator'", `from '${ENTRY}'`);
  assert.notEqual(rewritten, example.code, `"${example.heading}" imports from 'dynamodb-replicator'`);
  const file = path.join(dir, `${example.heading.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.mts`);
  await writeFile(file, rewritten);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', file],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          DYNAMODB_ENDPOINT: endpoint,
          // A database of its own: DynamoDB Local keeps one per access key and region.
          AWS_ACCESS_KEY_ID: `example${randomUUID().replaceAll('-', '')}`,
          AWS_SECRET_ACCESS_KEY: 'local',
          AWS_REGION: 'us-east-1',
          AWS_PROFILE: '',
        },
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const examples = extractExamples(await readFile(DOC, 'utf8'));

test('docs/library.md has an example with its output under every section', () => {
  assert.deepEqual(
    examples.map((e) => e.heading),
    [
      'Write, scan and read items',
      'Copy a table',
      'Export and import',
      'Diff two tables and repair the replica',
      'Verify replicas and backups on a schedule',
      'Check and fix one item',
      'Full backup and restore',
      'Scan jobs: planJob, runTaskSlice, mergeJob',
      'Verify a table against its backup as a job: runJobChain',
      'Change log, point-in-time restore and history',
      'Follow a stream: replicateTable',
      'Multi-active group: replicateGroup',
      'Lambda handler factories',
      'Failover client: createRegionalClient',
      'Errors',
    ],
  );
});

test('every example type-checks against the package root as a user would compile it', async () => {
  const dir = await exampleDir('library-types-');
  try {
    const files = await Promise.all(
      examples.map(async (example, i) => {
        const file = path.join(dir, `example-${i}.mts`);
        const entry = path.join(ROOT, 'src/index.js');
        await writeFile(file, example.code.replaceAll("from 'dynamodb-replicator'", `from '${entry}'`));
        return file;
      }),
    );
    const tsconfig = path.join(dir, 'tsconfig.json');
    await writeFile(
      tsconfig,
      JSON.stringify({
        extends: path.join(ROOT, 'tsconfig.json'),
        compilerOptions: { noEmit: true, rootDir: '/', typeRoots: [path.join(ROOT, 'node_modules/@types')] },
        files,
      }),
    );
    const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(process.execPath, [tsc, '-p', tsconfig], { cwd: ROOT }, (error, stdout, stderr) => {
        resolve({ code: error ? 1 : 0, output: stdout + stderr });
      });
    });
    // Name the example of each error by its heading.
    const named = result.output.replace(
      /\S*example-(\d+)\.mts/g,
      (_, i: string) => `"${examples[Number(i)]?.heading}"`,
    );
    assert.equal(result.code, 0, `docs/library.md examples do not type-check:\n${named}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

describe('docs/library.md examples run against DynamoDB Local and print what the page shows', () => {
  for (const example of examples) {
    test(example.heading, async () => {
      const endpoint = await dynamoEndpoint();
      const dir = await exampleDir('library-example-');
      try {
        const run = await runExample(example, dir, endpoint);
        assert.equal(run.code, 0, `the example "${example.heading}" failed:\n${run.stderr}`);
        assert.equal(run.stdout, example.expected, `the example "${example.heading}" printed something else`);
        assert.equal(run.stderr, '', `the example "${example.heading}" wrote to stderr`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
