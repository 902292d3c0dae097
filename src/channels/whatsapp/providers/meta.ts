// Meta WhatsApp Cloud API: POST {base}/{version}/{phoneNumberId}/messages, Bearer access token, JSON
// { messaging_product: "whatsapp", to, type: text | template | image | document | video | audio, ... }.
// Answers { messages: [{ id: "wamid..." }] }; errors { error: { code, error_subcode, message, type } }.
// Status webhooks (entry[].changes[].value.statuses[]: id, status sent/delivered/read/failed) are
// signed X-Hub-Signature-256: sha256=HMAC-SHA256(app secret, raw body). The webhook's GET handshake
// (hub.mode=subscribe, hub.verify_token, hub.challenge) answers the challenge when the token matches.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { DeliveryReport, DeliveryStatus, InboundRequest, Provider, ProviderFactory, SendResult } from '../../provider.js';
import { httpFailure, httpSend } from '../../http/answer.js';
import { JSON_TYPE, Settings, refusal, schema, scrub, scrubError, sent, text } from '../../sms/providers/common.js';
import type { WhatsAppMessage } from '../message.js';

export const META_GRAPH = 'https://graph.facebook.com';
export const META_VERSION = 'v21.0';

/** Meta's throttling and transient codes (rate limits, temporary errors): worth another try. */
const RETRY_CODES = new Set(['4', '80007', '130429', '131000', '131016', '131056', '133004', '2']);

export interface WhatsAppProvider extends Provider<WhatsAppMessage> {
  /** Meta's webhook subscription handshake: the challenge to answer, or null (403). */
  subscription?(query: Record<string, string | undefined>): string | null;
}

function statusOf(s: string): DeliveryStatus {
  switch (s) {
    case 'delivered':
    case 'read':
      return 'delivered';
    case 'failed':
      return 'failed';
    default:
      return 'sent';
  }
}

/** The JSON body of one message. */
export function metaBody(m: WhatsAppMessage): Record<string, unknown> {
  const base = { messaging_product: 'whatsapp', recipient_type: 'individual', to: m.to.replace(/^\+/, '') };
  if (m.kind === 'template') {
    const t = m.template!;
    const template: Record<string, unknown> = { name: t.name, language: { code: t.language } };
    if (t.params.length) template.components = [{ type: 'body', parameters: t.params.map((p) => ({ type: 'text', text: p })) }];
    return { ...base, type: 'template', template };
  }
  if (m.kind === 'media') {
    const md = m.media!;
    const media: Record<string, unknown> = { link: md.url };
    // Audio takes no caption; a document may carry its file name.
    if (m.text && md.type !== 'audio') media.caption = m.text;
    if (md.filename && md.type === 'document') media.filename = md.filename;
    return { ...base, type: md.type, [md.type]: media };
  }
  return { ...base, type: 'text', text: { body: m.text ?? '', preview_url: false } };
}

export function metaSignature(appSecret: string, rawBody: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody, 'utf8').digest('hex')}`;
}

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export const meta: ProviderFactory<WhatsAppMessage> = {
  type: 'meta',
  channel: 'whatsapp',
  configSchema: schema(
    {
      accessToken: { type: 'string', description: 'A system user access token with whatsapp_business_messaging.' },
      phoneNumberId: { type: 'string', description: 'The sending number\'s id in the WhatsApp Business account.' },
      version: { type: 'string', description: `Graph API version (default ${META_VERSION}).` },
      appSecret: { type: 'string', description: 'The Meta app secret: verifies X-Hub-Signature-256 on status webhooks.' },
      verifyToken: { type: 'string', description: 'The token Meta echoes in the webhook subscription handshake.' },
    },
    ['accessToken', 'phoneNumberId'],
  ),
  secrets: ['accessToken', 'appSecret', 'verifyToken'],
  create(name, config): WhatsAppProvider {
    const s = new Settings('meta', name, config, { baseUrl: META_GRAPH, secrets: ['accessToken', 'appSecret', 'verifyToken'] });
    const token = s.str('accessToken');
    const url = `${s.baseUrl}/${s.opt('version') ?? META_VERSION}/${encodeURIComponent(s.str('phoneNumberId'))}/messages`;
    const appSecret = s.opt('appSecret');
    const verifyToken = s.opt('verifyToken');
    return {
      name,
      type: 'meta',
      async send(m, ctx): Promise<SendResult> {
        try {
          const answer = await httpSend(url, { headers: { authorization: `Bearer ${token}`, 'content-type': JSON_TYPE }, body: JSON.stringify(metaBody(m)), timeoutMs: s.timeoutMs }, ctx, s.label);
          if (answer.status < 200 || answer.status >= 300) {
            const code = text(answer.json, 'error.code');
            const err = httpFailure(answer, s.label, ctx.now(), code);
            if (code && RETRY_CODES.has(code) && !err.retryable) {
              throw refusal(s, code, text(answer.json, 'error.message') ?? 'throttled', { retryable: true, status: answer.status, raw: answer.json });
            }
            throw err;
          }
          const r = sent(s, answer, text(answer.json, 'messages.0.id'));
          return { ...r, raw: scrub(r.raw, s.secretValues) };
        } catch (err) {
          throw scrubError(err, s.secretValues);
        }
      },
      deliveryReports(req: InboundRequest): DeliveryReport[] {
        const given = req.headers['x-hub-signature-256'];
        if (!appSecret) throw refusal(s, 'bad_signature', 'no appSecret is configured: status webhooks cannot be verified');
        if (!given || !same(given, metaSignature(appSecret, req.rawBody))) {
          throw refusal(s, 'bad_signature', given ? 'X-Hub-Signature-256 does not verify' : 'the webhook is not signed (X-Hub-Signature-256)');
        }
        const body = req.body as { entry?: { changes?: { value?: { statuses?: { id?: string; status?: string; errors?: { code?: number | string }[] }[] } }[] }[] } | undefined;
        const out: DeliveryReport[] = [];
        for (const e of body?.entry ?? []) {
          for (const c of e.changes ?? []) {
            for (const st of c.value?.statuses ?? []) {
              if (!st.id || !st.status) continue;
              const r: DeliveryReport = { messageId: st.id, status: statusOf(st.status), providerStatus: st.status };
              const code = st.errors?.[0]?.code;
              if (code !== undefined) r.errorCode = String(code);
              out.push(r);
            }
          }
        }
        return out;
      },
      subscription(q) {
        if (!verifyToken || q['hub.mode'] !== 'subscribe' || !q['hub.verify_token'] || !same(q['hub.verify_token'], verifyToken)) return null;
        return q['hub.challenge'] ?? null;
      },
    };
  },
};
