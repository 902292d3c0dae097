// One queue: counts per state as tabs, the job list of a state with paging, a task filter, search
// by id, and (admin) bulk actions: pause/resume, retry all failed, clean, rate limit and concurrency.
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { bus, live, refresh } from './state.js';
import { html, num, relative, when, go, href, useLoad, STATES, duration } from './util.js';
import { useLive } from './overview.js';

const PAGE = 25;
/** Empty pages a filtered list follows before it shows one (each is a few thousand jobs looked at). */
const EMPTY_STEPS = 20;

/**
 * A page of a list. A store may answer a filtered list with an empty page and a cursor to go on
 * (Redis looks at a bounded number of jobs per call), which would read as "no such jobs": go on
 * until a page holds some, the list ends, or EMPTY_STEPS pages were empty.
 */
async function pageOf(path, cursor) {
  for (let step = 0; ; step++) {
    const page = await api(`${path}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (page.items.length > 0 || !page.nextCursor || step >= EMPTY_STEPS) return page;
    cursor = page.nextCursor;
  }
}

function Limits({ q, onSaved }) {
  const [max, setMax] = useState(q.rateLimit?.max ?? '');
  const [windowS, setWindowS] = useState(q.rateLimit ? q.rateLimit.windowMs / 1000 : '');
  const [conc, setConc] = useState(q.concurrency ?? '');
  const [msg, setMsg] = useState(null);
  const save = async (ev) => {
    ev.preventDefault();
    try {
      const body = {
        rateLimit: max === '' ? null : { max: Number(max), windowMs: Math.round(Number(windowS || 1) * 1000) },
        concurrency: conc === '' ? null : Number(conc),
      };
      await api(`/v1/queues/${encodeURIComponent(q.name)}`, { method: 'PATCH', body });
      setMsg('Saved.');
      onSaved();
    } catch (e) {
      setMsg(e.message);
    }
  };
  return html`<form class="inline" onSubmit=${save}>
    <label>Rate limit <input type="number" min="1" placeholder="jobs" value=${max} onInput=${(e) => setMax(e.target.value)} class="short" /></label>
    <label>per <input type="number" min="0.001" step="any" placeholder="s" value=${windowS} onInput=${(e) => setWindowS(e.target.value)} class="short" /> s</label>
    <label>Concurrency <input type="number" min="1" placeholder="∞" value=${conc} onInput=${(e) => setConc(e.target.value)} class="short" /></label>
    <button>Save limits</button>
    ${msg && html`<span class="muted small">${msg}</span>`}
  </form>`;
}

async function retryAllFailed(queue, report) {
  let cursor = null;
  let done = 0;
  const refused = new Set();
  // Each job once: a retried job that fails again at once is back on the first page, and retrying
  // it again would run it (send its message) over and over until a read found the list empty.
  const tried = new Set();
  // Retried jobs leave the failed list, so read its first page again until only tried ones remain.
  for (let round = 0; round < 10_000; round++) {
    const page = await api(`/v1/jobs?queue=${encodeURIComponent(queue)}&state=failed&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    const todo = page.items.filter((j) => !tried.has(j.id));
    for (const j of todo) tried.add(j.id);
    if (todo.length === 0) {
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
      continue;
    }
    const results = await Promise.allSettled(todo.map((j) => api(`/v1/jobs/${encodeURIComponent(j.id)}/retry`, { method: 'POST' })));
    results.forEach((r, i) => (r.status === 'fulfilled' ? done++ : refused.add(todo[i].id)));
    report(`Retried ${done}${refused.size ? `, ${refused.size} refused` : ''}…`);
    cursor = null;
  }
  return { done, failed: refused.size };
}

export function QueueView({ name, query, canAct }) {
  const s = useLive();
  const state = query.get('state') || 'queued';
  const task = query.get('task') || '';
  // The pages seen of this list (queue, state, task): another list, reached by a link or the back
  // button without setQuery, starts on its own first page, not with this list's cursor.
  const listKey = JSON.stringify([name, state, task]);
  const [paging, setPaging] = useState({ list: listKey, cursors: [null] });
  const cursors = paging.list === listKey ? paging.cursors : [null];
  const setCursors = (c) => setPaging({ list: listKey, cursors: c });
  const cursor = cursors[cursors.length - 1];
  const [note, setNote] = useState(null);
  const [cleanAge, setCleanAge] = useState('86400000');
  const [search, setSearch] = useState('');
  const q = s.queues?.find((x) => x.name === name) ?? { name, paused: false, counts: {}, rateLimit: null, concurrency: null };
  const list = useLoad(
    () => pageOf(`/v1/jobs?queue=${encodeURIComponent(name)}&state=${state}&limit=${PAGE}${task ? `&task=${encodeURIComponent(task)}` : ''}`, cursor),
    [name, state, task, cursor],
    (e) => e.queue === name && e.type !== 'job.progress',
    bus,
  );
  const setQuery = (patch) => {
    setCursors([null]);
    go(['queues', name], { state, task, ...patch });
  };
  const act = async (what, fn) => {
    setNote(`${what}…`);
    try {
      const r = await fn();
      setNote(r ?? `${what}: done.`);
    } catch (e) {
      setNote(`${what}: ${e.message}`);
    }
    refresh();
    list.reload();
  };
  const qpath = `/v1/queues/${encodeURIComponent(name)}`;
  const served = !s.workers || s.workers.some((w) => w.queues.includes(name));
  return html`<section>
    <p class="crumbs"><a href="#/">Overview</a> › queue</p>
    <h1 class="page">${name} ${q.paused && html`<span class="badge warn">paused</span>`} ${!served && (q.counts.queued ?? 0) > 0 && html`<span class="badge bad">no worker</span>`}</h1>
    ${canAct && html`<div class="card actions">
      <div class="row">
        ${q.paused
          ? html`<button class="primary" onClick=${() => act('Resume', () => api(`${qpath}/resume`, { method: 'POST' }))}>Resume queue</button>`
          : html`<button onClick=${() => act('Pause', () => api(`${qpath}/pause`, { method: 'POST' }))}>Pause queue</button>`}
        <button disabled=${!q.counts.failed} onClick=${() => confirm(`Retry all ${q.counts.failed} failed jobs of ${name}?`) && act('Retry all failed', async () => {
          const r = await retryAllFailed(name, setNote);
          return `Retried ${r.done} failed job${r.done === 1 ? '' : 's'}${r.failed ? `; ${r.failed} refused` : ''}.`;
        })}>Retry all failed</button>
        <span class="group">
          <button onClick=${() => confirm(`Delete completed jobs of ${name} older than ${duration(Number(cleanAge)) === '0 ms' ? 'now' : duration(Number(cleanAge))}?`) && act('Clean', async () => {
            const r = await api(`${qpath}/clean`, { method: 'POST', body: { olderThanMs: Number(cleanAge), states: ['completed'], limit: 100000 } });
            return `Removed ${num(r.removed)} completed job${r.removed === 1 ? '' : 's'}.`;
          })}>Clean completed</button>
          <select value=${cleanAge} onChange=${(e) => setCleanAge(e.target.value)} aria-label="older than">
            <option value="0">all</option><option value="3600000">older than 1 h</option><option value="86400000">older than 1 day</option><option value="604800000">older than 7 days</option>
          </select>
        </span>
      </div>
      <${Limits} key=${name + JSON.stringify([q.rateLimit, q.concurrency])} q=${q} onSaved=${refresh} />
      ${note && html`<p class="note" role="status">${note}</p>`}
    </div>`}
    <div class="tabs" role="tablist">
      ${STATES.map((k) => html`<button role="tab" aria-selected=${k === state} class=${'tab ' + (k === state ? 'active' : '')} data-tab=${k} onClick=${() => setQuery({ state: k })}>
        ${k} <span class="count">${num(q.counts[k] ?? 0)}</span></button>`)}
    </div>
    <div class="card">
      <div class="row filters">
        <form onSubmit=${(e) => { e.preventDefault(); setQuery({ task: new FormData(e.target).get('task').trim() }); }}>
          <input name="task" placeholder="Filter by task" value=${task} aria-label="Filter by task" />
        </form>
        <form onSubmit=${(e) => { e.preventDefault(); if (search.trim()) go(['jobs', search.trim()]); }}>
          <input placeholder="Find a job by id" value=${search} onInput=${(e) => setSearch(e.target.value)} aria-label="Find a job by id" />
        </form>
        ${task && html`<button class="link" onClick=${() => setQuery({ task: '' })}>clear filter</button>`}
      </div>
      ${list.error && html`<p class="error">${list.error.message}</p>`}
      ${list.data && (list.data.items.length === 0
        ? html`<p class="muted empty">${list.data.nextCursor ? `No ${state} jobs${task ? ` of task ${task}` : ''} so far: Next looks further.` : `No ${state} jobs${task ? ` of task ${task}` : ''}.`}</p>`
        : html`<div class="scroll"><table class="grid jobs" data-testid="jobs">
          <thead><tr><th>Job</th><th>Task</th><th class="num">Prio</th><th class="num">Attempts</th><th>${state === 'scheduled' ? 'Due' : ['completed', 'failed', 'cancelled'].includes(state) ? 'Ended' : 'Created'}</th>${state === 'failed' && html`<th>Error</th>`}</tr></thead>
          <tbody>${list.data.items.map((j) => html`<tr data-job=${j.id}>
            <td class="id"><a href=${href('jobs', j.id)} title=${j.id}>${j.id}</a></td>
            <td>${j.task}</td>
            <td class="num">${j.priority}</td>
            <td class="num">${j.attempts}/${j.maxAttempts}</td>
            <td title=${when(state === 'scheduled' ? j.runAt : j.endedAt ?? j.createdAt)}>${relative(state === 'scheduled' ? j.runAt : j.endedAt ?? j.createdAt)}</td>
            ${state === 'failed' && html`<td class="err">${j.error?.message ?? ''}</td>`}
          </tr>`)}</tbody></table></div>`)}
      <div class="row pager">
        <button disabled=${cursors.length === 1} onClick=${() => setCursors(cursors.slice(0, -1))}>‹ Previous</button>
        <span class="muted small">page ${cursors.length}</span>
        <button disabled=${!list.data?.nextCursor} onClick=${() => setCursors([...cursors, list.data.nextCursor])}>Next ›</button>
      </div>
    </div>
  </section>`;
}
export { live };
