/**
 * Sizes of the reliability suite. RELIABILITY_PROFILE=ci (the default, part of `npm test`) keeps the
 * whole suite within a few minutes on a 2-core machine; RELIABILITY_PROFILE=full runs the sizes of
 * issue 7 (see docs/reliability.md).
 */
export interface ReliabilityProfile {
  readonly name: 'ci' | 'full';
  /** Throttling storm: items copied, repaired and restored. */
  readonly stormItems: number;
  /** Crash and restart: SIGKILLs and mixed changes. */
  readonly kills: number;
  readonly crashChanges: number;
  /** Replica outage: seconds the replica endpoint refuses connections. */
  readonly outageSeconds: number;
  /** Hand-off under load: source changes per second during the backfill, and repetitions. */
  readonly handoffRate: number;
  readonly handoffRepetitions: number;
  readonly handoffItems: number;
  /** Hand-off: the copy's --items-per-second (on 2 cores the emulator cannot also take 300 changes/s at full copy speed). */
  readonly handoffCopyPerSecond: number;
  /** Backup under faults: changes recorded during the incremental backup. */
  readonly backupChanges: number;
  /** Source stream faults: changes read through expiring iterators and failing GetRecords. */
  readonly streamFaultChanges: number;
  /** Property test: seeds and operations per seed. */
  readonly propertySeeds: number;
  readonly propertyOps: number;
}

const CI: ReliabilityProfile = {
  name: 'ci',
  stormItems: 1000,
  kills: 3,
  crashChanges: 3000,
  outageSeconds: 5,
  handoffRate: 100,
  handoffRepetitions: 1,
  handoffItems: 2000,
  handoffCopyPerSecond: 500,
  backupChanges: 500,
  streamFaultChanges: 1000,
  propertySeeds: 50,
  propertyOps: 120,
};

const FULL: ReliabilityProfile = {
  name: 'full',
  stormItems: 20000,
  kills: 10,
  crashChanges: 50000,
  outageSeconds: 20,
  handoffRate: 300,
  handoffRepetitions: 5,
  handoffItems: 20000,
  handoffCopyPerSecond: 300,
  backupChanges: 5000,
  streamFaultChanges: 10000,
  propertySeeds: 500,
  propertyOps: 500,
};

function profile(): ReliabilityProfile {
  const name = process.env.RELIABILITY_PROFILE ?? 'ci';
  if (name === 'ci') return CI;
  if (name === 'full') return FULL;
  throw new Error(`RELIABILITY_PROFILE must be ci or full, not ${JSON.stringify(name)}`);
}

export const PROFILE = profile();
