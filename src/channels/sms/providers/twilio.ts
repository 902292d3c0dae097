// Twilio Programmable Messaging: POST /2010-04-01/Accounts/{AccountSid}/Messages.json, Basic auth
// AccountSid:AuthToken, form To, From | MessagingServiceSid, Body, StatusCallback (the payload's, else
// the configured `statusCallback`: with a From number Twilio calls back only that URL). Answers JSON
// { sid, status }; errors { code, message, more_info, status }: classified by status, but for the
// codes Twilio answers 400 for a passing state (a sender's queue full, rate limits), retryable so
// the route fails over. Status callbacks are form posts signed with X-Twilio-Signature =
// base64(HMAC-SHA1(authToken, url + sorted param names and values)).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ProviderError, type DeliveryReport, type DeliveryStatus, type InboundRequest } from '../../provider.js';
import { httpFailure, retryAfterMs, type HttpAnswer } from '../../http/answer.js';
import { adapter, basicAuth, FORM, form, refusal, schema, sent, text } from './common.js';

const SECRETS = ['authToken'];

/**
 * Codes Twilio may answer with a 400 that refuse nothing for good: 21611, the From number's queue of
 * messages is full (over 10 hours of backlog: another sender may go now); 20429, too many requests.
 */
const TRANSIENT_CODES = new Set(['21611', '20429']);

/** A failed Messages request (SMS and WhatsApp alike), Twilio's code kept. */
export function twilioFailure(answer: HttpAnswer, label: string, now: number): ProviderError {
  const code = text(answer.json, 'code');
  const e = httpFailure(answer, label, now, code);
  if (e.retryable || !code || !TRANSIENT_CODES.has(code)) return e;
  return new ProviderError(e.message, { code: e.code, retryable: true, status: e.status, raw: e.raw, retryAfterMs: retryAfterMs(answer.headers['retry-after'], now) });
}

/** Twilio's message statuses in ours. */
function statusOf(s: string | undefined): DeliveryStatus {
  switch (s) {
    case 'delivered':
    case 'read':
      return 'delivered';
    case 'undelivered':
      return 'undelivered';
    case 'failed':
    case 'canceled':
      return 'failed';
    case 'sent':
    case 'sending':
      return 'sent';
    default: // accepted, scheduled, queued
      return 'queued';
  }
}

/** Twilio's documented signature: HMAC-SHA1 over the URL followed by each POST param (sorted) name+value. */
export function twilioSignature(authToken: string, url: string, params: URLSearchParams): string {
  const pairs = [...params.entries()].sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  const data = url + pairs.map(([k, v]) => k + v).join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

function header(req: InboundRequest, name: string): string | undefined {
  const key = Object.keys(req.headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : req.headers[key];
}

export const twilio = adapter({
  type: 'twilio',
  configSchema: schema(
    {
      accountSid: { type: 'string' },
      authToken: { type: 'string' },
      from: { type: 'string', description: 'Default sender number or alphanumeric id.' },
      messagingServiceSid: { type: 'string', description: 'Send through a Messaging Service instead of a From number.' },
      statusCallback: { type: 'string', description: 'URL Twilio posts status callbacks to (this provider\'s /v1/providers/sms/<name>/reports) when the payload gives none.' },
    },
    ['accountSid', 'authToken'],
  ),
  secrets: SECRETS,
  baseUrl: 'https://api.twilio.com',
  exchange(s) {
    const accountSid = s.str('accountSid');
    const authToken = s.str('authToken');
    const service = s.opt('messagingServiceSid');
    const callback = s.opt('statusCallback');
    return {
      request(m) {
        const from = s.sender(m, 'from');
        if (!from && !service) throw refusal(s, 'missing_sender', 'no sender: set "from" or "messagingServiceSid" in config, or senderId in the payload');
        return {
          url: `${s.baseUrl}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`,
          headers: { authorization: basicAuth(accountSid, authToken), 'content-type': FORM },
          body: form({
            To: m.to,
            ...(from ? { From: from } : { MessagingServiceSid: service }),
            Body: m.text,
            StatusCallback: m.statusCallbackUrl ?? callback,
          }),
        };
      },
      failure: (a, ctx) => twilioFailure(a, s.label, ctx.now()),
      read: (a) => sent(s, a, text(a.json, 'sid'), statusOf(text(a.json, 'status'))),
      deliveryReports(req) {
        const params = new URLSearchParams(req.rawBody);
        const given = header(req, 'x-twilio-signature');
        const want = twilioSignature(authToken, req.url, params);
        if (!given || given.length !== want.length || !timingSafeEqual(Buffer.from(given), Buffer.from(want))) {
          throw refusal(s, 'bad_signature', given ? 'the status callback signature does not verify' : 'the status callback is not signed');
        }
        const sid = params.get('MessageSid') ?? params.get('SmsSid');
        const status = params.get('MessageStatus') ?? params.get('SmsStatus');
        if (!sid || !status) return [];
        const report: DeliveryReport = { messageId: sid, status: statusOf(status), providerStatus: status };
        const code = params.get('ErrorCode');
        if (code) report.errorCode = code;
        return [report];
      },
    };
  },
});
