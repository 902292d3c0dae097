// Sinch SMS (XMS REST API): POST {base}/xms/v1/{servicePlanId}/batches, Authorization: Bearer <apiToken>,
// JSON { from, to: [...], body }. Answer 201 { id, ... }; errors { code, text }. The base is regional
// (us. / eu. / au. ...sms.api.sinch.com); the US one by default.
import { adapter, JSON_TYPE, schema, sent, text } from './common.js';

const SECRETS = ['apiToken'];

export const sinch = adapter({
  type: 'sinch',
  configSchema: schema({ servicePlanId: { type: 'string' }, apiToken: { type: 'string' }, from: { type: 'string' } }, ['servicePlanId', 'apiToken']),
  secrets: SECRETS,
  baseUrl: 'https://us.sms.api.sinch.com',
  exchange(s) {
    const plan = s.str('servicePlanId');
    const auth = `Bearer ${s.str('apiToken')}`;
    return {
      request: (m) => ({
        url: `${s.baseUrl}/xms/v1/${encodeURIComponent(plan)}/batches`,
        headers: { authorization: auth, 'content-type': JSON_TYPE },
        body: JSON.stringify({
          from: s.sender(m, 'from'),
          to: [m.to],
          body: m.text,
          ...(m.statusCallbackUrl ? { delivery_report: 'per_recipient', callback_url: m.statusCallbackUrl } : {}),
        }),
      }),
      errorCode: (a) => text(a.json, 'code'),
      read: (a) => sent(s, a, text(a.json, 'id'), 'queued'),
    };
  },
});
