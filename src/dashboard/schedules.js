// Schedules: each trigger in words, next run, last run and its job, the next five runs on demand;
// create and edit (trigger and job template, with a preview of the next runs before saving), pause,
// resume, run now, delete.
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { bus } from './state.js';
import { html, when, relative, json, href, useLoad, triggerWords, go } from './util.js';

const KINDS = {
  cron: { label: 'cron', placeholder: '0 9 * * 1-5', tz: true },
  every: { label: 'every', placeholder: '15m', tz: false },
  rrule: { label: 'RRULE', placeholder: 'FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=0', tz: true },
  at: { label: 'once at', placeholder: '', tz: false },
};

function triggerOf(kind, value, tz) {
  if (kind === 'at') return { at: new Date(value).toISOString() };
  const t = { [kind]: value.trim() };
  if (KINDS[kind].tz && tz.trim()) t.tz = tz.trim();
  return t;
}

/** The form's fields from a stored schedule (edit), or empty ones (create). */
function fieldsOf(s) {
  const tzHere = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  if (!s) return { id: '', kind: 'cron', value: '', tz: tzHere, task: '', queue: '', payload: '{}', priority: 'moderate' };
  const t = s.trigger ?? {};
  const kind = Object.keys(KINDS).find((k) => t[k] !== undefined) ?? 'cron';
  // datetime-local wants local time without a zone: shift the instant by the zone offset.
  const local = (iso) => { const d = new Date(iso); return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16); };
  // Any integer is a priority: one without a name stays that number (an option of its own).
  const p = s.template.priority;
  const priority = { 2: 'high', 1: 'moderate', 0: 'low' }[p] ?? (typeof p === 'string' ? p : typeof p === 'number' ? String(p) : 'moderate');
  return {
    // A stored trigger without a zone runs in UTC: the browser's zone here would move it on save.
    id: s.id, kind, value: kind === 'at' ? local(t.at) : String(t[kind]), tz: t.tz ?? '',
    task: s.template.task ?? '', queue: s.template.queue ?? '', payload: json(s.template.payload ?? {}), priority,
  };
}

/** Create a schedule, or edit one (`schedule` given: PATCH of its trigger and template), with a preview of the next runs. */
function ScheduleForm({ schedule, onSaved, onCancel }) {
  const editing = !!schedule;
  const [start] = useState(() => fieldsOf(schedule));
  const [f, setF] = useState(start);
  const [preview, setPreview] = useState(null);
  const [err, setErr] = useState(null);
  const set = (k) => (e) => { setF({ ...f, [k]: e.target.value }); setPreview(null); };
  const trigger = () => triggerOf(f.kind, f.value, f.tz);
  const doPreview = async () => {
    setErr(null);
    try {
      setPreview((await api('/v1/schedules/preview', { method: 'POST', body: { trigger: trigger(), count: 5 } })).times);
    } catch (e) {
      setErr(e.message);
    }
  };
  const submit = async (ev) => {
    ev.preventDefault();
    setErr(null);
    let payload;
    try { payload = JSON.parse(f.payload || 'null'); } catch { setErr('The payload is not valid JSON.'); return; }
    // An edit starts from the stored template: a PATCH replaces it whole, and what the form does not
    // show (attempts, backoff, timeout, tags, callbacks, description) must not be dropped by saving.
    const template = { ...(editing ? schedule.template : {}), task: f.task.trim(), payload, priority: /^-?\d+$/.test(f.priority) ? Number(f.priority) : f.priority };
    if (f.queue.trim()) template.queue = f.queue.trim();
    else delete template.queue;
    try {
      const s = editing
        // An untouched trigger goes back as stored: the form shows an instant to the minute only.
        ? await api(`/v1/schedules/${encodeURIComponent(schedule.id)}`, { method: 'PATCH', body: {
          trigger: f.kind === start.kind && f.value === start.value && f.tz === start.tz ? schedule.trigger : trigger(), template } })
        : await api('/v1/schedules', { method: 'POST', body: { ...(f.id.trim() ? { id: f.id.trim() } : {}), trigger: trigger(), template } });
      onSaved(s);
    } catch (e) {
      setErr(e.details?.field ? `${e.details.field}: ${e.message}` : e.message);
    }
  };
  const k = KINDS[f.kind];
  return html`<form class="card create" onSubmit=${submit} data-testid=${editing ? 'edit-schedule' : 'create-schedule'}>
    <h2>${editing ? html`Edit ${schedule.id}` : 'New schedule'}</h2>
    <div class="formgrid">
      ${!editing && html`<label>Id <input value=${f.id} onInput=${set('id')} placeholder="optional" name="id" /></label>`}
      <label>Task <input value=${f.task} onInput=${set('task')} required name="task" placeholder="sms" /></label>
      <label>Queue <input value=${f.queue} onInput=${set('queue')} placeholder="the task's" name="queue" /></label>
      <label>Priority <select value=${f.priority} onChange=${set('priority')} name="priority"><option>high</option><option>moderate</option><option>low</option>${!['high', 'moderate', 'low'].includes(f.priority) && html`<option>${f.priority}</option>`}</select></label>
      <label>Trigger <select value=${f.kind} onChange=${set('kind')} name="kind">${Object.entries(KINDS).map(([v, x]) => html`<option value=${v}>${x.label}</option>`)}</select></label>
      <label class="wide">${k.label} ${f.kind === 'at'
        ? html`<input type="datetime-local" value=${f.value} onInput=${set('value')} required name="value" />`
        : html`<input value=${f.value} onInput=${set('value')} placeholder=${k.placeholder} required name="value" />`}</label>
      ${k.tz && html`<label>Time zone <input value=${f.tz} onInput=${set('tz')} name="tz" placeholder="UTC" /></label>`}
      <label class="full">Payload (JSON) <textarea rows="3" value=${f.payload} onInput=${set('payload')} name="payload"></textarea></label>
    </div>
    ${f.value && html`<p class="muted">${triggerWords(trigger())}</p>`}
    ${preview && html`<ol class="runs" data-testid="preview">${preview.map((t) => html`<li>${when(t)} <span class="muted small">${relative(t)}</span></li>`)}</ol>`}
    ${err && html`<p class="error" role="alert">${err}</p>`}
    <div class="row"><button type="button" onClick=${doPreview} disabled=${!f.value}>Preview next runs</button>
      <button class="primary">${editing ? 'Save changes' : 'Create schedule'}</button>
      ${onCancel && html`<button type="button" class="link" onClick=${onCancel}>Cancel</button>`}</div>
  </form>`;
}

function NextRuns({ id, version }) {
  // version (the schedule's updatedAt): an edit reloads the runs.
  const runs = useLoad(() => api(`/v1/schedules/${encodeURIComponent(id)}/preview?count=5`), [id, version]);
  if (runs.error) return html`<p class="error">${runs.error.message}</p>`;
  if (!runs.data) return html`<p class="muted">…</p>`;
  if (runs.data.times.length === 0) return html`<p class="muted">No more runs.</p>`;
  return html`<ol class="runs" data-testid="next-runs">${runs.data.times.map((t) => html`<li>${when(t)} <span class="muted small">${relative(t)}</span></li>`)}</ol>`;
}

export function Schedules({ canAct }) {
  const list = useLoad(() => api('/v1/schedules'), [], (e) => e.type.startsWith('schedule.'), bus);
  const [open, setOpen] = useState(null);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState(null);
  const [note, setNote] = useState(null);
  const act = async (what, fn) => {
    try {
      const r = await fn();
      setNote(r ?? `${what}: done.`);
    } catch (e) {
      setNote(`${what}: ${e.message}`);
    }
    list.reload();
  };
  if (list.error?.code === 'scheduler_unavailable') return html`<section><h1 class="page">Schedules</h1><p class="muted">This server runs without a scheduler.</p></section>`;
  const items = list.data?.items ?? [];
  return html`<section>
    <div class="row spread"><h1 class="page">Schedules</h1>${canAct && !creating && html`<button class="primary" onClick=${() => setCreating(true)}>New schedule</button>`}</div>
    ${creating && html`<${ScheduleForm} onSaved=${(s) => { setCreating(false); setOpen(s.id); setNote(`Created ${s.id}.`); list.reload(); }} onCancel=${() => setCreating(false)} />`}
    ${note && html`<p class="note" role="status">${note}</p>`}
    ${list.error && html`<p class="error">${list.error.message}</p>`}
    ${list.data && items.length === 0 && html`<p class="muted card">No schedules yet.</p>`}
    <div class="sched-list">
    ${items.map((s) => {
      const state = s.paused ? 'paused' : s.nextRunAt ? 'active' : 'ended';
      const lastJob = s.lastRunAt ? `${s.id}@${s.lastRunAt}` : null;
      return html`<div class="card sched" data-schedule=${s.id}>
        <div class="row spread">
          <div>
            <h3><button class="link" onClick=${() => setOpen(open === s.id ? null : s.id)} aria-expanded=${open === s.id}>${s.id}</button> <span class=${'state s-' + (state === 'active' ? 'active' : state === 'paused' ? 'scheduled' : 'cancelled')}>${state}</span></h3>
            <p class="words">${triggerWords(s.trigger)}</p>
            <p class="muted small">${s.template.task}${s.template.queue ? ` → ${s.template.queue}` : ''} · ${s.runCount} run${s.runCount === 1 ? '' : 's'}${s.limit ? ` of ${s.limit}` : ''}</p>
          </div>
          <dl class="facts compact">
            <dt>Next</dt><dd title=${when(s.nextRunAt)}>${s.nextRunAt ? relative(s.nextRunAt) : '–'}</dd>
            <dt>Last</dt><dd>${lastJob ? html`<a href=${href('jobs', lastJob)} title=${when(s.lastRunAt)}>${relative(s.lastRunAt)}</a>` : '–'}</dd>
          </dl>
        </div>
        ${canAct && html`<div class="row">
          ${s.paused ? html`<button onClick=${() => act('Resume', () => api(`/v1/schedules/${encodeURIComponent(s.id)}/resume`, { method: 'POST' }))}>Resume</button>`
            : html`<button onClick=${() => act('Pause', () => api(`/v1/schedules/${encodeURIComponent(s.id)}/pause`, { method: 'POST' }))}>Pause</button>`}
          <button onClick=${() => setEditing(editing === s.id ? null : s.id)} aria-expanded=${editing === s.id}>Edit</button>
          <button onClick=${() => act('Run now', async () => { const j = await api(`/v1/schedules/${encodeURIComponent(s.id)}/run`, { method: 'POST' }); go(['jobs', j.id]); return null; })}>Run now</button>
          <button class="danger" onClick=${() => confirm(`Delete schedule ${s.id}?`) && act('Delete', () => api(`/v1/schedules/${encodeURIComponent(s.id)}`, { method: 'DELETE' }))}>Delete</button>
        </div>`}
        ${editing === s.id && html`<${ScheduleForm} key=${s.id} schedule=${s} onSaved=${(x) => { setEditing(null); setOpen(x.id); setNote(`Saved ${x.id}.`); list.reload(); }} onCancel=${() => setEditing(null)} />`}
        ${open === s.id && html`<div class="details"><h4>Next 5 runs</h4><${NextRuns} id=${s.id} version=${s.updatedAt} /><h4>Payload</h4><pre class="code">${json(s.template.payload ?? null)}</pre></div>`}
      </div>`;
    })}
    </div>
  </section>`;
}
