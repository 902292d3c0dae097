// Talking to the /v1 API: the signed-in key (sessionStorage, sent as a Bearer token), JSON calls
// with the API's error shape, and the live event stream read with fetch (so the key travels in a
// header, never in a URL), reconnecting with Last-Event-ID.
const KEY = 'fusion.apiKey';

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set(key) { sessionStorage.setItem(KEY, key); },
  clear() { sessionStorage.removeItem(KEY); },
};

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details ?? {};
  }
}

function headers(extra = {}) {
  const h = { ...extra };
  const key = session.key;
  if (key) h.authorization = `Bearer ${key}`;
  return h;
}

/**
 * A read with no answer by then fails, to be tried again on the next event or refresh: one sent on
 * a connection that died without a close (the browser reuses idle ones) would otherwise never end
 * and hold its view, or the shared snapshot, for good. Actions may take long (a clean) and keep none.
 */
const READ_TIMEOUT_MS = 15000;

export async function api(path, { method = 'GET', body } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }), cache: 'no-store' };
  if (body !== undefined) init.body = JSON.stringify(body);
  if (method === 'GET') init.signal = AbortSignal.timeout(READ_TIMEOUT_MS);
  let r, text;
  try {
    r = await fetch(path, init);
    if (r.status === 204) return null;
    text = await r.text();
  } catch (e) {
    if (e?.name === 'TimeoutError') throw new ApiError(0, 'timeout', `The API did not answer within ${READ_TIMEOUT_MS / 1000} s.`);
    throw e;
  }
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!r.ok) {
    const e = data && data.error;
    throw new ApiError(r.status, e ? e.code : `http_${r.status}`, e ? e.message : `${r.status} ${r.statusText}`, e && e.details);
  }
  return data;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A stream can die with no close reaching the page (a NAT or firewall forgets the connection):
 * it just goes quiet. The server writes a keepalive every Fusion-Heartbeat-Ms, so a stream quiet
 * for three of them (never less than 5 s, for a busy tab) is given up and opened again.
 */
const quietLimit = (heartbeatMs) => Math.max(3 * heartbeatMs, heartbeatMs + 5000);
const HEARTBEAT_MS = 15000;

/**
 * The live stream. onEvent(e) per event, onReset() when events were missed (reload everything),
 * onStatus('live' | 'reconnecting' | 'unauthorized'). Returns a stop function.
 */
export function eventStream({ onEvent, onReset, onStatus }) {
  let lastId = null;
  // The server's last word on it, for the wait on the next request's answer: a reconnect sent on a
  // dead connection holds one of the browser's few connections to this server while it waits.
  let heartbeat = HEARTBEAT_MS;
  let stopped = false;
  let ctrl = null;
  const dispatch = (block) => {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') lastId = value;
      else if (field === 'data') data += (data ? '\n' : '') + value;
    }
    if (event === 'reset') onReset();
    else if (event === 'message' && data) {
      try { onEvent(JSON.parse(data)); } catch { /* a malformed frame is skipped */ }
    }
  };
  (async () => {
    let delay = 1000;
    while (!stopped) {
      const c = (ctrl = new AbortController());
      let watchdog = null;
      const arm = (ms) => { clearTimeout(watchdog); watchdog = setTimeout(() => c.abort(), ms); };
      // From the request on: one sent on a dead connection never gets its answer either.
      arm(quietLimit(heartbeat));
      try {
        const r = await fetch('/v1/events', { headers: headers(lastId ? { accept: 'text/event-stream', 'last-event-id': lastId } : { accept: 'text/event-stream' }), signal: c.signal, cache: 'no-store' });
        if (r.status === 401 || r.status === 403) { onStatus('unauthorized'); return; }
        if (!r.ok || !r.body) throw new Error(`events: ${r.status}`);
        heartbeat = Number(r.headers.get('fusion-heartbeat-ms')) || HEARTBEAT_MS;
        const quiet = quietLimit(heartbeat);
        arm(quiet);
        onStatus('live');
        delay = 1000;
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          arm(quiet);
          buf += value.replace(/\r\n?/g, '\n');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            dispatch(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
        }
      } catch {
        if (stopped) return;
      } finally {
        clearTimeout(watchdog);
      }
      if (stopped) return;
      onStatus('reconnecting');
      await sleep(delay);
      delay = Math.min(delay * 2, 15000);
    }
  })();
  return () => { stopped = true; ctrl?.abort(); };
}
