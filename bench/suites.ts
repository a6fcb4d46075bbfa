import { backupSuite } from './backup.js';
import type { BenchSuite } from './context.js';
import { copySuite } from './copy.js';
import { diffSuite } from './diff.js';
import { foundationSuite } from './foundation.js';
import { groupSuite } from './group.js';
import { incrementalSuite } from './incremental.js';
import { regionalClientSuite } from './regional-client.js';
import { replicateApplySuite } from './replicate-apply.js';
import { replicateLagSuite } from './replicate-lag.js';
import { scanJobsSuite } from './scan-jobs.js';

/** Benchmark modules run by `npm run bench`, in this order. Add yours with one import and one entry. */
export const SUITES: readonly BenchSuite[] = [
  foundationSuite,
  copySuite,
  replicateApplySuite,
  replicateLagSuite,
  groupSuite,
  diffSuite,
  backupSuite,
  incrementalSuite,
  regionalClientSuite,
  scanJobsSuite,
];
