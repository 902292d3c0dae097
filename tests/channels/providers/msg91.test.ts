import { test } from 'node:test';
import assert from 'node:assert/strict';
import { msg91 } from '../../../src/channels/sms/providers/msg91.js';
import { ProviderError, type InboundRequest } from '../../../src/channels/provider.js';
import { checkErrorAnswers, context, message, sendError, stage } from './stand-in.js';

const { server, dispatcher } = await stage();

const KEY = 'msg91-auth-key-secret';
const make = (over: Record<string, unknown> = {}) =>
  msg91.create('msg91', { authKey: KEY, sender: 'CRELIO', templateId: 'tmpl-default', otpTemplateId: 'tmpl-otp', textVariable: 'message', reportToken: 'report-token-1', baseUrl: server.base, ...over });

test('msg91: a flow SMS is the exact Flow API request; the request id from the answer', async () => {
  server.reply({ body: { message: '3763646c3058373530393235', type: 'success' } });
  const r = await make().send(message({ context: { name: 'Asha', lab: 'Crelio Labs' }, flowAuth: 'flow-5f2a' }), context(dispatcher));
  assert.deepEqual([r.messageId, r.status], ['3763646c3058373530393235', 'sent']);
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/api/v5/flow/');
  assert.equal(req.headers.authkey, KEY);
  assert.equal(req.headers['content-type'], 'application/json');
  assert.deepEqual(req.json, { name: 'Asha', lab: 'Crelio Labs', message: 'Your code is 123456 & more', flow_id: 'flow-5f2a', sender: 'CRELIO', short_url: '0', mobiles: '919876543210' });

  server.reply({ body: { message: 'r2', type: 'success' } });
  await make().send(message(), context(dispatcher));
  assert.equal(server.requests.at(-1)!.json.template_id, 'tmpl-default', 'the configured template when the message names none');
});

test('msg91: an OTP goes through the OTP API; request_id is the message id', async () => {
  server.reply({ body: { request_id: '3461686d6f6a373130353838', type: 'success' } });
  const r = await make().send(message({ otp: true, context: { otp: 482913, name: 'Asha' } }), context(dispatcher));
  assert.equal(r.messageId, '3461686d6f6a373130353838');
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/api/v5/otp');
  assert.deepEqual(Object.fromEntries(req.query), { template_id: 'tmpl-otp', mobile: '919876543210', otp: '482913' });
  assert.equal(req.headers.authkey, KEY);
  assert.deepEqual(req.json, { name: 'Asha' });
});

test('msg91: type error inside a 200 is a refusal; no template is refused before any request', async () => {
  server.reply({ body: { type: 'error', message: 'Invalid authkey' } });
  const e = await sendError(make(), message(), context(dispatcher));
  assert.deepEqual([e.code, e.retryable], ['msg91_error', false]);
  assert.match(e.message, /Invalid authkey/);
  const before = server.requests.length;
  const missing = await sendError(make({ templateId: undefined }), message(), context(dispatcher));
  assert.deepEqual([missing.code, missing.retryable, server.requests.length], ['missing_template', false, before]);
});

test('msg91: 429, 5xx, a refusal, a timeout', async () => {
  await checkErrorAnswers({ server, dispatcher, make, secrets: [KEY], refusal: { status: 401, body: { type: 'error', message: 'Unauthorized', code: '401' }, code: '401' } });
});

function inbound(body: unknown, url = 'https://hub.example/v1/deliveries/sms/msg91?token=report-token-1'): InboundRequest {
  const rawBody = JSON.stringify(body);
  return { method: 'POST', url, headers: { 'content-type': 'application/json' }, rawBody, body };
}

test('msg91: delivery reports in each of its shapes, statuses mapped, the token checked', () => {
  const p = make();
  const items = [
    { senderId: 'CRELIO', requestId: 'req-1', userId: '1', report: [{ date: '2024-01-01 10:00:00', number: '919876543210', status: '1', desc: 'DELIVERED' }] },
    { request_id: 'req-2', report: [{ number: '919876543211', status: '9', desc: 'NDNC' }, { number: '919876543212', status: '16', desc: 'Rejected' }] },
    { requestId: 'req-3', status: '8' },
  ];
  const want = [
    { messageId: 'req-1', status: 'delivered', providerStatus: '1' },
    { messageId: 'req-2', status: 'undelivered', providerStatus: '9', errorCode: 'NDNC' },
    { messageId: 'req-2', status: 'failed', providerStatus: '16', errorCode: 'Rejected' },
    { messageId: 'req-3', status: 'sent', providerStatus: '8' },
  ];
  assert.deepEqual(p.deliveryReports!(inbound(items)), want);
  assert.deepEqual(p.deliveryReports!(inbound({ data: items })), want);
  const form = new URLSearchParams({ data: JSON.stringify(items) }).toString();
  assert.deepEqual(p.deliveryReports!({ method: 'POST', url: 'https://hub.example/dlr?token=report-token-1', headers: {}, rawBody: form, body: { data: JSON.stringify(items) } }), want);

  for (const url of ['https://hub.example/dlr', 'https://hub.example/dlr?token=report-token-2']) {
    assert.throws(() => p.deliveryReports!(inbound(items, url)), (err) => err instanceof ProviderError && err.code === 'bad_signature' && !err.retryable);
  }
  assert.equal(make({ reportToken: undefined }).deliveryReports!(inbound(items, 'https://hub.example/dlr')).length, 4, 'no token configured: accepted');
});
