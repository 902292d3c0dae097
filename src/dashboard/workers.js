// Workers: host, pid, queues, concurrency, running jobs and the last heartbeat, live.
import { html, relative, when, href } from './util.js';
import { useLive } from './overview.js';

export function Workers() {
  const s = useLive();
  if (!s.workers) return html`<p class="muted">Loading…</p>`;
  const ws = [...s.workers].sort((a, b) => a.host.localeCompare(b.host) || a.pid - b.pid);
  return html`<section>
    <h1 class="page">Workers <span class="muted small">${ws.length} live</span></h1>
    ${ws.length === 0 ? html`<p class="muted card">No live workers. Start one with <code>fusion worker</code> (or <code>fusion start</code>).</p>` : html`
    <div class="card"><div class="scroll"><table class="grid" data-testid="workers">
      <thead><tr><th>Host</th><th class="num">PID</th><th>Queues</th><th class="num">Running</th><th>Started</th><th>Heartbeat</th></tr></thead>
      <tbody>${ws.map((w) => html`<tr data-worker=${w.id}>
        <td><span title=${w.id}>${w.host}</span></td><td class="num">${w.pid}</td>
        <td>${w.queues.map((q) => html`<a class="chip" href=${href('queues', q)}>${q}</a>`)}</td>
        <td class="num" title=${w.running.join('\n')}>${w.runningCount} / ${w.concurrency}</td>
        <td title=${when(w.startedAt)}>${relative(w.startedAt)}</td>
        <td title=${when(w.lastHeartbeatAt)}>${relative(w.lastHeartbeatAt)}</td>
      </tr>`)}</tbody></table></div></div>`}
  </section>`;
}
