// Shared helpers: the html tag, formatting of times and numbers, triggers in words, hooks.
import { h } from 'preact';
import { useEffect, useState, useRef, useCallback } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

export const STATES = ['queued', 'active', 'scheduled', 'completed', 'failed', 'cancelled'];

export function num(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return Number(n).toLocaleString();
}

export function rate(n) {
  if (n === null || n === undefined) return '–';
  if (n === 0) return '0';
  return n >= 100 ? Math.round(n).toLocaleString() : n >= 10 ? n.toFixed(0) : n.toFixed(1);
}

/** "3 s", "4 min", "2 h 5 min", "3 d". */
export function duration(ms) {
  if (ms === null || ms === undefined) return '–';
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(a)} ms`;
  if (a < 60_000) return `${Math.round(a / 1000)} s`;
  if (a < 3_600_000) return `${Math.round(a / 60_000)} min`;
  if (a < 86_400_000) {
    const h = Math.floor(a / 3_600_000);
    const m = Math.round((a % 3_600_000) / 60_000);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  return `${Math.round(a / 86_400_000)} d`;
}

/** "in 5 min" / "5 min ago". */
export function relative(iso, now = Date.now()) {
  if (!iso) return '–';
  const d = new Date(iso).getTime() - now;
  if (Math.abs(d) < 1000) return 'now';
  return d > 0 ? `in ${duration(d)}` : `${duration(d)} ago`;
}

/** Local date and time, to the second. */
export function when(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function json(v) {
  return JSON.stringify(v, null, 2);
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const SHORT = { MO: 'Mon', TU: 'Tue', WE: 'Wed', TH: 'Thu', FR: 'Fri', SA: 'Sat', SU: 'Sun' };
const pad = (n) => String(n).padStart(2, '0');

function cronDays(dow) {
  if (dow === '*' || dow === '?') return null;
  if (dow === '1-5' || /^mon-fri$/i.test(dow)) return 'every weekday';
  if (dow === '0,6' || dow === '6,0' || /^sat,sun$/i.test(dow)) return 'every weekend day';
  const parts = dow.split(',');
  if (parts.every((p) => /^[0-7]$/.test(p))) return 'every ' + parts.map((p) => DAYS[Number(p) % 7]).join(', ');
  return `on days ${dow}`;
}

/** A cron line in words where it is a common shape ("every weekday at 09:00"); the line itself otherwise. */
export function cronWords(expr) {
  const f = expr.trim().split(/\s+/);
  const [sec, min, hour, dom, mon, dow] = f.length === 6 ? f : ['0', ...f];
  if (f.length < 5 || sec !== '0') return `cron ${expr}`;
  const step = /^\*\/(\d+)$/;
  if (dom === '*' && mon === '*' && dow === '*') {
    if (min === '*' && hour === '*') return 'every minute';
    if (step.test(min) && hour === '*') return `every ${step.exec(min)[1]} minutes`;
    if (/^\d+$/.test(min) && hour === '*') return `every hour at minute ${Number(min)}`;
    if (/^\d+$/.test(min) && step.test(hour)) return `every ${step.exec(hour)[1]} hours at minute ${Number(min)}`;
  }
  if (/^\d+$/.test(min) && /^\d+(,\d+)*$/.test(hour) && mon === '*') {
    const at = hour.split(',').map((h) => `${pad(h)}:${pad(min)}`).join(' and ');
    const days = cronDays(dow);
    if (dom === '*' || dom === '?') return `${days ?? 'every day'} at ${at}`;
    if (/^\d+$/.test(dom) && !days) return `on day ${dom} of every month at ${at}`;
    if (dom === 'L' && !days) return `on the last day of every month at ${at}`;
  }
  return `cron ${expr}`;
}

function rruleWords(text) {
  const line = text.split(/\n/).find((l) => /FREQ=/i.test(l)) ?? text;
  const parts = Object.fromEntries(line.replace(/^RRULE:/i, '').split(';').map((p) => p.split('=')).filter((p) => p.length === 2).map(([k, v]) => [k.toUpperCase(), v]));
  const unit = { YEARLY: 'year', MONTHLY: 'month', WEEKLY: 'week', DAILY: 'day', HOURLY: 'hour', MINUTELY: 'minute', SECONDLY: 'second' }[parts.FREQ];
  if (!unit) return `rrule ${text}`;
  const n = Number(parts.INTERVAL ?? 1);
  let s = n > 1 ? `every ${n} ${unit}s` : `every ${unit}`;
  if (parts.BYDAY) s += ' on ' + parts.BYDAY.split(',').map((d) => d.replace(/^([+-]?\d+)?(\w\w)$/, (_m, k, day) => (k ? `${k}. ` : '') + (SHORT[day] ?? day))).join(', ');
  if (parts.BYMONTHDAY) s += ` on day ${parts.BYMONTHDAY}`;
  if (parts.BYHOUR) s += ' at ' + parts.BYHOUR.split(',').map((h) => `${pad(h)}:${pad(parts.BYMINUTE ?? 0)}`).join(', ');
  if (parts.COUNT) s += `, ${parts.COUNT} times`;
  if (parts.UNTIL) s += `, until ${parts.UNTIL}`;
  return s;
}

function everyWords(v) {
  if (typeof v === 'number') return `every ${duration(v)}`;
  const m = /^(\d+)\s*(ms|s|m|h|d)$/.exec(String(v).trim());
  if (!m) return `every ${v}`;
  const n = Number(m[1]);
  const unit = { ms: 'millisecond', s: 'second', m: 'minute', h: 'hour', d: 'day' }[m[2]];
  return n === 1 ? `every ${unit}` : `every ${n} ${unit}s`;
}

/** A schedule's trigger in words: "every weekday at 09:00 Asia/Kolkata". */
export function triggerWords(t) {
  if (!t) return '–';
  const tz = t.tz ? ` ${t.tz}` : t.cron || t.rrule ? ' UTC' : '';
  if (t.cron) return cronWords(t.cron) + tz;
  if (t.rrule) return rruleWords(t.rrule) + tz;
  if (t.every !== undefined) return everyWords(t.every);
  if (t.at !== undefined) return `once at ${when(typeof t.at === 'number' ? new Date(t.at).toISOString() : t.at)}`;
  return JSON.stringify(t);
}

/** A path segment as written when it is not valid percent-encoding (a link cut short): throwing would blank the page. */
function decodeSegment(seg) {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

/** The current hash route: { path: ['queues', 'sms'], query: URLSearchParams }. */
export function useRoute() {
  const read = () => {
    const raw = location.hash.replace(/^#\/?/, '');
    const [p, q = ''] = raw.split('?');
    return { path: p.split('/').filter(Boolean).map(decodeSegment), query: new URLSearchParams(q) };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function go(path, query) {
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString() : '';
  location.hash = '#/' + path.map(encodeURIComponent).join('/') + (q ? `?${q}` : '');
}

export const href = (...path) => '#/' + path.map(encodeURIComponent).join('/');

/**
 * Load with `load()`; reload when `deps` change, and (throttled to one per second) when an event
 * passes `wants`. Returns { data, error, reload }.
 */
export function useLoad(load, deps, wants, bus) {
  const [state, setState] = useState({ data: null, error: null });
  const gen = useRef(0);
  const reload = useCallback(async () => {
    const g = ++gen.current;
    try {
      const data = await load();
      if (g === gen.current) setState({ data, error: null });
    } catch (error) {
      if (g === gen.current) setState((s) => ({ data: s.data, error }));
    }
  }, deps);
  useEffect(() => {
    setState({ data: null, error: null });
    reload();
  }, deps);
  useEffect(() => {
    if (!wants || !bus) return undefined;
    let timer = null;
    let last = 0;
    const fire = () => {
      timer = null;
      last = Date.now();
      reload();
    };
    const off = bus.on((e) => {
      if (e !== 'reset' && !wants(e)) return;
      if (timer) return;
      // A burst of events costs one reload: at most one a second, the first after 150 ms.
      timer = setTimeout(fire, e === 'reset' ? 0 : Math.max(150, 1000 - (Date.now() - last)));
    });
    // A reload still waiting when the view moves on (another job's id) would load the old one and,
    // being the newest call, win over the new view's own load.
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [reload]);
  return { ...state, reload };
}
