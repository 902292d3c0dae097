// Sinch SMS (XMS REST API): POST {base}/xms/v1/{servicePlanId}/batches, Authorization: Bearer <apiToken>,
// JSON { from, to: [...], body }. Answer 201 { id, ... }; errors { code, text }. The base is regional
// (us. / eu. / au. ...sms.api.sinch.com); the US one by default.
import type { ProviderFactory } from '../../provider.js';
import type { SmsMessage } from '../message.js';
import { httpProvider, JSON_TYPE, schema, sent, Settings, text } from './common.js';

const SECRETS = ['apiToken'];

export const sinch: ProviderFactory<SmsMessage> = {
  type: 'sinch',
  channel: 'sms',
  configSchema: schema({ servicePlanId: { type: 'string' }, apiToken: { type: 'string' }, from: { type: 'string' } }, ['servicePlanId', 'apiToken']),
  secrets: SECRETS,
  create(name, config) {
    const s = new Settings('sinch', name, config, { baseUrl: 'https://us.sms.api.sinch.com', secrets: SECRETS });
    const plan = s.str('servicePlanId');
    const auth = `Bearer ${s.str('apiToken')}`;
    return httpProvider(s, {
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
    });
  },
};
