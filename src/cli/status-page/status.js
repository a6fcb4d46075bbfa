// The status page: polls status.json once a second and draws it. Everything from the runner enters
// the page as text (textContent), never as markup: labels and messages may hold any character.
/* global document, window, fetch, uPlot */
(() => {
  'use strict';
  const POLL_MS = 1000;
  /** Read by the browser test: the last status, the chart, and how many polls were drawn. */
  const page = { status: undefined, chart: undefined, updates: 0 };
  window.statusPage = page;

  const byId = (id) => document.getElementById(id);
  const setText = (node, value) => {
    node.textContent = value === undefined || value === null ? '-' : String(value);
  };
  const make = (tag, text, className) => {
    const node = document.createElement(tag);
    if (text !== undefined) setText(node, text);
    if (className) node.className = className;
    return node;
  };
  const iso = (ms) => (typeof ms === 'number' ? new Date(ms).toISOString() : '-');
  const millis = (ms) => (typeof ms === 'number' ? `${ms} ms` : '-');
  const duration = (ms) => (typeof ms === 'number' ? `${(ms / 1000).toFixed(0)} s` : '-');

  function renderTotals(status) {
    const totals = status.totals ?? {};
    for (const node of document.querySelectorAll('#totals [data-field]')) {
      const field = node.dataset.field;
      const value = totals[field];
      if (field === 'lagMs') setText(node, millis(value));
      else if (field === 'uptimeMs') setText(node, duration(value));
      else setText(node, value);
    }
    const checkpoint = status.lastCheckpoint;
    setText(byId('last-checkpoint'), checkpoint ? `${iso(checkpoint.at)} (#${checkpoint.count})` : '-');
    // Group (multi-active) mode only: the slot stays hidden while the field is absent.
    const hasConflicts = typeof status.conflicts === 'number';
    byId('conflicts-slot').hidden = !hasConflicts;
    if (hasConflicts) setText(byId('conflicts'), status.conflicts);
  }

  function renderShards(shards) {
    const body = byId('shards').tBodies[0];
    body.replaceChildren(
      ...shards.map((s) => {
        const row = make('tr');
        row.dataset.shard = s.shardId;
        row.append(
          make('td', s.shardId),
          make('td', s.state + (s.caughtUp ? ' (caught up)' : '')),
          make('td', s.records, 'records'),
          make('td', s.position, 'position'),
          make('td', millis(s.ageMs), 'age'),
        );
        return row;
      }),
    );
  }

  function renderGaps(gaps) {
    const list = byId('gaps');
    if (gaps.length === 0) {
      list.replaceChildren(make('li', 'none'));
      return;
    }
    list.replaceChildren(
      ...gaps.map((g) =>
        make(
          'li',
          `${iso(g.at)}: ${g.message}` +
            (typeof g.lossFrom === 'number' ? ` (changes from ${iso(g.lossFrom)} may be missing)` : ''),
        ),
      ),
    );
  }

  function renderChart(history) {
    const data = [history.t, history.lagP50, history.lagP99, history.recordsPerSecond];
    if (page.chart) {
      page.chart.setData(data);
      return;
    }
    const target = byId('chart');
    page.chart = new uPlot(
      {
        width: Math.max(320, Math.min(1100, target.clientWidth || 900)),
        height: 280,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        scales: { x: { time: true }, ms: { auto: true }, rps: { auto: true } },
        series: [
          {},
          { label: 'lag p50 (ms)', scale: 'ms', stroke: '#1f77b4', width: 1.5 },
          { label: 'lag p99 (ms)', scale: 'ms', stroke: '#d62728', width: 1.5 },
          { label: 'records/s', scale: 'rps', stroke: '#2ca02c', width: 1 },
        ],
        axes: [
          {},
          { scale: 'ms', label: 'ms' },
          { scale: 'rps', side: 1, label: 'records/s', grid: { show: false } },
        ],
      },
      data,
      target,
    );
  }

  /** The change log as a bar from its first restorable moment to its last change, with snapshots and gaps. */
  function renderBackup(backup, status) {
    const section = byId('backup');
    section.hidden = !backup;
    if (!backup) return;
    const facts = byId('backup-facts');
    const timeline = byId('timeline');
    if (backup.error) {
      timeline.replaceChildren();
      facts.replaceChildren(make('li', `coverage unavailable: ${backup.error}`, 'error'));
      return;
    }
    // While the runner keeps the log, every moment up to now is restorable (changes are logged first).
    const until = status.state === 'running' ? status.generatedAt : backup.lastChange;
    const times = [
      until,
      backup.coveredFrom,
      backup.firstChange,
      backup.lastChange,
      ...backup.snapshots.map((s) => s.completedAt),
      ...backup.gaps.flatMap((g) => [g.lossFrom, g.detectedAt]),
    ].filter((t) => typeof t === 'number' && t > 0);
    if (times.length === 0) {
      timeline.replaceChildren();
      facts.replaceChildren(make('li', `log ${backup.location}: nothing logged yet`));
      return;
    }
    const start = Math.min(...times);
    const end = Math.max(...times, start + 1);
    const at = (t) => `${(((t - start) / (end - start)) * 100).toFixed(3)}%`;
    const bar = (className, from, to, title) => {
      const node = make('div', undefined, className);
      node.style.left = at(from);
      if (to !== undefined) node.style.width = `calc(${at(to)} - ${at(from)})`;
      node.title = title;
      return node;
    };
    const parts = [];
    if (typeof backup.coveredFrom === 'number' && typeof until === 'number')
      parts.push(bar('covered', backup.coveredFrom, Math.max(backup.coveredFrom, until), 'restorable'));
    for (const s of backup.snapshots)
      parts.push(bar('snapshot', s.completedAt, undefined, `snapshot ${s.id}`));
    for (const g of backup.gaps) parts.push(bar('gap', Math.max(start, g.lossFrom), g.detectedAt, g.reason));
    timeline.replaceChildren(...parts);
    facts.replaceChildren(
      make('li', `log ${backup.location}`),
      make('li', `restorable from ${iso(backup.coveredFrom)}`),
      make('li', `first change ${iso(backup.firstChange)}, last change ${iso(backup.lastChange)}`),
      make('li', `${backup.snapshots.length} base snapshot(s), ${backup.gaps.length} gap(s)`),
      make('li', `${backup.objects} objects (${backup.segments} change segments, ${backup.bytes} bytes)`),
    );
  }

  function render(status) {
    setText(byId('source'), status.source.label);
    setText(byId('replicas'), status.replicas.length ? status.replicas.join(', ') : '(change log only)');
    const state = byId('state');
    setText(state, status.state + (status.error ? `: ${status.error}` : ''));
    state.className = `state ${status.state}`;
    renderTotals(status);
    renderChart(status.history);
    renderShards(status.shards);
    renderGaps(status.gaps);
    renderBackup(status.backup, status);
    page.status = status;
    page.updates++;
  }

  async function poll() {
    const error = byId('error');
    try {
      const response = await fetch('status.json', { cache: 'no-store' });
      if (!response.ok) throw new Error(`status.json: HTTP ${response.status}`);
      render(await response.json());
      error.hidden = true;
    } catch (e) {
      error.hidden = false;
      setText(error, `cannot read the runner's status: ${e.message}`);
    } finally {
      window.setTimeout(poll, POLL_MS);
    }
  }

  void poll();
})();
