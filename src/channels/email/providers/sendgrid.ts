// SendGrid: POST /v3/mail/send with a Bearer API key; one personalization carries to/cc/bcc. The
// answer is 202 with an empty body and the message id in X-Message-Id. Errors come as
// {errors: [{message, field}]} and are classified by status (5xx, 429 retryable; 400, 401, 403 not).
// Every personalization needs a `to`: a mail with none left goes To its first Cc (whom every
// recipient sees anyway), or, Bcc only, as one personalization per Bcc recipient, each To itself.
import type { ProviderFactory } from '../../provider.js';
import type { OutgoingEmail } from '../message.js';
import { answerError, configuredSender, httpEmailProvider, JSON_TYPE, schema, SENDER_PROPERTIES, Settings, text } from './common.js';

const SECRETS = ['apiKey'];
const list = (xs: string[]) => (xs.length ? xs.map((email) => ({ email })) : undefined);

/** The personalizations of a mail: one, unless only Bcc recipients are left (then one each, none seeing another). */
function personalizations(m: OutgoingEmail) {
  if (m.to.length) return [{ to: list(m.to), cc: list(m.cc), bcc: list(m.bcc) }];
  if (m.cc.length) return [{ to: list(m.cc.slice(0, 1)), cc: list(m.cc.slice(1)), bcc: list(m.bcc) }];
  return m.bcc.map((email) => ({ to: [{ email }] }));
}

export const sendgrid: ProviderFactory<OutgoingEmail> = {
  type: 'sendgrid',
  channel: 'email',
  configSchema: schema({ apiKey: { type: 'string' }, ...SENDER_PROPERTIES }, ['apiKey']),
  secrets: SECRETS,
  create(name, config) {
    const s = new Settings('sendgrid', name, config, { baseUrl: 'https://api.sendgrid.com', secrets: SECRETS });
    const key = s.str('apiKey');
    return httpEmailProvider(s, configuredSender(s), {
      request(m, from, ctx) {
        const content = [{ type: 'text/plain', value: m.text }];
        if (m.html) content.push({ type: 'text/html', value: m.html });
        const body = {
          personalizations: personalizations(m),
          from: from.name ? { email: from.address, name: from.name } : { email: from.address },
          ...(m.replyTo.length === 1 ? { reply_to: { email: m.replyTo[0] } } : m.replyTo.length > 1 ? { reply_to_list: list(m.replyTo) } : {}),
          subject: m.subject,
          content,
          ...(m.attachments.length ? { attachments: m.attachments.map((a) => ({ content: a.content.toString('base64'), filename: a.filename, type: a.contentType, disposition: 'attachment' })) } : {}),
          ...(Object.keys(m.headers).length ? { headers: m.headers } : {}),
          custom_args: { fusion_job_id: ctx.jobId },
        };
        return { url: `${s.baseUrl}/v3/mail/send`, headers: { authorization: `Bearer ${key}`, 'content-type': JSON_TYPE }, body: JSON.stringify(body) };
      },
      errorCode: (a) => (text(a.json, 'errors.0.field') ? `sendgrid_${text(a.json, 'errors.0.field')}` : undefined),
      read(answer) {
        const id = answer.headers['x-message-id'];
        const messageId = Array.isArray(id) ? id[0] : id;
        if (!messageId) throw answerError(s, answer, 'bad_answer', 'the answer carries no X-Message-Id');
        return { messageId, status: 'sent', raw: { status: answer.status, messageId } };
      },
    });
  },
};
