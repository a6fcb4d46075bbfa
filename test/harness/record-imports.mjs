// Records every module URL the process resolves into the file named by RECORD_IMPORTS_FILE, one per
// line, so a test can check what a command loads (e.g. that `--help` loads no AWS SDK).
import { register } from 'node:module';

register(new URL('./record-imports-hooks.mjs', import.meta.url), {
  data: { file: process.env.RECORD_IMPORTS_FILE },
});
