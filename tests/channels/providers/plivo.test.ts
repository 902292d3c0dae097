import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plivo } from '../../../src/channels/sms/providers/plivo.js';
import { checkErrorAnswers, context, message, stage } from './stand-in.js';

const { server, dispatcher } = await stage();

const TOKEN = 'plivo-auth-token-secret';
const make = (over: Record<string, unknown> = {}) => plivo.create('plivo', { authId: 'MAXXXXXXXXXXXXXXXXXX', authToken: TOKEN, from: '14155551234', baseUrl: server.base, ...over });

test('plivo: the exact Message request; message_uuid[0] from the 202 answer', async () => {
  server.reply({ status: 202, body: { api_id: '9ab9e3b2-0000', message: 'message(s) queued', message_uuid: ['db3ce55a-7f1d-11e1-8ea7-1231380bc196'] } });
  const r = await make().send(message({ statusCallbackUrl: 'https://hub.example/dlr' }), context(dispatcher));
  assert.deepEqual([r.messageId, r.status], ['db3ce55a-7f1d-11e1-8ea7-1231380bc196', 'queued']);
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/v1/Account/MAXXXXXXXXXXXXXXXXXX/Message/');
  assert.equal(req.headers.authorization, `Basic ${Buffer.from(`MAXXXXXXXXXXXXXXXXXX:${TOKEN}`).toString('base64')}`);
  assert.deepEqual(req.json, { src: '14155551234', dst: '919876543210', text: 'Your code is 123456 & more', url: 'https://hub.example/dlr', method: 'POST' });
});

test('plivo: 429, 5xx, a refusal, a timeout', async () => {
  await checkErrorAnswers({ server, dispatcher, make, secrets: [TOKEN], refusal: { status: 400, body: { api_id: 'x', error: 'invalid destination number' }, code: 'http_400' } });
});
