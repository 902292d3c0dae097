// How long jobs to a slow partner wait under the slow-host limit (src/channels/http/slow-hosts.ts),
// and what its snoozes cost the store, beside first come, first served with the same slots. A
// discrete-event simulation on a manual clock, driving the real SlowHosts class: one host answering
// in ANSWER_MS, limit 5, jobs arriving at random (Poisson) at a share of the host's capacity for an
// hour, or a burst of 1,000 at once to a host already slow. Each snoozed job comes back at its
// delay, as the store would hand it back. Not a benchmark of speed: it prints one JSON line a case.
//   node dist/bench/slow-host.js
import { SlowHosts } from '../src/channels/http/slow-hosts.js';
import { SnoozeError } from '../src/core/errors.js';
import type { AttemptRecord } from '../src/core/job.js';

const ANSWER_MS = 3_000;
const LIMIT = 5;
const CAPACITY_PER_S = (LIMIT * 1000) / ANSWER_MS;
const HOUR_MS = 3_600_000;

interface SimJob {
  created: number;
  snoozes: number;
}

/** A deterministic random source (a linear congruential generator), so runs compare. */
function seeded(seed: number): () => number {
  return () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** A queue of timed events, earliest first (a binary heap). */
class Events {
  private heap: { at: number; seq: number; run: () => void }[] = [];
  private seq = 0;
  push(at: number, run: () => void): void {
    const h = this.heap;
    h.push({ at, seq: this.seq++, run });
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (this.less(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }
  pop(): { at: number; run: () => void } | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
  private less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}

/** The arrival times of a case. */
function arrivals(load: number | 'burst', random: () => number): number[] {
  if (load === 'burst') return [...Array.from({ length: LIMIT }, (_, i) => i), ...Array.from({ length: 1_000 }, (_, i) => 2_500 + i)];
  const out: number[] = [];
  for (let t = 0; t < HOUR_MS; t += (-Math.log(1 - random()) * 1000) / (load * CAPACITY_PER_S)) out.push(t);
  return out;
}

function percentiles(waits: number[]) {
  const sorted = [...waits].sort((a, b) => a - b);
  const at = (p: number) => Math.round(sorted[Math.floor(p * (sorted.length - 1))]!);
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}

/** Through SlowHosts: a job over the limit is snoozed and tried again at its delay. */
async function withSnoozes(times: number[]) {
  let now = 0;
  const hosts = new SlowHosts({ limit: LIMIT, afterMs: 2_000 }, { now: () => now } as never, seeded(7));
  const events = new Events();
  const waits: number[] = [];
  let snoozes = 0;
  let mostSnoozes = 0;
  const firstWaits: number[] = [];
  const attempt = (job: SimJob) => {
    const history: AttemptRecord[] = [{ attempt: 1, workerId: 'w', startedAt: now } as AttemptRecord];
    if (job.snoozes > 0) history.unshift({ attempt: 1, workerId: 'w', startedAt: now, endedAt: now, outcome: 'snoozed', snoozes: job.snoozes });
    hosts
      .around('https://slow.example/hook', { history }, (timed) => timed(() => new Promise<void>((answered) => events.push(now + ANSWER_MS, answered))))
      .then(
        () => {
          waits.push(now - job.created);
          mostSnoozes = Math.max(mostSnoozes, job.snoozes);
        },
        (err: unknown) => {
          if (!(err instanceof SnoozeError)) throw err;
          snoozes++;
          if (job.snoozes === 0) firstWaits.push(err.delayMs);
          job.snoozes++;
          events.push(now + err.delayMs, () => attempt(job));
        },
      );
  };
  for (const t of times) events.push(t, () => attempt({ created: t, snoozes: 0 }));
  for (let e = events.pop(); e; e = events.pop()) {
    now = e.at;
    e.run();
    await new Promise((r) => setImmediate(r)); // let the promise callbacks of this event run
  }
  const first = percentiles(firstWaits);
  return { ...percentiles(waits), snoozesPerSecond: Math.round((snoozes / (now / 1000)) * 10) / 10, mostSnoozesOfOneJob: mostSnoozes, firstSnooze: { p50Ms: first.p50Ms, maxMs: first.maxMs } };
}

/** First come, first served on LIMIT slots: what a line per host would give, holding no lane slot meanwhile. */
function firstComeFirstServed(times: number[]) {
  const free = Array.from({ length: LIMIT }, () => 0);
  const waits = times.map((t) => {
    const i = free.indexOf(Math.min(...free));
    const start = Math.max(t, free[i]!);
    free[i] = start + ANSWER_MS;
    return start + ANSWER_MS - t;
  });
  return percentiles(waits);
}

for (const load of [0.78, 0.93, 'burst'] as const) {
  const times = arrivals(load, seeded(42));
  const snooze = await withSnoozes(times);
  console.log(JSON.stringify({ bench: 'slow-host', case: load === 'burst' ? 'burst of 1,000 to a slow host' : `arrivals at ${load * 100}% of the host's capacity for an hour`, answerMs: ANSWER_MS, limit: LIMIT, jobs: times.length, snooze, firstComeFirstServed: firstComeFirstServed(times) }));
}
