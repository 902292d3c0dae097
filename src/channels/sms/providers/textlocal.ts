// Textlocal: POST {base}/send/ with form apikey, numbers, sender, message. Answers JSON
// { status: "success", messages: [{ id, recipient }] } or { status: "failure", errors: [{ code, message }] }.
// Retryable: code 7 (insufficient credits: another provider can carry it); other codes are refusals.
import { adapter, answerError, digits, FORM, form, schema, sent, text } from './common.js';

const SECRETS = ['apiKey'];
const RETRYABLE = new Set(['7']);

export const textlocal = adapter({
  type: 'textlocal',
  configSchema: schema({ apiKey: { type: 'string' }, sender: { type: 'string' } }, ['apiKey']),
  secrets: SECRETS,
  baseUrl: 'https://api.textlocal.in',
  exchange(s) {
    // India's endpoint by default; UK accounts set baseUrl to the UK API.
    const apiKey = s.str('apiKey');
    return {
      request: (m) => ({
        url: `${s.baseUrl}/send/`,
        headers: { 'content-type': FORM },
        body: form({ apikey: apiKey, numbers: digits(m), sender: s.sender(m), message: m.text }),
      }),
      errorCode: (a) => text(a.json, 'errors.0.code'),
      read(a) {
        if (text(a.json, 'status') !== 'success') {
          const code = text(a.json, 'errors.0.code') ?? 'bad_answer';
          throw answerError(s, a, code, text(a.json, 'errors.0.message') ?? 'unexpected answer', RETRYABLE.has(code));
        }
        return sent(s, a, text(a.json, 'messages.0.id') ?? text(a.json, 'batch_id'));
      },
    };
  },
});
