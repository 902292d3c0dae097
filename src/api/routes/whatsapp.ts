// WhatsApp's routes besides the delivery reports (POST /v1/providers/whatsapp/:name/reports):
//   GET /v1/consents                       every number with a recorded consent, paged (role read)
//   GET /v1/consents/:contact              what /update_consent/ last recorded for a number (role read)
//   GET /v1/providers/whatsapp/:name/reports  Meta's webhook subscription handshake (public: Meta
//                                          carries no API key; the verify token is the check)
// Consent lives in the store (channels/whatsapp/consent.ts), so what one API process records every
// worker enforces.
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { apiError } from '../errors.js';
import { errorResponses, isoTime } from '../schemas/common.js';
import { iso } from '../times.js';
import { consentBook, type ConsentEntry } from '../../channels/whatsapp/consent.js';
import type { WhatsAppProvider } from '../../channels/whatsapp/providers/meta.js';

const consentView = {
  type: 'object',
  properties: {
    contact: { type: 'string', description: 'E.164' },
    countryCode: { type: 'string' },
    nationalNumber: { type: 'string' },
    consent: { type: 'boolean' },
    updatedAt: isoTime,
    source: { type: ['string', 'null'] },
  },
} as const;

export const getConsent = {
  tags: ['jobs'],
  summary: 'The WhatsApp consent recorded for a number',
  description: 'contact in E.164 (`+919876543210`, the + may be left out) or national digits with `countryCode`. 404 when nothing was ever recorded for it.',
  params: { type: 'object', required: ['contact'], properties: { contact: { type: 'string', minLength: 3, maxLength: 32, pattern: '^\\+?[\\d\\s().-]{3,30}$' } } },
  querystring: { type: 'object', properties: { countryCode: { type: 'string', pattern: '^\\+?\\d{1,4}$' } } },
  response: { 200: consentView, ...errorResponses },
} as const;

export const listConsents = {
  tags: ['jobs'],
  summary: 'Every number with a recorded WhatsApp consent',
  description: 'In E.164 order, a page at a time: pass the answer\'s `next` as `after` for the next page.',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, after: { type: 'string', maxLength: 32 } },
  },
  response: { 200: { type: 'object', required: ['items', 'next'], properties: { items: { type: 'array', items: consentView }, next: { type: ['string', 'null'] } } }, ...errorResponses },
} as const;

export const metaHandshake = {
  tags: ['jobs'],
  summary: "Meta's webhook subscription handshake",
  description: 'For Meta, not API clients: answers hub.challenge when hub.mode is subscribe and hub.verify_token matches the provider\'s verifyToken; else 403.',
  params: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.-]+$' } } },
  querystring: { type: 'object', additionalProperties: { type: 'string' } },
  response: { 200: { type: 'string' }, ...errorResponses },
} as const;

export function whatsappRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const view = (e: ConsentEntry) => ({ contact: e.contact, countryCode: e.countryCode, nationalNumber: e.nationalNumber, consent: e.consent, updatedAt: iso(e.updatedAt), source: e.source ?? null });

  app.get('/v1/consents', { schema: listConsents, config: { role: 'read' } }, async (req) => {
    const { limit, after } = req.query as { limit: number; after?: string };
    const page = await consentBook(ctx.store).list(ctx.now(), limit, after);
    return { items: page.items.map(view), next: page.next };
  });

  app.get('/v1/consents/:contact', { schema: getConsent, config: { role: 'read' } }, async (req) => {
    const { contact } = req.params as { contact: string };
    const { countryCode } = req.query as { countryCode?: string };
    const e = await consentBook(ctx.store).lookup(contact.startsWith('+') || countryCode ? contact : `+${contact}`, countryCode, ctx.now());
    if (!e) throw apiError(404, 'not_found', `no WhatsApp consent was ever recorded for ${contact}`, { field: 'contact' });
    return view(e);
  });

  app.get('/v1/providers/whatsapp/:name/reports', { schema: metaHandshake, config: { role: 'public' } }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const provider = ctx.fusion.channels.providers?.whatsapp?.[name] as WhatsAppProvider | undefined;
    if (!provider?.subscription) throw apiError(404, 'not_found', `no WhatsApp provider "${name}" takes a webhook subscription`, { field: 'name' });
    const challenge = provider.subscription(req.query as Record<string, string | undefined>);
    if (challenge === null) throw apiError(403, 'forbidden', 'hub.verify_token does not match, or hub.mode is not subscribe', { field: 'hub.verify_token' });
    return reply.type('text/plain').send(challenge);
  });
}
