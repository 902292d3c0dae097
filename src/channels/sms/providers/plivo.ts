// Plivo: POST {base}/v1/Account/{authId}/Message/, Basic auth authId:authToken, JSON { src, dst, text, url? }.
// Answer 202 { api_id, message, message_uuid: [...] }; errors { api_id, error } (no code: the HTTP status speaks).
import type { ProviderFactory } from '../../provider.js';
import type { SmsMessage } from '../message.js';
import { basicAuth, digits, httpProvider, JSON_TYPE, schema, sent, Settings, text } from './common.js';

const SECRETS = ['authToken'];

export const plivo: ProviderFactory<SmsMessage> = {
  type: 'plivo',
  channel: 'sms',
  configSchema: schema({ authId: { type: 'string' }, authToken: { type: 'string' }, from: { type: 'string' } }, ['authId', 'authToken']),
  secrets: SECRETS,
  create(name, config) {
    const s = new Settings('plivo', name, config, { baseUrl: 'https://api.plivo.com', secrets: SECRETS });
    const authId = s.str('authId');
    const auth = basicAuth(authId, s.str('authToken'));
    return httpProvider(s, {
      request: (m) => ({
        url: `${s.baseUrl}/v1/Account/${encodeURIComponent(authId)}/Message/`,
        headers: { authorization: auth, 'content-type': JSON_TYPE },
        body: JSON.stringify({ src: s.sender(m, 'from'), dst: digits(m), text: m.text, ...(m.statusCallbackUrl ? { url: m.statusCallbackUrl, method: 'POST' } : {}) }),
      }),
      read: (a) => sent(s, a, text(a.json, 'message_uuid.0'), 'queued'),
    });
  },
};
