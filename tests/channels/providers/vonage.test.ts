import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vonage } from '../../../src/channels/sms/providers/vonage.js';
import { checkErrorAnswers, context, message, sendError, stage } from './stand-in.js';

const { server, dispatcher } = await stage();

const SECRET = 'vonage-api-secret';
const make = (over: Record<string, unknown> = {}) => vonage.create('vonage', { apiKey: 'abcd1234', apiSecret: SECRET, from: 'Fusion', baseUrl: server.base, ...over });

test('vonage: the exact sms/json request; message-id from the answer', async () => {
  server.reply({ body: { 'message-count': '1', messages: [{ to: '919876543210', 'message-id': '0A0000000123ABCD1', status: '0', 'remaining-balance': '3.14', network: '40410' }] } });
  const r = await make().send(message(), context(dispatcher));
  assert.deepEqual([r.messageId, r.status], ['0A0000000123ABCD1', 'sent']);
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/sms/json');
  assert.deepEqual(Object.fromEntries(req.form), { api_key: 'abcd1234', api_secret: SECRET, from: 'Fusion', to: '919876543210', text: 'Your code is 123456 & more' });
  server.reply({ body: { 'message-count': '1', messages: [{ 'message-id': 'u1', status: '0' }] } });
  await make().send(message({ text: 'नमस्ते' }), context(dispatcher));
  assert.equal(server.requests.at(-1)!.form.get('type'), 'unicode');
});

test('vonage: status 1 (throttled) is retryable, other statuses refusals with error-text', async () => {
  server.reply({ body: { 'message-count': '1', messages: [{ status: '1', 'error-text': 'Throughput Rate Exceeded' }] } });
  const t = await sendError(make(), message(), context(dispatcher));
  assert.deepEqual([t.code, t.retryable], ['1', true]);
  server.reply({ body: { 'message-count': '1', messages: [{ status: '4', 'error-text': 'Bad Credentials' }] } });
  const c = await sendError(make(), message(), context(dispatcher));
  assert.deepEqual([c.code, c.retryable], ['4', false]);
  assert.match(c.message, /Bad Credentials/);
});

test('vonage: a long text in parts: sent when every part is; a part refused after one sent is a partial send, not retried, each part said; none sent: classified by the first', async () => {
  const long = message({ text: 'x'.repeat(200) });
  const ok = { to: '919876543210', 'message-id': '0A00000001', status: '0', 'remaining-balance': '3.10', 'message-price': '0.04', network: '40410' };
  server.reply({ body: { 'message-count': '2', messages: [ok, { ...ok, 'message-id': '0A00000002' }] } });
  const r = await make().send(long, context(dispatcher));
  assert.deepEqual([r.messageId, r.status], ['0A00000001', 'sent']);

  server.reply({ body: { 'message-count': '2', messages: [ok, { status: '1', 'error-text': 'Throughput Rate Exceeded - please wait [ 10 ] and retry' }] } });
  const partial = await sendError(make(), long, context(dispatcher));
  assert.deepEqual([partial.code, partial.retryable], ['partial_send', false]);
  assert.match(partial.message, /1 of 2 parts sent, not retried .*: part 1 sent \(0A00000001\), part 2 refused 1 \(Throughput Rate Exceeded - please wait \[ 10 \] and retry\)/);
  assert.deepEqual((partial.raw as { messages: unknown[] }).messages.length, 2);

  server.reply({ body: { 'message-count': '2', messages: [{ status: '1', 'error-text': 'Throughput Rate Exceeded' }, { status: '1', 'error-text': 'Throughput Rate Exceeded' }] } });
  const none = await sendError(make(), long, context(dispatcher));
  assert.deepEqual([none.code, none.retryable], ['1', true]);
});

test('vonage: 429, 5xx, a refusal with its code, a timeout', async () => {
  await checkErrorAnswers({ server, dispatcher, make, secrets: [SECRET], refusal: { status: 200, body: { 'message-count': '1', messages: [{ status: '3', 'error-text': 'Invalid to parameter' }] }, code: '3' } });
});
