import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { twilio } from '../../../src/channels/sms/providers/twilio.js';
import { ProviderError } from '../../../src/channels/provider.js';
import { validateConfig } from '../../../src/channels/config.js';
import { checkErrorAnswers, context, message, sendError, stage } from './stand-in.js';

const { server, dispatcher } = await stage();

const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'twilio-auth-token-secret';
const make = (over: Record<string, unknown> = {}) => twilio.create('twilio-us', { accountSid: SID, authToken: TOKEN, from: '+15005550006', baseUrl: server.base, ...over });

test('twilio: the exact Messages request, and sid/status read from the answer', async () => {
  server.reply({ status: 201, body: { sid: 'SM1234', status: 'queued', to: '+919876543210' } });
  const r = await make().send(message({ statusCallbackUrl: 'https://hub.example/dlr/twilio-us' }), context(dispatcher));
  assert.equal(r.messageId, 'SM1234');
  assert.equal(r.status, 'queued');
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, `/2010-04-01/Accounts/${SID}/Messages.json`);
  assert.equal(req.headers.authorization, `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`);
  assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.deepEqual(Object.fromEntries(req.form), {
    To: '+919876543210',
    From: '+15005550006',
    Body: 'Your code is 123456 & more',
    StatusCallback: 'https://hub.example/dlr/twilio-us',
  });
});

test('twilio: a messaging service instead of a From number; the payload sender wins over config', async () => {
  server.reply({ status: 201, body: { sid: 'SM2', status: 'accepted' } });
  await make({ from: undefined, messagingServiceSid: 'MG99' }).send(message(), context(dispatcher));
  assert.equal(server.requests.at(-1)!.form.get('MessagingServiceSid'), 'MG99');
  assert.equal(server.requests.at(-1)!.form.get('From'), null);
  server.reply({ status: 201, body: { sid: 'SM3', status: 'queued' } });
  await make().send(message({ senderId: 'FUSION' }), context(dispatcher));
  assert.equal(server.requests.at(-1)!.form.get('From'), 'FUSION');
});

test('twilio: a configured statusCallback reaches Twilio as StatusCallback when the payload gives none; the payload\'s wins', async () => {
  const entry = { type: 'twilio', accountSid: SID, authToken: TOKEN, from: '+15005550006', statusCallback: 'https://hub.example/v1/providers/sms/twilio-us/reports' };
  validateConfig({ channels: { sms: { providers: { 'twilio-us': entry } } } }, { env: {} }); // a known field of the adapter's config
  const p = make({ statusCallback: entry.statusCallback });
  server.reply({ status: 201, body: { sid: 'SM4', status: 'queued' } });
  await p.send(message(), context(dispatcher));
  assert.equal(server.requests.at(-1)!.form.get('StatusCallback'), 'https://hub.example/v1/providers/sms/twilio-us/reports');
  server.reply({ status: 201, body: { sid: 'SM5', status: 'queued' } });
  await p.send(message({ statusCallbackUrl: 'https://other.example/dlr' }), context(dispatcher));
  assert.equal(server.requests.at(-1)!.form.get('StatusCallback'), 'https://other.example/dlr');
});

test('twilio: 429, 5xx, a refusal with its error code, a timeout', async () => {
  await checkErrorAnswers({
    server,
    dispatcher,
    make,
    secrets: [TOKEN],
    refusal: { status: 400, body: { code: 21211, message: "The 'To' number is not a valid phone number.", more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 }, code: '21211' },
  });
});

test('twilio: 21611 (the From number\'s queue is full) and 20429 (too many requests) answered 400 are retryable, so the route fails over; 21211 is not', async () => {
  for (const [code, retryable] of [[21611, true], [20429, true], [21211, false]] as const) {
    server.reply({ status: 400, body: { code, message: `error ${code}`, more_info: `https://www.twilio.com/docs/errors/${code}`, status: 400 } });
    const e = await sendError(make(), message(), context(dispatcher));
    assert.deepEqual([e.code, e.retryable, e.status], [String(code), retryable, 400], e.message);
  }
});

function signed(url: string, fields: Record<string, string>, token = TOKEN) {
  const sorted = Object.keys(fields).sort().map((k) => k + fields[k]).join('');
  const sig = createHmac('sha1', token).update(url + sorted).digest('base64');
  const rawBody = new URLSearchParams(fields).toString();
  return { method: 'POST', url, headers: { 'x-twilio-signature': sig, 'content-type': 'application/x-www-form-urlencoded' }, rawBody, body: fields };
}

test('twilio: delivery reports verify X-Twilio-Signature and map statuses', () => {
  const p = make();
  const url = 'https://hub.example/v1/deliveries/sms/twilio-us?x=1';
  const fields = { MessageSid: 'SM1234', MessageStatus: 'undelivered', ErrorCode: '30003', AccountSid: SID, To: '+919876543210' };
  assert.deepEqual(p.deliveryReports!(signed(url, fields)), [{ messageId: 'SM1234', status: 'undelivered', providerStatus: 'undelivered', errorCode: '30003' }]);
  assert.deepEqual(p.deliveryReports!(signed(url, { MessageSid: 'SM1', MessageStatus: 'delivered' })), [{ messageId: 'SM1', status: 'delivered', providerStatus: 'delivered' }]);

  const refused = (req: ReturnType<typeof signed>) => {
    try {
      p.deliveryReports!(req);
    } catch (err) {
      assert.ok(err instanceof ProviderError);
      assert.equal(err.code, 'bad_signature');
      assert.equal(err.retryable, false);
      return true;
    }
    return false;
  };
  const tampered = signed(url, fields);
  tampered.rawBody = tampered.rawBody.replace('undelivered', 'delivered');
  assert.ok(refused(tampered), 'a tampered body is refused');
  assert.ok(refused({ ...signed(url, fields), url: 'https://evil.example/v1/deliveries/sms/twilio-us?x=1' }), 'another URL is refused');
  assert.ok(refused(signed(url, fields, 'some-other-token')), 'a signature by another token is refused');
  const unsigned = signed(url, fields);
  unsigned.headers = { 'content-type': 'application/x-www-form-urlencoded' } as typeof unsigned.headers;
  assert.ok(refused(unsigned), 'a missing signature is refused');
});
