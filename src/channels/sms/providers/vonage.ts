// Vonage SMS API: POST {base}/sms/json with form api_key, api_secret, from, to (no +), text
// (type=unicode when the text is not plain ASCII). Answer { "message-count", messages: [{ status,
// "message-id", "error-text" }] }: status "0" is success; "1" throttled, "5" internal error and "9"
// partner quota exceeded are retryable (the last can be carried by another provider); others refusals.
import type { ProviderFactory } from '../../provider.js';
import type { SmsMessage } from '../message.js';
import { digits, form, FORM, httpProvider, refusal, schema, sent, Settings, text } from './common.js';

const SECRETS = ['apiSecret'];
const RETRYABLE = new Set(['1', '5', '9']);

export const vonage: ProviderFactory<SmsMessage> = {
  type: 'vonage',
  channel: 'sms',
  configSchema: schema({ apiKey: { type: 'string' }, apiSecret: { type: 'string' }, from: { type: 'string' } }, ['apiKey', 'apiSecret']),
  secrets: SECRETS,
  create(name, config) {
    const s = new Settings('vonage', name, config, { baseUrl: 'https://rest.nexmo.com', secrets: SECRETS });
    const apiKey = s.str('apiKey');
    const apiSecret = s.str('apiSecret');
    return httpProvider(s, {
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
          throw refusal(s, status, text(a.json, 'messages.0.error-text') ?? 'message not accepted', { retryable: RETRYABLE.has(status), raw: a.json ?? a.text, status: a.status });
        }
        return sent(s, a, text(a.json, 'messages.0.message-id'));
      },
    });
  },
};
