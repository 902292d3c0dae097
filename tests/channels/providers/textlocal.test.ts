import { test } from 'node:test';
import assert from 'node:assert/strict';
import { textlocal } from '../../../src/channels/sms/providers/textlocal.js';
import { checkErrorAnswers, context, message, sendError, stage } from './stand-in.js';

const { server, dispatcher } = await stage();

const KEY = 'textlocal-api-key-secret=+/';
const make = (over: Record<string, unknown> = {}) => textlocal.create('textlocal-in', { apiKey: KEY, sender: 'TXTLCL', baseUrl: server.base, ...over });

test('textlocal: the exact send request; the message id from messages[0].id', async () => {
  server.reply({ body: { balance: 1162, batch_id: 123456789, cost: 1, num_messages: 1, messages: [{ id: '1151346216', recipient: 919876543210 }], status: 'success' } });
  const r = await make().send(message(), context(dispatcher));
  assert.deepEqual([r.messageId, r.status], ['1151346216', 'sent']);
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/send/');
  assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.deepEqual(Object.fromEntries(req.form), { apikey: KEY, numbers: '919876543210', sender: 'TXTLCL', message: 'Your code is 123456 & more' });
});

test('textlocal: status failure with its error code', async () => {
  server.reply({ body: { errors: [{ code: 43, message: 'Invalid sender name' }], status: 'failure' } });
  const e = await sendError(make(), message(), context(dispatcher));
  assert.deepEqual([e.code, e.retryable], ['43', false]);
  server.reply({ body: { errors: [{ code: 7, message: 'Insufficient credits' }], status: 'failure' } });
  const credits = await sendError(make(), message(), context(dispatcher));
  assert.deepEqual([credits.code, credits.retryable], ['7', true]);
});

test('textlocal: 429, 5xx, a refusal with its code, a timeout', async () => {
  await checkErrorAnswers({ server, dispatcher, make, secrets: [KEY], refusal: { status: 401, body: { errors: [{ code: 3, message: 'Invalid login details' }], status: 'failure' }, code: '3' } });
});
