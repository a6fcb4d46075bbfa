/**
 * The package as a user installs it: `npm pack`, then install the tarball into a scratch project
 * (dependencies from the npm cache first, the registry only for what the cache lacks) and use it the
 * ways the README says: the binary, the three entry points, and a type-checked consumer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const NPM_QUIET = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

async function sh(cmd: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return run(cmd, args, {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
}

/** Runs an ES module snippet in the scratch project; resolves with its output or its failure. */
async function node(cwd: string, code: string): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout, stderr } = await sh(process.execPath, ['--input-type=module', '-e', code], cwd);
    return { ok: true, out: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

test('the packed package installs, runs and type-checks in a scratch project', async () => {
  assert.ok(existsSync(path.join(ROOT, 'dist/index.js')), 'dist/ is built (npm run build)');
  const manifest = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    devDependencies: Record<string, string>;
  };
  const scratch = await mkdtemp(path.join(tmpdir(), 'replicator-package-'));
  try {
    // --ignore-scripts: pack the dist/ that `npm test` just built instead of building again.
    const packed = await sh(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch],
      ROOT,
    );
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    assert.ok(info);
    const files = info.files.map((f) => f.path);
    assert.deepEqual(
      files.filter((f) => f.endsWith('.map') || f.startsWith('dist/embedded/') || f.endsWith('.zip')),
      [],
      'no source maps, no demo code, each Lambda bundle once',
    );
    assert.ok(files.includes('LICENSE'));
    assert.ok(files.includes('dist/bundles/replicate/index.mjs'));
    // The status page and its chart library ship inside the package: nothing is fetched at run time.
    const pageFiles = ['index.html', 'status.js', 'status.css', 'uPlot.iife.min.js', 'uPlot.min.css'];
    for (const name of [...pageFiles, 'uPlot.LICENSE'])
      assert.ok(files.includes(`dist/cli/status-page/${name}`), `dist/cli/status-page/${name} is packed`);

    await writeFile(
      path.join(scratch, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    await sh('npm', ['install', ...NPM_QUIET, `./${info.filename}`], scratch);

    // uPlot is a devDependency: the installed package serves its own copy, byte for byte.
    assert.equal(existsSync(path.join(scratch, 'node_modules/uplot')), false);
    assert.deepEqual(
      await readFile(
        path.join(scratch, 'node_modules/dynamodb-replicator/dist/cli/status-page/uPlot.iife.min.js'),
      ),
      await readFile(path.join(ROOT, 'node_modules/uplot/dist/uPlot.iife.min.js')),
    );

    const version = await sh('npx', ['--no-install', 'dynamodb-replicator', '--version'], scratch);
    assert.equal(version.stdout, `dynamodb-replicator ${manifest.version}\n`);

    const root = await node(
      scratch,
      "const m = await import('dynamodb-replicator'); console.log(typeof m.parseTableLocation, typeof m.ReplicatorError);",
    );
    assert.deepEqual(root, { ok: true, out: 'function function\n' });
    const lambda = await node(
      scratch,
      "const m = await import('dynamodb-replicator/lambda'); console.log(typeof m.replicate, typeof m.backup);",
    );
    assert.deepEqual(lambda, { ok: true, out: 'function function\n' });

    // Without the optional peers, ./cdk says what to install.
    const noCdk = await node(scratch, "await import('dynamodb-replicator/cdk');");
    assert.equal(noCdk.ok, false);
    assert.match(noCdk.out, /dynamodb-replicator\/cdk needs aws-cdk-lib and constructs, not installed here/);

    await sh(
      'npm',
      [
        'install',
        ...NPM_QUIET,
        `aws-cdk-lib@${manifest.devDependencies['aws-cdk-lib']}`,
        `constructs@${manifest.devDependencies.constructs}`,
      ],
      scratch,
    );
    const cdk = await node(
      scratch,
      "const m = await import('dynamodb-replicator/cdk'); console.log(typeof m.DynamoDbReplicator);",
    );
    assert.deepEqual(cdk, { ok: true, out: 'function\n' });

    // A consumer's TypeScript sees the declarations of every entry point.
    await writeFile(
      path.join(scratch, 'consumer.ts'),
      [
        "import { parseTableLocation, type TableLocation } from 'dynamodb-replicator';",
        "import { createReplicateHandler } from 'dynamodb-replicator/lambda';",
        "import { DynamoDbReplicator, type DynamoDbReplicatorProps } from 'dynamodb-replicator/cdk';",
        "const where: TableLocation = parseTableLocation('us-east-1/users');",
        'export const handler: typeof createReplicateHandler = createReplicateHandler;',
        'export const props: Partial<DynamoDbReplicatorProps> = {};',
        'export const kind: typeof DynamoDbReplicator = DynamoDbReplicator;',
        'export const table: string = where.table;',
        '',
      ].join('\n'),
    );
    await writeFile(
      path.join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules/@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
    const checked = await sh(process.execPath, [tsc, '-p', 'tsconfig.json'], scratch).then(
      () => 'ok',
      (e: { stdout?: string }) => e.stdout ?? String(e),
    );
    assert.equal(checked, 'ok');
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});
