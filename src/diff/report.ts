/**
 * The diff report: one JSON line per discrepancy, `{"kind":"missing","key":{...}}`, with the key in
 * DynamoDB JSON (lossless: numbers as exact strings, binary as base64) and, when asked, both images.
 * Item values are written only with `showItems`: reports may end up in logs and tickets.
 */
import { toDynamoJson } from '../core/ddb-json.js';
import type { Discrepancy, DiffTablesResult } from './diff-tables.js';

export function reportLine(d: Discrepancy, showItems: boolean): string {
  const line: Record<string, unknown> = { kind: d.kind, key: toDynamoJson(d.key) };
  if (showItems) {
    line.primary = d.primary ? toDynamoJson(d.primary) : null;
    line.replica = d.replica ? toDynamoJson(d.replica) : null;
  }
  return JSON.stringify(line) + '\n';
}

export interface DiffSummary {
  readonly primary: string;
  readonly replica: string;
  /** Whether the run was asked to fix the replica. */
  readonly repair: boolean;
  /** The replica side is a backup (compared, never written). */
  readonly againstBackup?: boolean;
  readonly share?: { readonly segment: number; readonly segments: number };
  readonly scanned: DiffTablesResult['scanned'];
  readonly rechecked: number;
  readonly settled: number;
  readonly discrepancies: DiffTablesResult['discrepancies'];
  readonly repaired?: DiffTablesResult['repaired'];
  readonly seconds: number;
  /** Items scanned on both sides per second. */
  readonly itemsPerSecond: number;
  /** Items spilled to temporary files by the join (0 when everything matched in memory). */
  readonly spilled: number;
}

export function diffSummary(
  labels: { primary: string; replica: string },
  result: DiffTablesResult,
  extra: { repair: boolean; againstBackup?: boolean; share?: { segment: number; segments: number } },
): DiffSummary {
  const total = result.scanned.primary + result.scanned.replica;
  return {
    primary: labels.primary,
    replica: labels.replica,
    repair: extra.repair,
    ...(extra.againstBackup ? { againstBackup: true } : {}),
    ...(extra.share ? { share: extra.share } : {}),
    scanned: result.scanned,
    rechecked: result.rechecked,
    settled: result.settled,
    discrepancies: result.discrepancies,
    ...(result.repaired ? { repaired: result.repaired } : {}),
    seconds: result.seconds,
    itemsPerSecond: total / Math.max(result.seconds, 1e-9),
    spilled: result.join.spilled,
  };
}

/** The human-readable summary printed after a diff. */
export function formatDiffSummary(s: DiffSummary): string {
  const d = s.discrepancies;
  const share = s.share ? ` (segment ${s.share.segment} of ${s.share.segments})` : '';
  const lines = [
    `compared ${s.primary} with ${s.replica}${share}: scanned ${s.scanned.primary} + ${s.scanned.replica} items ` +
      `in ${s.seconds.toFixed(1)} s (${Math.round(s.itemsPerSecond)} items/s), re-read ${s.rechecked} keys`,
    `discrepancies: ${d.total} (missing ${d.missing}, different ${d.different}, extraneous ${d.extraneous})` +
      (s.settled ? `; ${s.settled} resolved while settling` : ''),
  ];
  if (s.repair) {
    lines.push(
      d.total === 0
        ? 'nothing to repair'
        : `repaired: ${s.repaired?.written ?? 0} writes to ${s.replica} (${d.missing + d.different} puts, ` +
            `${d.extraneous} deletes); the replica now matches the primary`,
    );
  } else if (d.total > 0 && s.againstBackup) {
    lines.push("the backup does not hold the table's current state (missing = only in the table)");
  } else if (d.total > 0) {
    lines.push('nothing was written; run again with --repair to fix the replica');
  }
  return lines.join('\n') + '\n';
}
