// Textlocal: POST {base}/send/ with form apikey, numbers, sender, message. Answers JSON
// { status: "success", messages: [{ id, recipient }] } or { status: "failure", errors: [{ code, message }] }.
// Retryable: code 7 (insufficient credits: another provider can carry it); other codes are refusals.
import type { ProviderFactory } from '../../provider.js';
import type { SmsMessage } from '../message.js';
import { digits, form, FORM, httpProvider, refusal, schema, sent, Settings, text } from './common.js';

const SECRETS = ['apiKey'];
const RETRYABLE = new Set(['7']);

export const textlocal: ProviderFactory<SmsMessage> = {
  type: 'textlocal',
  channel: 'sms',
  configSchema: schema({ apiKey: { type: 'string' }, sender: { type: 'string' } }, ['apiKey']),
  secrets: SECRETS,
  create(name, config) {
    // India's endpoint by default; UK accounts set baseUrl to the UK API.
    const s = new Settings('textlocal', name, config, { baseUrl: 'https://api.textlocal.in', secrets: SECRETS });
    const apiKey = s.str('apiKey');
    return httpProvider(s, {
      request: (m) => ({
        url: `${s.baseUrl}/send/`,
        headers: { 'content-type': FORM },
        body: form({ apikey: apiKey, numbers: digits(m), sender: s.sender(m), message: m.text }),
      }),
      errorCode: (a) => text(a.json, 'errors.0.code'),
      read(a) {
        if (text(a.json, 'status') !== 'success') {
          const code = text(a.json, 'errors.0.code') ?? 'bad_answer';
          throw refusal(s, code, text(a.json, 'errors.0.message') ?? 'unexpected answer', { retryable: RETRYABLE.has(code), raw: a.json ?? a.text, status: a.status });
        }
        return sent(s, a, text(a.json, 'messages.0.id') ?? text(a.json, 'batch_id'));
      },
    });
  },
};
