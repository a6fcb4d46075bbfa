/**
 * Lambda deployment packages for the `replicate` and `backup` handlers: each handler bundled by
 * esbuild into one ESM file, `index.mjs` (handler `index.replicate` / `index.backup`), zipped.
 *
 * The AWS SDK v3 is bundled too, although the Node.js Lambda runtime ships one: the runtime's copy
 * changes under a deployed function without notice, while the bundle runs the exact SDK versions
 * this package is tested with (and pinned in its lockfile).
 *
 * Where bundles come from: an installed package carries pre-built `dist/bundles/<handler>/index.mjs`
 * (made by `npm run build`, so users need no esbuild) and zips them on first use; running from the TypeScript sources (development,
 * tests), the bundles are built once per process with esbuild into a temporary folder. Everything is
 * synchronous because CDK constructs are built synchronously.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../core/errors.js';
import { createZip } from './zip.js';

export const LAMBDA_HANDLERS = ['replicate', 'backup', 'verify', 'scanJob', 'nativeExport'] as const;
export type LambdaHandlerName = (typeof LAMBDA_HANDLERS)[number];

/** The module under src/lambda/ that exports each handler. */
const HANDLER_FILES: Readonly<Record<LambdaHandlerName, string>> = {
  replicate: 'replicate',
  backup: 'backup',
  verify: 'verify',
  scanJob: 'scan-job',
  nativeExport: 'native-export',
};

/** The file inside each package; Lambda's handler setting is `index.<handler name>`. */
export const BUNDLE_FILE = 'index.mjs';

export interface LambdaBundle {
  readonly handler: LambdaHandlerName;
  /** Lambda's handler setting, e.g. `index.replicate`. */
  readonly lambdaHandler: string;
  /** A folder holding only `index.mjs`. */
  readonly dir: string;
  /** The deployment package: `index.mjs` zipped. */
  readonly zip: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** `.ts` when running from the sources, `.js` from dist/. */
const ext = path.extname(fileURLToPath(import.meta.url));
/** dist/bundles when running from dist/deploy. */
const PREBUILT = path.resolve(here, '..', 'bundles');

/**
 * Node.js ESM cannot `require`, but some bundled CommonJS dependencies do (the SDK's, for Node
 * built-ins): give the bundle a real `require`.
 */
const ESM_REQUIRE_BANNER = [
  "import { createRequire as __replicatorCreateRequire } from 'node:module';",
  'const require = __replicatorCreateRequire(import.meta.url);',
].join('\n');

interface EsbuildApi {
  buildSync(options: Record<string, unknown>): { errors: unknown[]; warnings: unknown[] };
}

function loadEsbuild(): EsbuildApi {
  try {
    return createRequire(import.meta.url)('esbuild') as EsbuildApi;
  } catch (cause) {
    throw new UsageError(
      'bundling the Lambda handlers needs esbuild, which is not installed: npm install --save-dev esbuild',
      { cause },
    );
  }
}

/** esbuild settings shared by the handler bundles and a bundled transform module. */
function esbuildSync(input: Record<string, unknown>, outfile: string): void {
  loadEsbuild().buildSync({
    ...input,
    bundle: true,
    platform: 'node',
    // The oldest Node.js this package supports; the construct deploys a newer runtime.
    target: 'node20',
    format: 'esm',
    outfile,
    minify: true,
    // Error classes name themselves after their constructor (core/errors.ts).
    keepNames: true,
    legalComments: 'none',
    banner: { js: ESM_REQUIRE_BANNER },
    logLevel: 'silent',
  });
}

function bundleFromSources(handler: LambdaHandlerName, outDir: string): LambdaBundle {
  const entry = path.resolve(here, '..', 'lambda', `${HANDLER_FILES[handler]}${ext}`);
  if (!existsSync(entry)) throw new UsageError(`no Lambda entry point at ${entry}`);
  const dir = path.join(outDir, handler);
  mkdirSync(dir, { recursive: true });
  esbuildSync(
    {
      stdin: {
        contents: `export { ${handler} } from ${JSON.stringify(entry)};\n`,
        resolveDir: path.dirname(entry),
        sourcefile: `${handler}-entry.mjs`,
        loader: 'js',
      },
    },
    path.join(dir, BUNDLE_FILE),
  );
  return writeZip(handler, dir, path.join(outDir, `${handler}.zip`));
}

/**
 * Bundles a user's transform module (JavaScript or TypeScript, with its dependencies) into one ESM
 * file for the replicate function's package.
 */
export function bundleTransformModule(entry: string, outfile: string): void {
  if (!existsSync(entry)) throw new UsageError(`transformModule: no file at ${entry}`);
  try {
    esbuildSync({ entryPoints: [entry] }, outfile);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`transformModule: could not bundle ${entry}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function writeZip(handler: LambdaHandlerName, dir: string, zip: string): LambdaBundle {
  const data = readFileSync(path.join(dir, BUNDLE_FILE));
  writeFileSync(zip, createZip([{ name: BUNDLE_FILE, data }]));
  return { handler, lambdaHandler: `index.${handler}`, dir, zip };
}

/** Builds the packages of `handlers` into `outDir` (`<handler>/index.mjs` and `<handler>.zip`). */
export function buildLambdaBundles(
  outDir: string,
  handlers: readonly LambdaHandlerName[] = LAMBDA_HANDLERS,
): LambdaBundle[] {
  mkdirSync(outDir, { recursive: true });
  return handlers.map((h) => bundleFromSources(h, outDir));
}

const built = new Map<LambdaHandlerName, LambdaBundle>();
let scratch: string | undefined;

/**
 * The pre-built bundle of an installed package. The package ships each bundle once, as `index.mjs`;
 * its zip is made here on first use (reproducible bytes, so CDK asset hashes stay stable).
 */
function prebuilt(handler: LambdaHandlerName): LambdaBundle | undefined {
  if (ext !== '.js') return undefined;
  const dir = path.join(PREBUILT, handler);
  if (!existsSync(path.join(dir, BUNDLE_FILE))) return undefined;
  scratch ??= bundleScratchDir('bundles');
  return writeZip(handler, dir, path.join(scratch, `${handler}.zip`));
}

/** A temporary folder for this process's builds, removed when the process exits. */
export function bundleScratchDir(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `dynamodb-replicator-${name}-`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The package of one handler: the pre-built one of an installed package, else built once per
 * process from the sources.
 */
export function lambdaBundle(handler: LambdaHandlerName): LambdaBundle {
  let bundle = built.get(handler) ?? prebuilt(handler);
  if (!bundle) {
    scratch ??= bundleScratchDir('bundles');
    bundle = bundleFromSources(handler, scratch);
  }
  built.set(handler, bundle);
  return bundle;
}

/** Copies the packages of `handlers` to `outDir` as `<handler>.zip`; returns the files written. */
export function writeLambdaBundles(
  outDir: string,
  handlers: readonly LambdaHandlerName[] = LAMBDA_HANDLERS,
): string[] {
  mkdirSync(outDir, { recursive: true });
  return handlers.map((h) => {
    const target = path.join(outDir, `${h}.zip`);
    copyFileSync(lambdaBundle(h).zip, target);
    return target;
  });
}
