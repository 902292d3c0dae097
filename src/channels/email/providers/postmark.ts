// Postmark: POST /email with X-Postmark-Server-Token. The answer carries MessageID; errors carry
// Postmark's ErrorCode (kept as `postmark_<code>`): 406 inactive recipient, 300 invalid request and
// the other 4xx answers are not retryable; 5xx and 429 are.
import type { ProviderFactory } from '../../provider.js';
import { formatAddress, type OutgoingEmail } from '../message.js';
import { answerError, configuredSender, httpEmailProvider, JSON_TYPE, schema, SENDER_PROPERTIES, sent, Settings, text } from './common.js';

const SECRETS = ['serverToken'];
const joined = (xs: string[]) => (xs.length ? xs.join(', ') : undefined);

export const postmark: ProviderFactory<OutgoingEmail> = {
  type: 'postmark',
  channel: 'email',
  configSchema: schema({
    serverToken: { type: 'string' },
    messageStream: { type: 'string', description: 'Message stream (default "outbound").' },
    ...SENDER_PROPERTIES,
  }, ['serverToken']),
  secrets: SECRETS,
  create(name, config) {
    const s = new Settings('postmark', name, config, { baseUrl: 'https://api.postmarkapp.com', secrets: SECRETS });
    const token = s.str('serverToken');
    const stream = s.opt('messageStream') ?? 'outbound';
    return httpEmailProvider(s, configuredSender(s), {
      request(m, from, ctx) {
        const body = {
          From: formatAddress(from),
          To: joined(m.to),
          Cc: joined(m.cc),
          Bcc: joined(m.bcc),
          ReplyTo: joined(m.replyTo),
          Subject: m.subject,
          HtmlBody: m.html,
          TextBody: m.text,
          MessageStream: stream,
          Headers: Object.entries(m.headers).map(([Name, Value]) => ({ Name, Value })),
          Attachments: m.attachments.map((a) => ({ Name: a.filename, Content: a.content.toString('base64'), ContentType: a.contentType })),
          Metadata: { fusion_job_id: ctx.jobId },
        };
        return {
          url: `${s.baseUrl}/email`,
          headers: { accept: JSON_TYPE, 'content-type': JSON_TYPE, 'x-postmark-server-token': token },
          body: JSON.stringify(body),
        };
      },
      errorCode: (a) => (text(a.json, 'ErrorCode') ? `postmark_${text(a.json, 'ErrorCode')}` : undefined),
      read(answer) {
        const code = text(answer.json, 'ErrorCode');
        if (code && code !== '0') throw answerError(s, answer, `postmark_${code}`, text(answer.json, 'Message') ?? 'refused');
        return sent(s, answer, text(answer.json, 'MessageID'));
      },
    });
  },
};
