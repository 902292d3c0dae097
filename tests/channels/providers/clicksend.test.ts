import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clicksend } from '../../../src/channels/sms/providers/clicksend.js';
import { checkErrorAnswers, context, message, sendError, stage } from './stand-in.js';

const { server, dispatcher } = await stage();

const KEY = 'clicksend-api-key-secret';
const make = (over: Record<string, unknown> = {}) => clicksend.create('clicksend-au', { username: 'ops@crelio', apiKey: KEY, sender: 'Crelio', baseUrl: server.base, ...over });
const au = message({ to: '+61411111111', callingCode: '61', nationalNumber: '411111111' });

test('clicksend: the exact sms/send request; message_id and per-message status', async () => {
  server.reply({ body: { http_code: 200, response_code: 'SUCCESS', response_msg: 'Messages queued for delivery.', data: { messages: [{ message_id: 'BF7AD270-0DE2-418B-B606-71D527D9C1AE', status: 'SUCCESS', to: '+61411111111' }] } } });
  const r = await make().send(au, context(dispatcher));
  assert.deepEqual([r.messageId, r.status], ['BF7AD270-0DE2-418B-B606-71D527D9C1AE', 'sent']);
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/v3/sms/send');
  assert.equal(req.headers.authorization, `Basic ${Buffer.from(`ops@crelio:${KEY}`).toString('base64')}`);
  assert.deepEqual(req.json, { messages: [{ source: 'fusion', from: 'Crelio', body: 'Your code is 123456 & more', to: '+61411111111' }] });
});

test('clicksend: a per-message status other than SUCCESS is a refusal with that code', async () => {
  server.reply({ body: { http_code: 200, response_code: 'SUCCESS', data: { messages: [{ message_id: 'x', status: 'INVALID_RECIPIENT' }] } } });
  const e = await sendError(make(), au, context(dispatcher));
  assert.deepEqual([e.code, e.retryable], ['INVALID_RECIPIENT', false]);
});

test('clicksend: 429, 5xx, a refusal with its code, a timeout', async () => {
  await checkErrorAnswers({ server, dispatcher, make, message: au, secrets: [KEY], refusal: { status: 401, body: { http_code: 401, response_code: 'UNAUTHORIZED', response_msg: 'Invalid credentials' }, code: 'UNAUTHORIZED' } });
});
