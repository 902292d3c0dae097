// Twilio WhatsApp: the Messages API (POST /2010-04-01/Accounts/{sid}/Messages.json, Basic auth) with
// `whatsapp:`-prefixed numbers. Text goes as Body; media as MediaUrl (Body its caption); a template as
// a Content API template: ContentSid (HX...) and ContentVariables {"1": first param, ...}. A template
// named by its Meta name is looked up in config `templates` (name → ContentSid). Failures are read
// and status callbacks signed (X-Twilio-Signature) as for SMS.
import { timingSafeEqual } from 'node:crypto';
import type { DeliveryReport, DeliveryStatus, InboundRequest, Provider, ProviderFactory, SendResult } from '../../provider.js';
import { httpSend } from '../../http/answer.js';
import { FORM, Settings, basicAuth, form, refusal, schema, scrub, scrubError, sent, text } from '../../sms/providers/common.js';
import { twilioFailure, twilioSignature } from '../../sms/providers/twilio.js';
import type { WhatsAppMessage } from '../message.js';

const CONTENT_SID = /^HX[0-9a-fA-F]{32}$/;

function statusOf(s: string): DeliveryStatus {
  if (s === 'delivered' || s === 'read') return 'delivered';
  if (s === 'undelivered') return 'undelivered';
  if (s === 'failed' || s === 'canceled') return 'failed';
  if (s === 'sent' || s === 'sending') return 'sent';
  return 'queued';
}

const wa = (n: string) => (n.startsWith('whatsapp:') ? n : `whatsapp:${n}`);

export const twilioWhatsApp: ProviderFactory<WhatsAppMessage> = {
  type: 'twilio',
  channel: 'whatsapp',
  configSchema: schema(
    {
      accountSid: { type: 'string' },
      authToken: { type: 'string' },
      from: { type: 'string', description: 'The WhatsApp sender number in E.164 (whatsapp: prefix optional).' },
      messagingServiceSid: { type: 'string' },
      templates: { type: 'object', additionalProperties: { type: 'string' }, description: 'Template name → Content SID (HX...).' },
      statusCallback: { type: 'string', description: 'URL Twilio posts status callbacks to (this provider\'s /v1/providers/whatsapp/<name>/reports).' },
    },
    ['accountSid', 'authToken'],
  ),
  secrets: ['authToken'],
  create(name, config): Provider<WhatsAppMessage> {
    const s = new Settings('twilio', name, config, { baseUrl: 'https://api.twilio.com', secrets: ['authToken'] });
    const sid = s.str('accountSid');
    const token = s.str('authToken');
    const from = s.opt('from');
    const service = s.opt('messagingServiceSid');
    if (!from && !service) throw new TypeError(`${s.label}: set "from" (the WhatsApp sender) or "messagingServiceSid"`);
    const templates = (config.templates ?? {}) as Record<string, string>;
    const callback = s.opt('statusCallback');
    const url = `${s.baseUrl}/2010-04-01/Accounts/${encodeURIComponent(sid)}/Messages.json`;
    return {
      name,
      type: 'twilio',
      async send(m, ctx): Promise<SendResult> {
        try {
          const fields: Record<string, string | undefined> = { To: wa(m.to), ...(from ? { From: wa(from) } : { MessagingServiceSid: service }) };
          if (m.kind === 'template') {
            const t = m.template!;
            const contentSid = CONTENT_SID.test(t.name) ? t.name : templates[t.name];
            if (!contentSid) throw refusal(s, 'template_not_mapped', `template "${t.name}" has no Content SID: add it to config templates (name → HX...)`);
            fields.ContentSid = contentSid;
            if (t.params.length) fields.ContentVariables = JSON.stringify(Object.fromEntries(t.params.map((p, i) => [String(i + 1), p])));
          } else if (m.kind === 'media') {
            fields.MediaUrl = m.media!.url;
            if (m.text) fields.Body = m.text;
          } else {
            fields.Body = m.text;
          }
          fields.StatusCallback = callback;
          const answer = await httpSend(url, { headers: { authorization: basicAuth(sid, token), 'content-type': FORM }, body: form(fields), timeoutMs: s.timeoutMs }, ctx, s.label);
          if (answer.status < 200 || answer.status >= 300) throw twilioFailure(answer, s.label, ctx.now());
          const r = sent(s, answer, text(answer.json, 'sid'), statusOf(text(answer.json, 'status') ?? 'queued'));
          return { ...r, raw: scrub(r.raw, s.secretValues) };
        } catch (err) {
          throw scrubError(err, s.secretValues);
        }
      },
      deliveryReports(req: InboundRequest): DeliveryReport[] {
        const params = new URLSearchParams(req.rawBody);
        const given = req.headers['x-twilio-signature'];
        const want = twilioSignature(token, req.url, params);
        if (!given || given.length !== want.length || !timingSafeEqual(Buffer.from(given), Buffer.from(want))) {
          throw refusal(s, 'bad_signature', given ? 'the status callback signature does not verify' : 'the status callback is not signed');
        }
        const id = params.get('MessageSid');
        const status = params.get('MessageStatus');
        if (!id || !status) return [];
        const r: DeliveryReport = { messageId: id, status: statusOf(status), providerStatus: status };
        const code = params.get('ErrorCode');
        if (code) r.errorCode = code;
        return [r];
      },
    };
  },
};
