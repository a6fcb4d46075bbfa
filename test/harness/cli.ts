import { PassThrough, Readable } from 'node:stream';
import { runCli } from '../../src/cli/run.js';
import type { CliIO } from '../../src/cli/command.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs one CLI invocation in-process with captured stdout/stderr (not TTYs unless asked) and an
 * optional stdin, and returns the exit code and both outputs as text.
 */
export async function runCliCapture(
  argv: readonly string[],
  options: {
    stdin?: string | Uint8Array;
    env?: Record<string, string | undefined>;
    /** Pretend stderr is a terminal (progress output). */
    stderrIsTTY?: boolean;
  } = {},
): Promise<CliResult> {
  const stdout = collect();
  const stderr = collect();
  if (options.stderrIsTTY) Object.assign(stderr.stream, { isTTY: true });
  const io: CliIO = {
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: options.env ?? process.env,
    ...(options.stdin !== undefined ? { stdin: Readable.from([Buffer.from(options.stdin)]) } : {}),
  };
  const code = await runCli(argv, io);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

function collect(): { stream: PassThrough; text(): string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}
