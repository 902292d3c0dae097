// Vonage SMS API: POST {base}/sms/json with form api_key, api_secret, from, to (no +), text
// (type=unicode when the text is not plain ASCII). Answer { "message-count", messages: [{ status,
// "message-id", "error-text" }] }, one entry per part of a long text: status "0" is success; "1"
// throttled, "5" internal error and "9" partner quota exceeded are retryable (the last can be
// carried by another provider); others refusals. Every part is read: when some were sent and others
// not, the send is refused for good (`partial_send`, each part's status and id in the error), since
// a retry would send, and bill, the sent parts again.
import type { HttpAnswer } from '../../http/answer.js';
import { adapter, answerError, digits, FORM, form, pick, schema, sent, text, type Settings } from './common.js';

const SECRETS = ['apiSecret'];
const RETRYABLE = new Set(['1', '5', '9']);

/** The answer of a text in one or more parts: sent when every part was. */
function readParts(s: Settings, a: HttpAnswer) {
  const parts = pick(a.json, 'messages');
  const n = Array.isArray(parts) && parts.length > 0 ? parts.length : 1;
  const at = (i: number, field: string) => text(a.json, `messages.${i}.${field}`);
  const statuses = Array.from({ length: n }, (_, i) => at(i, 'status') ?? 'bad_answer');
  const failed = statuses.findIndex((st) => st !== '0');
  if (failed < 0) return sent(s, a, at(0, 'message-id'));
  const why = (i: number) => at(i, 'error-text') ?? 'message not accepted';
  if (!statuses.includes('0')) throw answerError(s, a, statuses[failed]!, why(failed), RETRYABLE.has(statuses[failed]!));
  const each = statuses.map((st, i) => `part ${i + 1} ${st === '0' ? `sent (${at(i, 'message-id') ?? 'no id'})` : `refused ${st} (${why(i)})`}`);
  throw answerError(s, a, 'partial_send', `${statuses.filter((st) => st === '0').length} of ${n} parts sent, not retried (a retry would send and bill the sent parts again): ${each.join(', ')}`);
}

export const vonage = adapter({
  type: 'vonage',
  configSchema: schema({ apiKey: { type: 'string' }, apiSecret: { type: 'string' }, from: { type: 'string' } }, ['apiKey', 'apiSecret']),
  secrets: SECRETS,
  baseUrl: 'https://rest.nexmo.com',
  exchange(s) {
    const apiKey = s.str('apiKey');
    const apiSecret = s.str('apiSecret');
    return {
      request: (m) => ({
        url: `${s.baseUrl}/sms/json`,
        headers: { 'content-type': FORM },
        body: form({
          api_key: apiKey,
          api_secret: apiSecret,
          from: s.sender(m, 'from'),
          to: digits(m),
          text: m.text,
          type: /[^\x00-\x7f]/.test(m.text) ? 'unicode' : undefined,
          'status-report-req': m.statusCallbackUrl ? '1' : undefined,
          callback: m.statusCallbackUrl,
        }),
      }),
      read: (a) => readParts(s, a),
    };
  },
});
