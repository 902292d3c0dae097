// GET /v1/providers: every configured delivery provider of every channel with its type, countries,
// send rate, the routes it is on, its demotion and its statistics (src/channels/provider-stats.ts).
// GET /v1/breakers: the destination hosts of webhooks and callbacks whose breaker opened lately
// (src/channels/http/host-breaker.ts).
// The response schema lists every field, so nothing else of a provider's config (credentials,
// URLs, senders) can be serialised even by mistake.
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { isoTime, itemsResponse } from '../schemas/common.js';
import { iso } from '../times.js';
import { providersReport } from '../../channels/provider-report.js';
import { hostBreakers } from '../../channels/http/host-breaker.js';

const count = { type: 'integer' } as const;
const ms = { type: ['integer', 'null'] } as const;
const windowStats = {
  type: 'object',
  properties: {
    sent: count, failed: count, delivered: count, undelivered: count,
    latency: { type: 'object', properties: { samples: count, meanMs: ms, p50Ms: ms, p95Ms: ms } },
  },
} as const;

export const listProviders = {
  tags: ['providers'],
  summary: 'Delivery providers: config (no secrets), demotion, statistics',
  description: 'Counts and latency are shared by every worker of the store. `lastHour` is the current 5-minute bucket and the 11 before it; `last24h` the current hour and the 23 before it. `sent`: sends the provider accepted; `failed`: attempts it failed (our own cancellations and timeouts aside); `delivered`/`undelivered`: delivery reports. Latency p50/p95 are estimated within fixed bins. `stats` is null on a store without shared state.',
  response: itemsResponse({
    channel: { type: 'string' }, name: { type: 'string' }, type: { type: 'string' },
    countries: { type: ['array', 'null'], items: { type: 'string' } },
    ratePerSecond: { type: ['number', 'null'] },
    routes: { type: 'array', items: { type: 'string' } },
    demoted: { type: 'boolean' }, demotedUntil: isoTime,
    stats: { type: ['object', 'null'], properties: { lastHour: windowStats, last24h: windowStats } },
  }),
} as const;

export const listBreakers = {
  tags: ['providers'],
  summary: 'Destination hosts of webhooks and callbacks whose circuit breaker opened lately',
  description: 'Open: their jobs fail at once (retryable, `host_unavailable`) until `openUntil`; half-open: the next request probes the host; closed: a probe was answered and requests go out. Listed for one to two hours after its breaker last opened; open first. `opens`: how often it opened this hour and the last (a failed probe opens it again). Empty on a store without shared state.',
  response: itemsResponse({ host: { type: 'string' }, state: { type: 'string', enum: ['open', 'half-open', 'closed'] }, openUntil: isoTime, opens: count }),
} as const;

export function providerRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/providers', { schema: listProviders, config: { role: 'read' } }, async () => {
    const items = await providersReport(ctx.fusion.channels.pipelines ?? [], ctx.store, ctx.now());
    return { items: items.map((p) => ({ ...p, demotedUntil: iso(p.demotedUntil) })) };
  });
  app.get('/v1/breakers', { schema: listBreakers, config: { role: 'read' } }, async () => {
    const items = await hostBreakers(ctx.store.shared, ctx.now());
    return { items: items.map((b) => ({ ...b, openUntil: iso(b.openUntil) })) };
  });
}
