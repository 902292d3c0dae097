// What GET /v1/providers shows and what the event hub compares for provider.demoted/restored: every
// configured provider of every channel with its type, countries, rate, routes, demotion and
// statistics. Config values other than type, countries and rate never leave here (credentials,
// URLs, senders stay in config).
import type { Store } from '../core/store.js';
import type { ProviderState } from '../core/events.js';
import type { DeliveryPipeline } from './delivery.js';
import { CHANNEL_QUEUES } from './queues.js';
import { readStats, type ProviderStats } from './provider-stats.js';

export interface ProviderView {
  channel: string;
  name: string;
  type: string;
  countries: string[] | null;
  ratePerSecond: number | null;
  /** Route keys the provider is on, in config order: a calling code, a domain, "default"; OTP routes as "otp:<key>". */
  routes: string[];
  demoted: boolean;
  demotedUntil: number | null;
  /** null when the store keeps no shared state (PostgreSQL for now). */
  stats: ProviderStats | null;
}

const queueOf = (channel: string) => (CHANNEL_QUEUES as Record<string, string>)[channel] ?? channel;

export async function providersReport(pipelines: DeliveryPipeline<any>[], store: Store, now: number): Promise<ProviderView[]> {
  const rows = pipelines.flatMap((p) => p.describe().map((d) => ({ pipeline: p, channel: p.channel, ...d })));
  const [stats, until] = await Promise.all([
    readStats(store, rows, now),
    Promise.all(rows.map((r) => (r.pipeline.dryRun ? null : r.pipeline.demotedUntil(r.name, now)))),
  ]);
  return rows.map(({ pipeline: _p, ...r }, i) => ({ ...r, demoted: until[i] !== null, demotedUntil: until[i] ?? null, stats: stats[i] ?? null }));
}

/** Demotion state of every configured provider, for the event hub's comparison. */
export async function providerStates(pipelines: DeliveryPipeline<any>[], now: number): Promise<ProviderState[]> {
  const out: Promise<ProviderState>[] = [];
  for (const p of pipelines) {
    if (p.dryRun) continue;
    for (const d of p.describe()) {
      out.push(p.demotedUntil(d.name, now).then((demotedUntil) => ({ channel: p.channel, name: d.name, type: d.type, queue: queueOf(p.channel), demotedUntil })));
    }
  }
  return Promise.all(out);
}
