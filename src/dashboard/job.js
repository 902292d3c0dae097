// One job: state, facts, attempts with their times, error (and, for admins, its stack), payload
// (secrets masked by the API), result and delivery facts, log lines and progress; and the actions
// retry, cancel (also of a running job), promote, reschedule, delete.
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { bus, refresh } from './state.js';
import { html, when, relative, duration, json, href, useLoad, go } from './util.js';

function Progress({ value }) {
  if (value === null || value === undefined) return html`<span class="muted">–</span>`;
  const pct = typeof value === 'number' ? value : typeof value?.percent === 'number' ? value.percent : null;
  if (pct !== null && pct >= 0 && pct <= 100) {
    return html`<span class="progress"><span class="bar" style=${{ width: `${pct}%` }}></span><span class="pct">${Math.round(pct)}%</span></span>`;
  }
  return html`<code>${JSON.stringify(value)}</code>`;
}

/** Delivery facts a channel may leave in a result or an error's details (provider, message id, status). */
function delivery(job) {
  const from = [job.result, job.error?.details].filter((x) => x && typeof x === 'object');
  const out = {};
  for (const o of from) for (const k of ['provider', 'messageId', 'status', 'deliveryStatus', 'statusCode']) if (o[k] !== undefined && out[k] === undefined) out[k] = o[k];
  return Object.keys(out).length ? out : null;
}

function Stack({ id }) {
  const [stack, setStack] = useState(undefined);
  if (stack === undefined) return html`<button class="link" onClick=${() => api(`/v1/jobs/${encodeURIComponent(id)}/stack`).then((r) => setStack(r.stack ?? ''), (e) => setStack(`(${e.message})`))}>Show stack trace</button>`;
  return stack ? html`<pre class="code stack">${stack}</pre>` : html`<p class="muted">No stack recorded.</p>`;
}

function Reschedule({ onDo }) {
  const [at, setAt] = useState('');
  return html`<form class="inline" onSubmit=${(e) => { e.preventDefault(); if (at) onDo(new Date(at).toISOString()); }}>
    <input type="datetime-local" value=${at} onInput=${(e) => setAt(e.target.value)} aria-label="new due time" required />
    <button>Reschedule</button>
  </form>`;
}

export function JobView({ id, canAct }) {
  const job = useLoad(() => api(`/v1/jobs/${encodeURIComponent(id)}`), [id], (e) => e.jobId === id, bus);
  const logs = useLoad(() => api(`/v1/jobs/${encodeURIComponent(id)}/logs`).catch(() => ({ items: [] })), [id], (e) => e.jobId === id, bus);
  const [note, setNote] = useState(null);
  // A 404 wins over the data loaded before: the job was deleted (or cleaned) while this page showed it.
  if (job.error && (!job.data || job.error.status === 404)) return html`<section><p class="crumbs"><a href="#/">Overview</a> › job</p><h1 class="page mono">${id}</h1><p class="error">${job.error.status === 404 ? 'No such job (it may have been deleted or cleaned).' : job.error.message}</p></section>`;
  const j = job.data;
  if (!j) return html`<p class="muted">Loading…</p>`;
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  const act = async (what, fn) => {
    setNote(`${what}…`);
    try {
      await fn();
      setNote(`${what}: done.`);
    } catch (e) {
      setNote(`${what}: ${e.message}`);
    }
    job.reload();
    logs.reload();
    refresh();
  };
  const can = {
    retry: j.state === 'failed' || j.state === 'cancelled',
    cancel: ['scheduled', 'queued', 'active'].includes(j.state) && !j.cancelRequested,
    promote: j.state === 'scheduled',
    reschedule: j.state === 'scheduled' || j.state === 'queued',
    remove: j.state !== 'active',
  };
  const d = delivery(j);
  const facts = [
    ['Queue', html`<a href=${href('queues', j.queue)}>${j.queue}</a>`],
    ['Task', j.task],
    ['Priority', j.priority],
    ['Attempts', `${j.attempts} of ${j.maxAttempts}`],
    ['Created', html`<span title=${when(j.createdAt)}>${relative(j.createdAt)}</span>`],
    ['Due', html`<span title=${when(j.runAt)}>${relative(j.runAt)}</span>`],
    ['Started', j.startedAt ? html`<span title=${when(j.startedAt)}>${relative(j.startedAt)}</span>` : '–'],
    ['Ended', j.endedAt ? html`<span title=${when(j.endedAt)}>${relative(j.endedAt)}</span>` : '–'],
    ['Worker', j.workerId ?? (j.history.length ? html`<span class="muted" title="the worker of the last attempt">${j.history[j.history.length - 1].workerId}</span>` : '–')],
    ['Progress', html`<${Progress} value=${j.progress} />`],
    ['Timeout', j.timeout ? duration(j.timeout) : 'none'],
    ['Stalls', j.stalls],
    ...(j.scheduleId ? [['Schedule', html`<a href="#/schedules">${j.scheduleId}</a>`]] : []),
    ...(j.tags?.length ? [['Tags', j.tags.join(', ')]] : []),
    ...(j.description ? [['Description', j.description]] : []),
    ...(j.callbacks ? [['Callbacks', html`<code>${JSON.stringify(j.callbacks)}</code>`]] : []),
  ];
  return html`<section>
    <p class="crumbs"><a href="#/">Overview</a> › <a href=${href('queues', j.queue)}>${j.queue}</a> › job</p>
    <h1 class="page"><span class="mono id-title">${j.id}</span> <span class=${'state s-' + j.state} data-testid="job-state">${j.state}</span>${j.cancelRequested && j.state === 'active' ? html` <span class="badge warn">cancel requested</span>` : ''}</h1>
    ${canAct && html`<div class="card actions row">
      ${can.retry && html`<button class="primary" onClick=${() => act('Retry', () => api(`${path}/retry`, { method: 'POST' }))}>Retry</button>`}
      ${can.promote && html`<button onClick=${() => act('Run now', () => api(`${path}/promote`, { method: 'POST' }))}>Run now</button>`}
      ${can.cancel && html`<button class="danger" onClick=${() => confirm(j.state === 'active' ? 'Ask the worker to stop this running job?' : 'Cancel this job?') && act('Cancel', () => api(`${path}/cancel`, { method: 'POST' }))}>Cancel</button>`}
      ${can.reschedule && html`<${Reschedule} onDo=${(runAt) => act('Reschedule', () => api(`${path}/reschedule`, { method: 'POST', body: { runAt } }))} />`}
      ${can.remove && html`<button class="danger" onClick=${() => confirm('Delete this job for good?') && act('Delete', async () => { await api(path, { method: 'DELETE' }); go(['queues', j.queue]); })}>Delete</button>`}
      ${note && html`<span class="note" role="status">${note}</span>`}
    </div>`}
    <div class="cols">
      <div class="card"><h2>Facts</h2><dl class="facts">${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl></div>
      <div class="card">
        <h2>Payload</h2><pre class="code">${json(j.payload)}</pre>
        ${j.result !== null && html`<h2>Result</h2><pre class="code">${json(j.result)}</pre>`}
        ${d && html`<h2>Delivery</h2><dl class="facts">${Object.entries(d).map(([k, v]) => html`<dt>${k}</dt><dd>${String(v)}</dd>`)}</dl>`}
      </div>
    </div>
    ${j.error && html`<div class="card err-card"><h2>Error</h2>
      <p><b>${j.error.name ?? 'Error'}</b>${j.error.code ? html` <code>${j.error.code}</code>` : ''}: ${j.error.message}</p>
      <p class="muted small">${j.error.retryable ? 'retryable' : 'not retryable'}</p>
      ${canAct && html`<${Stack} id=${j.id} />`}
    </div>`}
    <div class="card"><h2>Attempts</h2>
      ${j.history.length === 0 ? html`<p class="muted">Not started yet.</p>` : html`<div class="scroll"><table class="grid">
        <thead><tr><th class="num">#</th><th>Worker</th><th>Started</th><th>Took</th><th>Outcome</th><th>Error</th></tr></thead>
        <tbody>${j.history.map((h) => html`<tr>
          <td class="num">${h.attempt}</td><td class="mono small">${h.workerId}</td><td title=${when(h.startedAt)}>${when(h.startedAt)}</td>
          <td>${h.endedAt ? duration(new Date(h.endedAt) - new Date(h.startedAt)) : 'running'}</td>
          <td>${h.outcome ? html`<span class=${'state s-' + ({ retrying: 'scheduled', snoozed: 'scheduled', stalled: 'failed', released: 'queued' }[h.outcome] ?? h.outcome)}>${h.outcome}${h.snoozes > 1 ? ` ×${h.snoozes}` : ''}</span>` : '–'}</td>
          <td class="err">${h.error ?? ''}</td></tr>`)}</tbody></table></div>`}
    </div>
    <div class="card"><h2>Log</h2>
      ${!logs.data || logs.data.items.length === 0 ? html`<p class="muted">No log lines.</p>` : html`<ol class="log">${logs.data.items.map((l) => html`<li><time>${when(l.at)}</time> ${l.message}</li>`)}</ol>`}
    </div>
  </section>`;
}
