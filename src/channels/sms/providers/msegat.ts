// Msegat (Saudi Arabia): POST /gw/sendsms.php with JSON { userName, numbers, userSender, apiKey, msg }.
// The answer is HTTP 200 with { code, message }: "1" or "M0000" is success, any other code an error.
// Msegat gives no message id, so ours is made from the job and attempt.
//
// Retryable codes (worth another try, on the next provider of the route): "1060" balance is not enough
// (another provider or a top-up can carry it) and "1110" undefined error (a fault on their side).
// Every other code (bad login M0002/1020, sender not approved 1030/M0023, bad number 1120, empty or
// too long message 1050/1140, duplicate 1061, ...) is a refusal that the same message would meet again.
import type { ProviderFactory } from '../../provider.js';
import type { SmsMessage } from '../message.js';
import { digits, httpProvider, JSON_TYPE, refusal, schema, sent, Settings, text } from './common.js';

const SECRETS = ['apiKey'];
const OK = new Set(['1', 'M0000']);
const RETRYABLE = new Set(['1060', '1110']);

export const msegat: ProviderFactory<SmsMessage> = {
  type: 'msegat',
  channel: 'sms',
  configSchema: schema(
    { userName: { type: 'string' }, apiKey: { type: 'string' }, sender: { type: 'string', description: 'Default userSender (an approved sender name).' } },
    ['userName', 'apiKey'],
  ),
  secrets: SECRETS,
  create(name, config) {
    const s = new Settings('msegat', name, config, { baseUrl: 'https://www.msegat.com', secrets: SECRETS });
    const userName = s.str('userName');
    const apiKey = s.str('apiKey');
    return httpProvider(s, {
      request: (m) => ({
        url: `${s.baseUrl}/gw/sendsms.php`,
        headers: { 'content-type': JSON_TYPE },
        body: JSON.stringify({ userName, numbers: digits(m), userSender: s.sender(m), apiKey, msg: m.text, msgEncoding: 'UTF8' }),
      }),
      errorCode: (a) => text(a.json, 'code'),
      read(a, _m, ctx) {
        const code = text(a.json, 'code');
        if (code === undefined || !OK.has(code)) {
          throw refusal(s, code ?? 'bad_answer', text(a.json, 'message') ?? 'unexpected answer', { retryable: code !== undefined && RETRYABLE.has(code), raw: a.json ?? a.text, status: a.status });
        }
        return sent(s, a, text(a.json, 'id') ?? `msegat:${ctx.jobId}:${ctx.attempt}`);
      },
    });
  },
};
