// Provider statistics every worker of a store adds to and every API process reads: per channel and
// provider, sends accepted, failed attempts, delivery reports (delivered / undelivered) and send
// latency, in time buckets kept in the store's SharedState (tally/tallies):
//   provider:stats:<channel>:<provider>:f<start>  5-minute bucket, kept 70 minutes
//   provider:stats:<channel>:<provider>:h<start>  1-hour bucket, kept 25 hours
// "Last hour" sums the current 5-minute bucket and the 11 before it (55-60 minutes); "last 24 h" the
// current hour and the 23 before it (23-24 hours). Latency is a histogram of fixed bins (below), so
// p50/p95 are estimates within a bin (linear inside it), plus the exact mean.
//
// The send path never waits on the store for this: counts gather in the process and are flushed
// every second (one tally per provider and bucket), so a send costs a map update. A process that
// dies loses at most its last second of counts.
import type { Store } from '../core/store.js';

export const FIVE_MIN = 5 * 60_000;
export const HOUR = 3600_000;
const FIVE_MIN_TTL = 70 * 60_000;
const HOUR_TTL = 25 * HOUR;
export const STATS_FLUSH_MS = 1000;
/** Upper bounds (ms) of the latency bins; the last bin is everything slower. */
export const LATENCY_BINS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, Infinity];

export type StatEvent = 'sent' | 'failed' | 'delivered' | 'undelivered';

type Counters = Record<string, number>;

const statKey = (channel: string, provider: string, kind: 'f' | 'h', start: number) => `provider:stats:${channel}:${provider}:${kind}${start}`;

function binOf(ms: number): number {
  let i = 0;
  while (ms > LATENCY_BINS[i]!) i++;
  return i;
}

/** Gathers counts in the process and flushes them to the store's SharedState once a second. */
export class StatsRecorder {
  /** `channel \0 provider \0 5-minute bucket start` → counters to add. */
  private pending = new Map<string, Counters>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(private readonly store: Store, private readonly flushMs = STATS_FLUSH_MS) {}

  get enabled(): boolean {
    return !!this.store.shared?.tally;
  }

  /** Count one event; `latencyMs` for sends and failed attempts (how long the provider took). */
  record(channel: string, provider: string, event: StatEvent, now: number, latencyMs?: number): void {
    if (!this.enabled) return;
    const k = `${channel}\0${provider}\0${Math.floor(now / FIVE_MIN) * FIVE_MIN}`;
    let c = this.pending.get(k);
    if (!c) this.pending.set(k, (c = {}));
    c[event] = (c[event] ?? 0) + 1;
    if (latencyMs !== undefined && latencyMs >= 0) {
      const b = `l${binOf(latencyMs)}`;
      c[b] = (c[b] ?? 0) + 1;
      c.lsum = (c.lsum ?? 0) + latencyMs;
      c.ln = (c.ln ?? 0) + 1;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Write what has gathered (also called before a read, so this process's last second shows). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const shared = this.store.shared!;
    this.flushing = (async () => {
      await Promise.all([...batch].map(async ([k, add]) => {
        const [channel, provider, b] = k.split('\0') as [string, string, string];
        const start = Number(b);
        const hour = Math.floor(start / HOUR) * HOUR;
        // A bucket's TTL counts from its start (passed as `now`), whenever it is written.
        try {
          await Promise.all([
            shared.tally!(statKey(channel, provider, 'f', start), add, FIVE_MIN_TTL, start),
            shared.tally!(statKey(channel, provider, 'h', hour), add, HOUR_TTL, hour),
          ]);
        } catch {
          // Statistics are best effort: a store hiccup must not fail a send. The counts are dropped.
        }
      }));
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
  }
}

const recorders = new WeakMap<Store, StatsRecorder>();

/** The one recorder of a store in this process (the pipelines of every channel and the report route share it). */
export function statsRecorder(store: Store): StatsRecorder {
  let r = recorders.get(store);
  if (!r) recorders.set(store, (r = new StatsRecorder(store)));
  return r;
}

export interface LatencyStats {
  samples: number;
  meanMs: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface WindowStats {
  sent: number;
  failed: number;
  delivered: number;
  undelivered: number;
  latency: LatencyStats;
}

export interface ProviderStats {
  lastHour: WindowStats;
  last24h: WindowStats;
}

function sum(list: (Counters | null)[]): Counters {
  const out: Counters = {};
  for (const c of list) if (c) for (const [f, n] of Object.entries(c)) out[f] = (out[f] ?? 0) + n;
  return out;
}

function quantile(c: Counters, n: number, q: number): number {
  const target = q * n;
  let seen = 0;
  for (let i = 0; i < LATENCY_BINS.length; i++) {
    const inBin = c[`l${i}`] ?? 0;
    if (inBin > 0 && seen + inBin >= target) {
      const lo = i === 0 ? 0 : LATENCY_BINS[i - 1]!;
      // The open last bin has no upper bound: report its lower one.
      if (!Number.isFinite(LATENCY_BINS[i]!)) return lo;
      return Math.round(lo + ((target - seen) / inBin) * (LATENCY_BINS[i]! - lo));
    }
    seen += inBin;
  }
  return 0;
}

function windowOf(c: Counters): WindowStats {
  const n = c.ln ?? 0;
  return {
    sent: c.sent ?? 0,
    failed: c.failed ?? 0,
    delivered: c.delivered ?? 0,
    undelivered: c.undelivered ?? 0,
    latency: n > 0
      ? { samples: n, meanMs: Math.round((c.lsum ?? 0) / n), p50Ms: quantile(c, n, 0.5), p95Ms: quantile(c, n, 0.95) }
      : { samples: 0, meanMs: null, p50Ms: null, p95Ms: null },
  };
}

/** The statistics of many providers at once; null where the store keeps none. */
export async function readStats(store: Store, providers: { channel: string; name: string }[], now: number): Promise<(ProviderStats | null)[]> {
  const shared = store.shared;
  if (!shared?.tallies) return providers.map(() => null);
  await statsRecorder(store).flush();
  const f0 = Math.floor(now / FIVE_MIN) * FIVE_MIN;
  const h0 = Math.floor(now / HOUR) * HOUR;
  const keys: string[] = [];
  for (const p of providers) {
    for (let i = 0; i < 12; i++) keys.push(statKey(p.channel, p.name, 'f', f0 - i * FIVE_MIN));
    for (let i = 0; i < 24; i++) keys.push(statKey(p.channel, p.name, 'h', h0 - i * HOUR));
  }
  const got = await shared.tallies(keys, now);
  return providers.map((_, i) => {
    const at = i * 36;
    return { lastHour: windowOf(sum(got.slice(at, at + 12))), last24h: windowOf(sum(got.slice(at + 12, at + 36))) };
  });
}
