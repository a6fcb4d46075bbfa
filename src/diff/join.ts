/**
 * Joins the keys of two scans by canonical key in bounded memory.
 *
 * Each scanned item arrives as (side, canonical key, fingerprint). An item waits in memory until its
 * partner from the other side arrives; then the pair is resolved at once (equal fingerprints: done;
 * different: a candidate). When both scans visit keys in a similar order (DynamoDB and DynamoDB Local
 * return a segment's items in partition-key hash order, the same for two tables with the same key
 * schema), very few items wait. When they do not (different orders, a replica missing many items, a
 * backup on the other side), the waiting items are spilled to temporary partition files bucketed by
 * `keyId` and joined partition by partition at the end — so memory is bounded by `maxInMemory`, never
 * by table size. Correctness never depends on the scan order; only memory and speed do.
 */
import { appendFileSync, mkdtempSync, rmSync, statSync, createReadStream, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';

export type Side = 'primary' | 'replica';

/**
 * A key whose two sides did not match in the scans: seen on one side only, or on both with different
 * fingerprints. It is re-read before anything is reported.
 */
export interface JoinCandidate {
  readonly key: string;
  readonly inPrimary: boolean;
  readonly inReplica: boolean;
  /** The scanned fingerprints, for sides that cannot be read again (a backup). */
  readonly primaryFingerprint?: string;
  readonly replicaFingerprint?: string;
}

export interface KeyJoinOptions {
  /** Waiting entries kept in memory before spilling to disk. */
  readonly maxInMemory?: number;
  /** Directory for spill files (a private temporary directory is created inside it). */
  readonly tempDir?: string;
}

export interface KeyJoinStats {
  /** Keys seen on both sides with equal fingerprints. */
  matched: number;
  /** Entries written to spill files (an entry may be written more than once when re-partitioned). */
  spilled: number;
  /** Most entries waiting in memory at once. */
  peakWaiting: number;
}

const DEFAULT_MAX_IN_MEMORY = 200_000;
/** Spill partitions per level: one hex digit of keyId; an oversized partition splits on the next digit. */
const FANOUT = 16;
/** Spill lines buffered before they are appended to their files. */
const FLUSH_LINES = 20_000;
/** Rough bytes of one spill line (side flag, fingerprint, tab, a short key, newline): sizes partitions. */
const BYTES_PER_ENTRY = 80;

/** Waiting entries are one string each: side flag ('p'/'r') followed by the fingerprint. */
type Waiting = Map<string, string>;

function candidateOf(key: string, entry: string): JoinCandidate {
  const fingerprint = entry.slice(1);
  return entry[0] === 'p'
    ? { key, inPrimary: true, inReplica: false, primaryFingerprint: fingerprint }
    : { key, inPrimary: false, inReplica: true, replicaFingerprint: fingerprint };
}

function pairOf(key: string, a: string, b: string): JoinCandidate {
  const [p, r] = a[0] === 'p' ? [a, b] : [b, a];
  return {
    key,
    inPrimary: true,
    inReplica: true,
    primaryFingerprint: p.slice(1),
    replicaFingerprint: r.slice(1),
  };
}

/** keyId of a canonical key text: the same SHA-256 hex as core/canonical-key `keyId`. */
function keyIdOfCanonical(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Buffers spill lines per partition and appends them to the partition files in large writes. */
class PartitionWriter {
  private readonly buffers: string[] = Array.from({ length: FANOUT }, () => '');
  private buffered = 0;
  constructor(
    private readonly files: readonly string[],
    private readonly depth: number,
    private readonly onLine: () => void,
  ) {}

  write(key: string, entry: string): void {
    const digit = parseInt(keyIdOfCanonical(key)[this.depth] ?? '0', 16);
    this.buffers[digit] += `${entry}\t${key}\n`;
    this.onLine();
    if (++this.buffered >= FLUSH_LINES) this.flush();
  }

  flush(): void {
    this.buffers.forEach((text, p) => {
      if (text) appendFileSync(this.files[p] as string, text);
      this.buffers[p] = '';
    });
    this.buffered = 0;
  }
}

export class KeyJoin {
  readonly stats: KeyJoinStats = { matched: 0, spilled: 0, peakWaiting: 0 };
  private readonly waiting: Waiting = new Map();
  private readonly maxInMemory: number;
  private readonly tempParent: string;
  private dir: string | undefined;
  private finished = false;

  constructor(options: KeyJoinOptions = {}) {
    this.maxInMemory = Math.max(1, options.maxInMemory ?? DEFAULT_MAX_IN_MEMORY);
    this.tempParent = options.tempDir ?? tmpdir();
  }

  /** Entries waiting for their partner in memory right now. */
  get waitingCount(): number {
    return this.waiting.size;
  }

  /**
   * Adds one scanned item. Returns a candidate when the key's partner was waiting with a different
   * fingerprint; undefined otherwise (matched, or now waiting).
   */
  add(side: Side, key: string, fingerprint: string): JoinCandidate | undefined {
    const mine = side === 'primary' ? 'p' : 'r';
    const entry = this.waiting.get(key);
    if (entry !== undefined && entry.charCodeAt(0) !== mine.charCodeAt(0)) {
      this.waiting.delete(key);
      // entry is flag + fingerprint: compare without slicing (this runs once per scanned item).
      if (entry.length === fingerprint.length + 1 && entry.endsWith(fingerprint)) {
        this.stats.matched++;
        return undefined;
      }
      return pairOf(key, entry, mine + fingerprint);
    }
    // A repeated key on the same side replaces the earlier entry; the re-read decides with current
    // data anyway.
    this.waiting.set(key, mine + fingerprint);
    if (this.waiting.size > this.stats.peakWaiting) this.stats.peakWaiting = this.waiting.size;
    if (this.waiting.size >= this.maxInMemory) this.spillWaiting();
    return undefined;
  }

  /**
   * Call after both scans ended. Yields every key that is still unresolved: one-sided keys, and keys
   * whose two entries met only in the spill files with different fingerprints.
   */
  async *finish(): AsyncGenerator<JoinCandidate> {
    if (this.finished) throw new Error('KeyJoin.finish called twice');
    this.finished = true;
    try {
      if (this.dir === undefined) {
        for (const [key, entry] of this.waiting) yield candidateOf(key, entry);
        this.waiting.clear();
        return;
      }
      this.spillWaiting();
      for (const file of this.partitionFiles('')) yield* this.joinPartition(file, 1);
    } finally {
      this.close();
    }
  }

  /** Removes the spill files; safe to call more than once (also when a scan failed). */
  close(): void {
    this.waiting.clear();
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  /** The FANOUT partition files under `parent` (a path of hex digits, one per level). */
  private partitionFiles(parent: string): string[] {
    this.dir ??= mkdtempSync(path.join(this.tempParent, 'diff-join-'));
    const dir = this.dir;
    return Array.from({ length: FANOUT }, (_, p) => path.join(dir, `part-${parent}${p.toString(16)}`));
  }

  private writer(parent: string, depth: number): PartitionWriter {
    return new PartitionWriter(this.partitionFiles(parent), depth, () => this.stats.spilled++);
  }

  private spillWaiting(): void {
    const out = this.writer('', 0);
    for (const [key, entry] of this.waiting) out.write(key, entry);
    out.flush();
    this.waiting.clear();
  }

  /** Joins one partition file in memory, or splits it on the next keyId digit when it is too big. */
  private async *joinPartition(file: string, depth: number): AsyncGenerator<JoinCandidate> {
    if (!existsSync(file)) return;
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    // keyId has 64 hex digits, so a partition can always be split further unless keys repeat.
    if (statSync(file).size > this.maxInMemory * BYTES_PER_ENTRY && depth < 64) {
      const parent = path.basename(file).slice('part-'.length);
      const out = this.writer(parent, depth);
      for await (const line of lines) {
        const tab = line.indexOf('\t');
        if (tab > 0) out.write(line.slice(tab + 1), line.slice(0, tab));
      }
      out.flush();
      rmSync(file, { force: true });
      for (const sub of this.partitionFiles(parent)) yield* this.joinPartition(sub, depth + 1);
      return;
    }
    const entries: Waiting = new Map();
    for await (const line of lines) {
      const tab = line.indexOf('\t');
      if (tab <= 0) continue;
      const entry = line.slice(0, tab);
      const key = line.slice(tab + 1);
      const other = entries.get(key);
      if (other !== undefined && other[0] !== entry[0]) {
        entries.delete(key);
        if (other.slice(1) === entry.slice(1)) this.stats.matched++;
        else yield pairOf(key, other, entry);
      } else {
        entries.set(key, entry);
      }
    }
    rmSync(file, { force: true });
    for (const [key, entry] of entries) yield candidateOf(key, entry);
  }
}
