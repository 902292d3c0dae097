// Vonage SMS API: POST {base}/sms/json with form api_key, api_secret, from, to (no +), text
// (type=unicode when the text is not plain ASCII). Answer { "message-count", messages: [{ status,
// "message-id", "error-text" }] }: status "0" is success; "1" throttled, "5" internal error and "9"
// partner quota exceeded are retryable (the last can be carried by another provider); others refusals.
import { adapter, answerError, digits, FORM, form, schema, sent, text } from './common.js';

const SECRETS = ['apiSecret'];
const RETRYABLE = new Set(['1', '5', '9']);

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
      read(a) {
        const status = text(a.json, 'messages.0.status') ?? 'bad_answer';
        if (status !== '0') {
          throw answerError(s, a, status, text(a.json, 'messages.0.error-text') ?? 'message not accepted', RETRYABLE.has(status));
        }
        return sent(s, a, text(a.json, 'messages.0.message-id'));
      },
    };
  },
});
