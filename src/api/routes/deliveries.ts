// Delivery reports: providers post a message's delivery status to
//   POST /v1/providers/:channel/:name/reports
// No API key (providers cannot send ours): authenticity is the provider's own signature, checked by
// its adapter's deliveryReports() on the raw body (bad → 401). Each report finds its job through the
// message-id index the send wrote, and moves the job's delivery status (sent → delivered/undelivered).
// The store has no channel for custom events, so a change is written to the job's log (GET
// /v1/jobs/:id/logs) and to the server log instead. Behind a proxy that ends TLS, the URL a
// signature covers is rebuilt from the hub's public base URL (server.publicUrl), not from the
// request as it arrived.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../context.js';
import { apiError } from '../errors.js';
import { errorResponses } from '../schemas/common.js';
import { applyReport, deliveryOf } from '../../channels/delivery-status.js';
import { iso } from '../times.js';
import { ProviderError, type DeliveryReport, type InboundRequest } from '../../channels/provider.js';

/** Reports are small; a provider batching many still fits. */
const REPORT_BODY_LIMIT = 256 * 1024;

const NAME = { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.-]+$' } as const;

export const providerReports = {
  tags: ['deliveries'],
  summary: 'A provider\'s delivery-status callback',
  description: 'For providers, not API clients: no API key; the request must carry the provider\'s signature (e.g. X-Twilio-Signature), else 401. Answers how many reports were read, matched a sent message, and changed its status.',
  params: { type: 'object', required: ['channel', 'name'], properties: { channel: NAME, name: NAME } },
  response: {
    200: { type: 'object', properties: { received: { type: 'integer' }, matched: { type: 'integer' }, updated: { type: 'integer' } } },
    ...errorResponses,
  },
} as const;

function parseBody(raw: string, contentType: string): unknown {
  if (!raw) return undefined;
  if (/json/i.test(contentType)) {
    try {
      return JSON.parse(raw);
    } catch {
      throw apiError(400, 'invalid_request', 'the body is not valid JSON', { field: 'body' });
    }
  }
  if (/x-www-form-urlencoded/i.test(contentType)) return Object.fromEntries(new URLSearchParams(raw));
  return raw;
}

/**
 * Registered as its own plugin: its body parser keeps the raw text (signatures cover it) and leaves
 * req.body unset. `publicUrl`: the hub's public base URL, checked (public-url.ts).
 */
export async function deliveryRoutes(app: FastifyInstance, ctx: ApiContext, publicUrl?: string): Promise<void> {
  const raws = new WeakMap<FastifyRequest, string>();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: REPORT_BODY_LIMIT }, (req, body, done) => {
    raws.set(req, body as string);
    done(null, undefined);
  });

  app.post('/v1/providers/:channel/:name/reports', { schema: providerReports, config: { role: 'public' } }, async (req) => {
    const { channel, name } = req.params as { channel: string; name: string };
    const provider = ctx.fusion.channels.providers?.[channel]?.[name];
    if (!provider) throw apiError(404, 'not_found', `no provider "${name}" is configured on channel "${channel}"`, { field: 'name', channel, name });
    if (!provider.deliveryReports && !provider.deliveryReportsAsync) throw apiError(404, 'no_reports', `provider "${name}" (${provider.type}) takes no delivery reports`, { field: 'name', channel, name });
    const rawBody = raws.get(req) ?? '';
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const inbound: InboundRequest = {
      method: req.method,
      url: publicUrl ? `${publicUrl}${req.url}` : `${req.protocol}://${req.host}${req.url}`,
      headers,
      rawBody,
      body: parseBody(rawBody, headers['content-type'] ?? ''),
    };
    let reports: DeliveryReport[];
    try {
      reports = provider.deliveryReportsAsync ? await provider.deliveryReportsAsync(inbound) : provider.deliveryReports!(inbound);
    } catch (err) {
      if (err instanceof ProviderError && err.code === 'bad_signature') {
        throw apiError(401, 'bad_signature', `the request's signature does not verify for provider "${name}"`, { channel, name });
      }
      throw apiError(400, 'invalid_report', `provider "${name}" could not read this report: ${(err as Error).message}`, { channel, name });
    }
    let matched = 0;
    let updated = 0;
    for (const report of reports) {
      const now = ctx.now();
      const r = await applyReport(ctx.store, channel, name, report, now);
      if (!r) continue;
      matched++;
      if (!r.changed) continue;
      updated++;
      const word = r.record.providerStatus ? `${r.record.status} (${r.record.providerStatus})` : r.record.status;
      await ctx.store.logJob({ id: r.jobId, message: `delivery: ${word} reported by ${name}`, now });
      ctx.fusion.logger.info({ jobId: r.jobId, channel, provider: name, messageId: report.messageId, status: r.record.status, providerStatus: r.record.providerStatus ?? null }, 'delivery report');
    }
    return { received: reports.length, matched, updated };
  });
}

/** A channel job's delivery status as the API shows it (ISO times), or null for other jobs and unknown ones. */
export async function deliveryFor(ctx: ApiContext, job: { id: string; task: string }) {
  if (!ctx.store.shared || !ctx.fusion.channels.tasks.includes(job.task)) return null;
  const d = await deliveryOf(ctx.store, job.id, ctx.now());
  if (!d) return null;
  return {
    status: d.status, channel: d.channel, provider: d.provider, messageId: d.messageId,
    providerStatus: d.providerStatus ?? null, errorCode: d.errorCode ?? null, at: iso(d.at), sentAt: iso(d.sentAt),
  };
}
