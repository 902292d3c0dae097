// Msegat (Saudi Arabia): POST /gw/sendsms.php with JSON { userName, numbers, userSender, apiKey, msg }.
// The answer is HTTP 200 with { code, message }: "1" or "M0000" is success, any other code an error.
// Msegat gives no message id, so ours is made from the job and attempt.
//
// Retryable codes (worth another try, on the next provider of the route): "1060" balance is not enough
// (another provider or a top-up can carry it) and "1110" undefined error (a fault on their side).
// Every other code (bad login M0002/1020, sender not approved 1030/M0023, bad number 1120, empty or
// too long message 1050/1140, duplicate 1061, ...) is a refusal that the same message would meet again.
import { adapter, answerError, digits, JSON_TYPE, schema, sent, text } from './common.js';

const SECRETS = ['apiKey'];
const OK = new Set(['1', 'M0000']);
const RETRYABLE = new Set(['1060', '1110']);

export const msegat = adapter({
  type: 'msegat',
  configSchema: schema(
    { userName: { type: 'string' }, apiKey: { type: 'string' }, sender: { type: 'string', description: 'Default userSender (an approved sender name).' } },
    ['userName', 'apiKey'],
  ),
  secrets: SECRETS,
  baseUrl: 'https://www.msegat.com',
  exchange(s) {
    const userName = s.str('userName');
    const apiKey = s.str('apiKey');
    return {
      request: (m) => ({
        url: `${s.baseUrl}/gw/sendsms.php`,
        headers: { 'content-type': JSON_TYPE },
        body: JSON.stringify({ userName, numbers: digits(m), userSender: s.sender(m), apiKey, msg: m.text, msgEncoding: 'UTF8' }),
      }),
      errorCode: (a) => text(a.json, 'code'),
      read(a, _m, ctx) {
        const code = text(a.json, 'code');
        if (code === undefined || !OK.has(code)) {
          throw answerError(s, a, code ?? 'bad_answer', text(a.json, 'message') ?? 'unexpected answer', code !== undefined && RETRYABLE.has(code));
        }
        return sent(s, a, text(a.json, 'id') ?? `msegat:${ctx.jobId}:${ctx.attempt}`);
      },
    };
  },
});
