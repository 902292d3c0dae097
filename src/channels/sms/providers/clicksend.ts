// ClickSend: POST {base}/v3/sms/send, Basic auth username:apiKey, JSON { messages: [{ source, from, body, to }] }.
// Answer { http_code, response_code: "SUCCESS", data: { messages: [{ message_id, status }] } }; each
// message has its own status ("SUCCESS", "INVALID_RECIPIENT", ...). Errors carry response_code.
// Retryable message statuses: INSUFFICIENT_CREDIT (another provider can carry it); others are refusals.
import type { ProviderFactory } from '../../provider.js';
import type { SmsMessage } from '../message.js';
import { basicAuth, httpProvider, JSON_TYPE, refusal, schema, sent, Settings, text } from './common.js';

const SECRETS = ['apiKey'];
const RETRYABLE = new Set(['INSUFFICIENT_CREDIT']);

export const clicksend: ProviderFactory<SmsMessage> = {
  type: 'clicksend',
  channel: 'sms',
  configSchema: schema({ username: { type: 'string' }, apiKey: { type: 'string' }, sender: { type: 'string' } }, ['username', 'apiKey']),
  secrets: SECRETS,
  create(name, config) {
    const s = new Settings('clicksend', name, config, { baseUrl: 'https://rest.clicksend.com', secrets: SECRETS });
    const auth = basicAuth(s.str('username'), s.str('apiKey'));
    return httpProvider(s, {
      request: (m) => ({
        url: `${s.baseUrl}/v3/sms/send`,
        headers: { authorization: auth, 'content-type': JSON_TYPE },
        body: JSON.stringify({ messages: [{ source: 'fusion', from: s.sender(m), body: m.text, to: m.to }] }),
      }),
      errorCode: (a) => text(a.json, 'response_code'),
      read(a) {
        const status = text(a.json, 'data.messages.0.status') ?? text(a.json, 'response_code') ?? 'bad_answer';
        if (status !== 'SUCCESS') {
          throw refusal(s, status, text(a.json, 'response_msg') ?? 'message not accepted', { retryable: RETRYABLE.has(status), raw: a.json ?? a.text, status: a.status });
        }
        return sent(s, a, text(a.json, 'data.messages.0.message_id'));
      },
    });
  },
};
