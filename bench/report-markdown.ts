/**
 * The benchmark report as a Markdown table (bench/results/latest.md): one row per figure of each
 * suite, nested figures flattened to dotted names. Ratios to the same-run baselines, p50/p99
 * latencies and peak memory are whatever the suites and the runner report under those names.
 */

function flatten(value: unknown, prefix: string, rows: [string, unknown][]): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, rows);
  } else rows.push([prefix, value]);
}

function kind(figure: string): string {
  if (/ratio|vs|ToWriteCeiling|ToScanCeiling/i.test(figure)) return 'ratio to baseline';
  if (/p50|p99|latency/i.test(figure)) return 'latency';
  if (/peakRss|memory|Mb$/i.test(figure)) return 'memory';
  return '';
}

export function markdownReport(report: {
  date: string;
  node: string;
  cpus: number;
  items: number;
  baselines: Record<string, unknown>;
  suites: Record<string, unknown>;
}): string {
  const lines = [
    `# Benchmark report`,
    '',
    `${report.date}, Node ${report.node}, ${report.cpus} CPUs, ${report.items} items per data set.`,
    '',
    '| Baseline (same run) | Value |',
    '| --- | --- |',
    ...Object.entries(report.baselines).map(([k, v]) => `| ${k} | ${String(v)} |`),
    '',
    '| Suite | Figure | Value | Kind |',
    '| --- | --- | --- | --- |',
  ];
  for (const [suite, figures] of Object.entries(report.suites)) {
    const rows: [string, unknown][] = [];
    flatten(figures, '', rows);
    for (const [figure, value] of rows)
      lines.push(
        `| ${suite} | ${figure} | ${typeof value === 'string' ? value : JSON.stringify(value)} | ${kind(figure)} |`,
      );
  }
  return lines.join('\n') + '\n';
}
