// The dashboard's shell: sign-in, the header and navigation, the live stream, and the router.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, eventStream, session, ApiError } from './api.js';
import { bus, startLive } from './state.js';
import { html, useRoute, href } from './util.js';
import { Overview } from './overview.js';
import { QueueView } from './queue.js';
import { JobView } from './job.js';
import { Schedules } from './schedules.js';
import { Workers } from './workers.js';
import { Providers } from './providers.js';

function SignIn({ onDone, error }) {
  const [key, setKey] = useState('');
  const [err, setErr] = useState(error);
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    session.set(key.trim());
    try {
      const me = await api('/v1/me');
      onDone(me);
    } catch (e) {
      session.clear();
      setErr(e instanceof ApiError && e.status === 403 ? 'This key cannot read: the dashboard needs the read or admin role.' : e.status === 401 ? 'That key is not valid.' : e.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <form class="card" onSubmit=${submit}>
      <h1><span class="logo" aria-hidden="true">◆</span> Fusion</h1>
      <p class="muted">Sign in with an API key. A <b>read</b> key sees everything; an <b>admin</b> key can also act.</p>
      <label>API key <input type="password" name="key" autocomplete="current-password" value=${key} onInput=${(e) => setKey(e.target.value)} required autofocus /></label>
      ${err && html`<p class="error" role="alert">${err}</p>`}
      <button class="primary" disabled=${busy || !key.trim()}>Sign in</button>
      <p class="muted small">The key stays in this browser tab (session storage) and is sent only to this server.</p>
    </form>
  </main>`;
}

const NAV = [
  ['Overview', '', (p) => p.length === 0 || p[0] === 'queues' || p[0] === 'jobs'],
  ['Schedules', 'schedules', (p) => p[0] === 'schedules'],
  ['Workers', 'workers', (p) => p[0] === 'workers'],
  ['Providers', 'providers', (p) => p[0] === 'providers'],
];

function Shell({ me, onSignOut }) {
  const route = useRoute();
  const [status, setStatus] = useState('connecting');
  useEffect(() => {
    startLive();
    let was = null;
    return eventStream({
      onEvent: (e) => bus.emit(e),
      onReset: () => bus.emit('reset'),
      onStatus: (s) => {
        if (s === 'unauthorized') return onSignOut('Your key no longer works here. Sign in again.');
        // Back after an outage: the stream replays the events missed, but the loads views made
        // meanwhile failed, and one whose data did not change would get no event to retry it.
        if (s === 'live' && was === 'reconnecting') bus.emit('reset');
        was = s;
        setStatus(s);
      },
    });
  }, []);
  const canAct = me.roles.includes('admin');
  const [p0, p1] = route.path;
  let view;
  if (p0 === 'queues' && p1) view = html`<${QueueView} name=${p1} query=${route.query} canAct=${canAct} />`;
  else if (p0 === 'jobs' && p1) view = html`<${JobView} id=${p1} canAct=${canAct} />`;
  else if (p0 === 'schedules') view = html`<${Schedules} canAct=${canAct} />`;
  else if (p0 === 'workers') view = html`<${Workers} />`;
  else if (p0 === 'providers') view = html`<${Providers} />`;
  else view = html`<${Overview} />`;
  return html`<div class="shell">
    <header class="top">
      <a class="brand" href="#/"><span class="logo" aria-hidden="true">◆</span> Fusion</a>
      <nav>${NAV.map(([label, path, active]) => html`<a href=${'#/' + path} class=${active(route.path) ? 'active' : ''}>${label}</a>`)}</nav>
      <div class="right">
        <span class=${'live ' + status} title=${status === 'live' ? 'Live: updates as they happen' : 'Reconnecting to the event stream'} data-status=${status}>${status === 'live' ? 'live' : status}</span>
        ${!canAct && html`<span class="badge" title="This key has the read role: actions are hidden">read-only</span>`}
        ${me.authEnabled && html`<button class="link" onClick=${() => onSignOut()}>Sign out</button>`}
      </div>
    </header>
    <main class="content">${view}</main>
  </div>`;
}

function App() {
  const [me, setMe] = useState(null);
  const [need, setNeed] = useState(null);
  useEffect(() => {
    api('/v1/me').then(setMe, (e) => {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        session.clear();
        setNeed({ error: session.key ? 'Sign in again.' : null });
      } else setNeed({ error: `The API did not answer: ${e.message}` });
    });
  }, []);
  if (me) return html`<${Shell} me=${me} onSignOut=${(msg) => { session.clear(); setMe(null); setNeed({ error: msg ?? null }); location.hash = '#/'; }} />`;
  if (need) return html`<${SignIn} error=${need.error} onDone=${(m) => { setNeed(null); setMe(m); }} />`;
  return html`<p class="boot">Connecting…</p>`;
}

render(html`<${App} />`, document.getElementById('app'));
export { href };
