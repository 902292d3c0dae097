// Plivo: POST {base}/v1/Account/{authId}/Message/, Basic auth authId:authToken, JSON { src, dst, text, url? }.
// Answer 202 { api_id, message, message_uuid: [...] }; errors { api_id, error } (no code: the HTTP status speaks).
import { adapter, basicAuth, digits, JSON_TYPE, schema, sent, text } from './common.js';

const SECRETS = ['authToken'];

export const plivo = adapter({
  type: 'plivo',
  configSchema: schema({ authId: { type: 'string' }, authToken: { type: 'string' }, from: { type: 'string' } }, ['authId', 'authToken']),
  secrets: SECRETS,
  baseUrl: 'https://api.plivo.com',
  exchange(s) {
    const authId = s.str('authId');
    const auth = basicAuth(authId, s.str('authToken'));
    return {
      request: (m) => ({
        url: `${s.baseUrl}/v1/Account/${encodeURIComponent(authId)}/Message/`,
        headers: { authorization: auth, 'content-type': JSON_TYPE },
        body: JSON.stringify({ src: s.sender(m, 'from'), dst: digits(m), text: m.text, ...(m.statusCallbackUrl ? { url: m.statusCallbackUrl, method: 'POST' } : {}) }),
      }),
      read: (a) => sent(s, a, text(a.json, 'message_uuid.0'), 'queued'),
    };
  },
});
