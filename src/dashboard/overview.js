// Overview: totals, an hour of throughput and backlog kept in the page, and every queue with its
// counts, paused flag, rates, oldest waiting job, and a flag when jobs wait and no worker serves them.
import { useEffect, useState } from 'preact/hooks';
import { live, subscribe, perMinute } from './state.js';
import { html, num, rate, duration, href, STATES } from './util.js';
import { Chart } from './chart.js';

export function useLive() {
  const [, tick] = useState(0);
  useEffect(() => subscribe(() => tick((n) => n + 1)), []);
  return live;
}

const SERIES = [
  { label: 'completed / min', color: '--ok' },
  { label: 'failed / min', color: '--bad' },
  { label: 'waiting', color: '--accent', scale: 'y2', fill: true },
];

function chartData() {
  const xs = [], done = [], failed = [], waiting = [];
  live.samples.forEach((s, i) => {
    const r = perMinute(null, i);
    xs.push(s.t / 1000);
    done.push(r.completed);
    failed.push(r.failed);
    waiting.push(s.totals.queued ?? 0);
  });
  return [xs, done, failed, waiting];
}

/** Queues with waiting jobs that no live worker lists. */
export function unserved(queues, workers) {
  if (!workers) return new Set(); // not known yet: flag nothing
  const served = new Set(workers.flatMap((w) => w.queues));
  return new Set(queues.filter((q) => q.counts.queued > 0 && !q.paused && !served.has(q.name)).map((q) => q.name));
}

export function Overview() {
  const s = useLive();
  if (!s.queues) return s.error ? html`<p class="error">Could not load queues: ${s.error.message}</p>` : html`<p class="muted">Loading…</p>`;
  const totals = Object.fromEntries(STATES.map((k) => [k, s.queues.reduce((n, q) => n + (q.counts[k] ?? 0), 0)]));
  const all = perMinute(null);
  const lonely = unserved(s.queues, s.workers);
  const now = Date.now();
  const queues = [...s.queues].sort((a, b) => a.name.localeCompare(b.name));
  return html`<section>
    <h1 class="page">Overview</h1>
    <div class="tiles" data-testid="totals">
      ${[['queued', 'waiting'], ['active', 'running'], ['scheduled', 'scheduled'], ['failed', 'failed'], ['completed', 'completed']].map(([k, label]) =>
        html`<div class=${'tile ' + k}><span class="n" data-total=${k}>${num(totals[k])}</span><span class="l">${label}</span></div>`)}
      <div class="tile"><span class="n">${rate(all.completed)}</span><span class="l">done / min</span></div>
      <div class="tile"><span class="n">${rate(all.failed)}</span><span class="l">failed / min</span></div>
      <div class="tile"><span class="n">${num(s.workers?.length ?? 0)}</span><span class="l">workers</span></div>
    </div>
    <div class="card">
      <h2>Last hour <span class="muted small">(since this page opened)</span></h2>
      ${s.samples.length < 2
        ? html`<p class="muted chart-wait">Collecting: the chart fills in while this page stays open.</p>`
        : html`<${Chart} series=${SERIES} data=${chartData()} y2Label="waiting" />`}
    </div>
    <div class="card">
      <h2>Queues</h2>
      ${queues.length === 0 ? html`<p class="muted">No queues yet: enqueue a job and it appears here.</p>` : html`
      <div class="scroll"><table class="grid queues" data-testid="queues">
        <thead><tr><th>Queue</th>${STATES.map((k) => html`<th class="num">${k}</th>`)}<th class="num">done/min</th><th class="num">failed/min</th><th class="num">oldest waiting</th><th></th></tr></thead>
        <tbody>${queues.map((q) => {
          const r = perMinute(q.name);
          const age = q.oldestQueuedAt ? now - new Date(q.oldestQueuedAt).getTime() : null;
          return html`<tr data-queue=${q.name}>
            <td><a href=${href('queues', q.name)}>${q.name}</a></td>
            ${STATES.map((k) => html`<td class=${'num c-' + k} data-state=${k}>${q.counts[k] ? num(q.counts[k]) : html`<span class="zero">0</span>`}</td>`)}
            <td class="num">${rate(r.completed)}</td><td class="num">${rate(r.failed)}</td>
            <td class="num">${age === null ? '–' : duration(age)}</td>
            <td class="flags">${q.paused && html`<span class="badge warn">paused</span>`}${lonely.has(q.name) && html`<span class="badge bad" title="Jobs are waiting and no live worker serves this queue">no worker</span>`}${q.rateLimit && html`<span class="badge" title="rate limit">${q.rateLimit.max}/${duration(q.rateLimit.windowMs)}</span>`}</td>
          </tr>`;
        })}</tbody>
      </table></div>`}
    </div>
  </section>`;
}
