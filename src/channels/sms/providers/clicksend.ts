// ClickSend: POST {base}/v3/sms/send, Basic auth username:apiKey, JSON { messages: [{ source, from, body, to }] }.
// Answer { http_code, response_code: "SUCCESS", data: { messages: [{ message_id, status }] } }; each
// message has its own status ("SUCCESS", "INVALID_RECIPIENT", ...). Errors carry response_code.
// Retryable message statuses: INSUFFICIENT_CREDIT (another provider can carry it); others are refusals.
import { adapter, answerError, basicAuth, JSON_TYPE, schema, sent, text } from './common.js';

const SECRETS = ['apiKey'];
const RETRYABLE = new Set(['INSUFFICIENT_CREDIT']);

export const clicksend = adapter({
  type: 'clicksend',
  configSchema: schema({ username: { type: 'string' }, apiKey: { type: 'string' }, sender: { type: 'string' } }, ['username', 'apiKey']),
  secrets: SECRETS,
  baseUrl: 'https://rest.clicksend.com',
  exchange(s) {
    const auth = basicAuth(s.str('username'), s.str('apiKey'));
    return {
      request: (m) => ({
        url: `${s.baseUrl}/v3/sms/send`,
        headers: { authorization: auth, 'content-type': JSON_TYPE },
        body: JSON.stringify({ messages: [{ source: 'fusion', from: s.sender(m), body: m.text, to: m.to }] }),
      }),
      errorCode: (a) => text(a.json, 'response_code'),
      read(a) {
        const status = text(a.json, 'data.messages.0.status') ?? text(a.json, 'response_code') ?? 'bad_answer';
        if (status !== 'SUCCESS') {
          throw answerError(s, a, status, text(a.json, 'response_msg') ?? 'message not accepted', RETRYABLE.has(status));
        }
        return sent(s, a, text(a.json, 'data.messages.0.message_id'));
      },
    };
  },
});
