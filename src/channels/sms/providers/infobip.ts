// Infobip: POST {base}/sms/2/text/advanced, header Authorization: App <apiKey>, JSON
// { messages: [{ destinations: [{ to }], from, text, notifyUrl? }] }. Answer { bulkId, messages:
// [{ messageId, status: { groupName, name } }] }: groupName REJECTED is a refusal (code: status name).
// Errors: { requestError: { serviceException: { messageId, text } } }. Each account has its own base URL.
import { adapter, answerError, digits, JSON_TYPE, schema, sent, text } from './common.js';

const SECRETS = ['apiKey'];

export const infobip = adapter({
  type: 'infobip',
  configSchema: schema({ apiKey: { type: 'string' }, from: { type: 'string' } }, ['apiKey']),
  secrets: SECRETS,
  baseUrl: 'https://api.infobip.com',
  exchange(s) {
    const auth = `App ${s.str('apiKey')}`;
    return {
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
          throw answerError(s, a, text(a.json, 'messages.0.status.name') ?? 'REJECTED', text(a.json, 'messages.0.status.description') ?? 'message rejected');
        }
        return sent(s, a, text(a.json, 'messages.0.messageId'), group === 'DELIVERED' ? 'delivered' : group === 'PENDING' ? 'queued' : 'sent');
      },
    };
  },
});
