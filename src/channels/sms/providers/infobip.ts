// Infobip: POST {base}/sms/2/text/advanced, header Authorization: App <apiKey>, JSON
// { messages: [{ destinations: [{ to }], from, text, notifyUrl? }] }. Answer { bulkId, messages:
// [{ messageId, status: { groupName, name } }] }: groupName REJECTED is a refusal (code: status name).
// Errors: { requestError: { serviceException: { messageId, text } } }. Each account has its own base URL.
import type { ProviderFactory } from '../../provider.js';
import type { SmsMessage } from '../message.js';
import { digits, httpProvider, JSON_TYPE, refusal, schema, sent, Settings, text } from './common.js';

const SECRETS = ['apiKey'];

export const infobip: ProviderFactory<SmsMessage> = {
  type: 'infobip',
  channel: 'sms',
  configSchema: schema({ apiKey: { type: 'string' }, from: { type: 'string' } }, ['apiKey']),
  secrets: SECRETS,
  create(name, config) {
    const s = new Settings('infobip', name, config, { baseUrl: 'https://api.infobip.com', secrets: SECRETS });
    const auth = `App ${s.str('apiKey')}`;
    return httpProvider(s, {
      request: (m) => ({
        url: `${s.baseUrl}/sms/2/text/advanced`,
        headers: { authorization: auth, 'content-type': JSON_TYPE, accept: JSON_TYPE },
        body: JSON.stringify({
          messages: [{ destinations: [{ to: digits(m) }], from: s.sender(m, 'from'), text: m.text, ...(m.statusCallbackUrl ? { notifyUrl: m.statusCallbackUrl } : {}) }],
        }),
      }),
      errorCode: (a) => text(a.json, 'requestError.serviceException.messageId'),
      read(a) {
        const group = text(a.json, 'messages.0.status.groupName');
        if (group === 'REJECTED') {
          throw refusal(s, text(a.json, 'messages.0.status.name') ?? 'REJECTED', text(a.json, 'messages.0.status.description') ?? 'message rejected', { raw: a.json, status: a.status });
        }
        return sent(s, a, text(a.json, 'messages.0.messageId'), group === 'DELIVERED' ? 'delivered' : group === 'PENDING' ? 'queued' : 'sent');
      },
    });
  },
};
