// What every view shares: the event bus fed by the live stream, the queue and worker snapshot
// (refreshed on events and every few seconds), and an hour of samples kept in the page for the
// charts and the per-minute rates.
import { api } from './api.js';

/** Fan-out of live events to views; 'reset' means events were missed. */
export function makeBus() {
  const listeners = new Set();
  return {
    on(fn) { listeners.add(fn); return () => listeners.delete(fn); },
    emit(e) { for (const fn of listeners) fn(e); },
  };
}
export const bus = makeBus();

const HOUR = 3_600_000;
const listeners = new Set();
export const live = {
  queues: null,
  workers: null,
  error: null,
  /** { t, totals: {completed, failed, queued, ...}, per: { name: counts } }, oldest first, one hour. */
  samples: [],
  updatedAt: 0,
};

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
const changed = () => { for (const fn of listeners) fn(); };

let inflight = null;
export function refresh() {
  inflight ??= (async () => {
    try {
      const [q, w] = await Promise.all([api('/v1/queues'), api('/v1/workers').catch(() => null)]);
      live.queues = q.items;
      // A failed read keeps what was known: no workers would flag every busy queue "no worker".
      if (w) live.workers = w.items;
      live.error = null;
      const t = Date.now();
      const totals = {};
      const per = {};
      for (const item of q.items) {
        per[item.name] = item.counts;
        for (const [k, v] of Object.entries(item.counts)) totals[k] = (totals[k] ?? 0) + v;
      }
      live.samples.push({ t, totals, per, oldest: Object.fromEntries(q.items.map((x) => [x.name, x.oldestQueuedAt])) });
      while (live.samples.length && live.samples[0].t < t - HOUR) live.samples.shift();
      live.updatedAt = t;
    } catch (e) {
      live.error = e;
    } finally {
      inflight = null;
      changed();
    }
  })();
  return inflight;
}

/**
 * Completed and failed per minute for one queue (or all with null), from the change of the counts
 * over the last minute of samples. Works whichever process ran the jobs; clean-ups never count negative.
 */
export function perMinute(queue, at = live.samples.length - 1) {
  const s = live.samples;
  if (at < 1) return { completed: null, failed: null };
  const now = s[at];
  let i = at;
  while (i > 0 && now.t - s[i - 1].t <= 60_000) i--;
  if (i === at) i = at - 1;
  const then = s[i];
  // Jobs finished over the last minute; over a shorter look (the page just opened) what it saw so far, never extrapolated.
  const span = Math.max(1, (now.t - then.t) / 60_000);
  const pick = (x, k) => (queue === null ? x.totals[k] ?? 0 : x.per[queue]?.[k] ?? 0);
  const d = (k) => Math.max(0, pick(now, k) - pick(then, k)) / span;
  return { completed: d('completed'), failed: d('failed') };
}

let timer = null;
let throttle = null;
/** Keep the snapshot fresh: every 5 s, and within a second of events that change counts. */
export function startLive() {
  if (timer) return;
  refresh();
  timer = setInterval(refresh, 5000);
  bus.on((e) => {
    if (e !== 'reset' && !(e.type.startsWith('job.') || e.type.startsWith('queue.') || e.type.startsWith('worker.'))) return;
    if (e !== 'reset' && e.type === 'job.progress') return;
    throttle ??= setTimeout(() => { throttle = null; refresh(); }, e === 'reset' ? 0 : 500);
  });
}
