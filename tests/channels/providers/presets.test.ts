// Each preset of the generic HTTP provider against a stand-in of its gateway: the exact request and the
// success answer as the gateway documents them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { http } from '../../../src/channels/sms/providers/http.js';
import { SMS_PRESETS } from '../../../src/channels/sms/providers/presets.js';
import { context, message, sendError, stage } from './stand-in.js';

const { server, dispatcher } = await stage();

const preset = (name: string, config: Record<string, unknown>) => http.create(name, { preset: name, baseUrl: server.base, ...config });
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

test('presets: at least five, each with its real API base', () => {
  assert.ok(Object.keys(SMS_PRESETS).length >= 5);
  for (const [name, p] of Object.entries(SMS_PRESETS)) assert.match(p.baseUrl, /^https:\/\//, name);
});

test('preset fast2sms: bulkV2 with the authorization header; request_id', async () => {
  server.reply({ body: { return: true, request_id: 'lwdtp7cjyqxvfe9', message: ['SMS sent successfully.'] } });
  const r = await preset('fast2sms', { apiKey: 'f2s-key' }).send(message(), context(dispatcher));
  assert.equal(r.messageId, 'lwdtp7cjyqxvfe9');
  const req = server.requests.at(-1)!;
  assert.deepEqual([req.method, req.url, req.headers.authorization], ['POST', '/dev/bulkV2', 'f2s-key']);
  assert.deepEqual(req.json, { route: 'q', message: 'Your code is 123456 & more', language: 'english', flash: 0, numbers: '9876543210' });
  server.reply({ status: 401, body: { return: false, status_code: 412, message: 'Invalid Authentication, Check Authorization Key' } });
  const e = await sendError(preset('fast2sms', { apiKey: 'f2s-key' }), message(), context(dispatcher));
  assert.deepEqual([e.code, e.retryable], ['412', false]);
});

test('preset gupshup: SendMessage form; response.id', async () => {
  server.reply({ body: { response: { id: '3712984392876873456', phone: '919876543210', details: '', status: 'success' } } });
  const r = await preset('gupshup', { username: '2000123456', password: 'gs-pass', sender: 'CRELIO' }).send(message({ templateId: '1107161234567890' }), context(dispatcher));
  assert.equal(r.messageId, '3712984392876873456');
  const req = server.requests.at(-1)!;
  assert.deepEqual([req.method, req.path], ['POST', '/GatewayAPI/rest']);
  assert.deepEqual(Object.fromEntries(req.form), {
    method: 'SendMessage',
    send_to: '919876543210',
    msg: 'Your code is 123456 & more',
    msg_type: 'TEXT',
    userid: '2000123456',
    auth_scheme: 'plain',
    password: 'gs-pass',
    v: '1.1',
    format: 'json',
    mask: 'CRELIO',
    dltTemplateId: '1107161234567890',
  });
  server.reply({ body: { response: { id: '175', phone: '', details: 'The phone number is not valid', status: 'error' } } });
  const e = await sendError(preset('gupshup', { username: 'u', password: 'gs-pass' }), message(), context(dispatcher));
  assert.deepEqual([e.code, e.retryable], ['175', false]);
  assert.ok(!e.message.includes('gs-pass'));
});

test('preset kaleyra: v1 messages with the api-key header; data[0].message_id', async () => {
  server.reply({ body: { id: 'b6ef2a0a-3e4c-4d5b', method: 'sms', total_count: 1, data: [{ message_id: 'b6ef2a0a-3e4c-4d5b:1', recipient: '919876543210' }], error: {} } });
  const r = await preset('kaleyra', { accountId: 'HXIN1234', apiKey: 'kal-key', sender: 'KLRHXA', vars: { type: 'OTP' } }).send(message(), context(dispatcher));
  assert.equal(r.messageId, 'b6ef2a0a-3e4c-4d5b:1');
  const req = server.requests.at(-1)!;
  assert.deepEqual([req.method, req.path, req.headers['api-key']], ['POST', '/v1/HXIN1234/messages', 'kal-key']);
  assert.deepEqual(Object.fromEntries(req.form), { to: '+919876543210', sender: 'KLRHXA', type: 'OTP', body: 'Your code is 123456 & more' });
});

test('preset telesign: messaging with Basic customer id:api key; reference_id when status code is 290', async () => {
  server.reply({ body: { reference_id: '0123456789ABCDEF0123456789ABCDEF', status: { code: 290, description: 'Message in progress', updated_on: '2024-01-01T00:00:00Z' } } });
  const r = await preset('telesign', { accountId: 'CUST-1', apiKey: 'ts-key' }).send(message(), context(dispatcher));
  assert.equal(r.messageId, '0123456789ABCDEF0123456789ABCDEF');
  const req = server.requests.at(-1)!;
  assert.deepEqual([req.method, req.path, req.headers.authorization], ['POST', '/v1/messaging', basic('CUST-1', 'ts-key')]);
  assert.deepEqual(Object.fromEntries(req.form), { phone_number: '919876543210', message: 'Your code is 123456 & more', message_type: 'ARN' });
  server.reply({ status: 400, body: { status: { code: 11000, description: 'Invalid value for parameter phone_number.' } } });
  const e = await sendError(preset('telesign', { accountId: 'CUST-1', apiKey: 'ts-key' }), message(), context(dispatcher));
  assert.deepEqual([e.code, e.retryable], ['11000', false]);
});

test('preset bulksms: JSON messages with Basic auth; 201 array, id of the first', async () => {
  server.reply({ status: 201, body: [{ id: '1234567890', type: 'SENT', from: 'Crelio', to: '+919876543210', body: 'x', status: { id: 'ACCEPTED.null', type: 'ACCEPTED', subtype: null } }] });
  const r = await preset('bulksms', { username: 'tok-id', password: 'tok-secret', sender: 'Crelio' }).send(message(), context(dispatcher));
  assert.equal(r.messageId, '1234567890');
  const req = server.requests.at(-1)!;
  assert.deepEqual([req.method, req.url, req.headers.authorization], ['POST', '/v1/messages?auto-unicode=true', basic('tok-id', 'tok-secret')]);
  assert.deepEqual(req.json, { to: '+919876543210', body: 'Your code is 123456 & more', from: 'Crelio' });
});

test('preset unifonic: SMS/messages form; data.MessageID when success is true', async () => {
  server.reply({ body: { success: true, message: '', errorCode: 'ER-00', data: { MessageID: 3000000001, CorrelationID: '', Status: 'Queued', NumberOfUnits: 1 } } });
  const r = await preset('unifonic', { apiKey: 'uni-appsid', sender: 'Crelio' }).send(message({ to: '+966501234567', callingCode: '966', nationalNumber: '501234567' }), context(dispatcher));
  assert.equal(r.messageId, '3000000001');
  const req = server.requests.at(-1)!;
  assert.deepEqual([req.method, req.path], ['POST', '/rest/SMS/messages']);
  assert.deepEqual(Object.fromEntries(req.form), { AppSid: 'uni-appsid', SenderID: 'Crelio', Body: 'Your code is 123456 & more', Recipient: '966501234567', responseType: 'JSON' });
  server.reply({ body: { success: false, message: 'Wrong parameter format', errorCode: 'ER-09', data: null } });
  const e = await sendError(preset('unifonic', { apiKey: 'uni-appsid' }), message(), context(dispatcher));
  assert.deepEqual([e.code, e.retryable], ['ER-09', false]);
});
