// WhatsApp: Meta Cloud API and Twilio WhatsApp against a loopback stand-in (the exact request for
// text, template with parameters, and media by link; errors classified), Meta's signed status webhooks
// through the delivery-report endpoint (good and bad signature) and its subscription handshake, and
// /queue/ task 6 end to end on SQLite and Redis.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { meta, metaSignature } from '../../src/channels/whatsapp/providers/meta.js';
import { twilioWhatsApp } from '../../src/channels/whatsapp/providers/twilio.js';
import { parseWhatsAppPayload } from '../../src/channels/whatsapp/payload.js';
import { ProviderError, type ProviderContext } from '../../src/channels/provider.js';
import { FusionError } from '../../src/core/errors.js';
import type { WhatsAppMessage } from '../../src/channels/whatsapp/message.js';
import { guardedDispatcher } from './providers/stand-in.js';
import { redisSkip } from '../helpers/redis.js';
import { Loop, harness } from './push-fixtures.js';

const skipRedis = await redisSkip();
const loop = await new Loop().start();
const dispatcher = guardedDispatcher();
after(async () => {
  await loop.close();
  await dispatcher.destroy();
});
const ctx = (): ProviderContext => ({ signal: new AbortController().signal, dispatcher, now: () => Date.now(), jobId: 'job-1', attempt: 1 });
const TOKEN = 'EAAG-meta-access-token-secret';
const APP_SECRET = 'meta-app-secret-9f3c';
const msg = (p: unknown): WhatsAppMessage => {
  const m = parseWhatsAppPayload(p).message;
  if (m.template && !m.template.language) m.template.language = 'en';
  return m;
};
const metaProvider = () => meta.create('meta', { accessToken: TOKEN, phoneNumberId: '1055', baseUrl: loop.base, appSecret: APP_SECRET, verifyToken: 'verify-me' });

test('meta: the exact Cloud API request for text, template with parameters, and media by link', async () => {
  loop.hits.length = 0;
  let n = 0;
  loop.answer = () => ({ body: { messaging_product: 'whatsapp', contacts: [{ input: '919876543210', wa_id: '919876543210' }], messages: [{ id: `wamid.HBg${++n}` }] } });
  const p = metaProvider();
  const r = await p.send(msg({ contact: 9876543210, countryCode: 91, message: 'Hello from Fusion' }), ctx());
  assert.equal(r.messageId, 'wamid.HBg1');
  await p.send(msg({ contact: '98765 43210', countryCode: '+91', template_name: 'order_update', template_params: ['Asha', 42] }), ctx());
  await p.send(msg({ contact: 9876543210, countryCode: 91, message: 'Your report', media_url: 'https://cdn.example/r/report.pdf' }), ctx());
  await p.send(msg({ to: '+919876543210', media: { url: 'https://cdn.example/p.png' }, text: 'Look' }), ctx());
  await p.send(msg({ to: '+919876543210', template: { name: 'otp', language: 'en_US' } }), ctx());
  for (const h of loop.hits) {
    assert.equal(h.method, 'POST');
    assert.equal(h.path, '/v21.0/1055/messages');
    assert.equal(h.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(h.headers['content-type'], 'application/json');
  }
  const base = { messaging_product: 'whatsapp', recipient_type: 'individual', to: '919876543210' };
  assert.deepEqual(loop.hits.map((h) => h.json), [
    { ...base, type: 'text', text: { body: 'Hello from Fusion', preview_url: false } },
    { ...base, type: 'template', template: { name: 'order_update', language: { code: 'en' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Asha' }, { type: 'text', text: '42' }] }] } },
    { ...base, type: 'document', document: { link: 'https://cdn.example/r/report.pdf', caption: 'Your report' } },
    { ...base, type: 'image', image: { link: 'https://cdn.example/p.png', caption: 'Look' } },
    { ...base, type: 'template', template: { name: 'otp', language: { code: 'en_US' } } },
  ]);
});

test('meta: throttling (130429) and 5xx are retryable; re-engagement (131047) is not; the token never shows', async () => {
  const p = metaProvider();
  const err = (status: number, code: number) => ({ status, body: { error: { message: `failure ${code} for ${TOKEN}`, type: 'OAuthException', code, fbtrace_id: 'x' } } });
  const m = msg({ to: '+919876543210', text: 'x' });
  for (const [status, code, retryable] of [[400, 130429, true], [500, 1, true], [400, 131047, false], [401, 190, false]] as const) {
    loop.answer = () => err(status, code);
    await assert.rejects(p.send(m, ctx()), (e: ProviderError) => {
      assert.equal(e.retryable, retryable, `${status}/${code}: ${e.message}`);
      assert.equal(e.code, String(code));
      assert.ok(!e.message.includes(TOKEN) && !JSON.stringify(e.raw ?? '').includes(TOKEN), 'token scrubbed');
      return true;
    });
  }
});

test('twilio whatsapp: whatsapp:-prefixed numbers; text, media, and a template by Content SID with variables', async () => {
  loop.hits.length = 0;
  loop.answer = () => ({ status: 201, body: { sid: 'SMwa1', status: 'queued' } });
  const p = twilioWhatsApp.create('twilio-wa', { accountSid: 'AC1', authToken: 'tw-secret', from: '+14155238886', baseUrl: loop.base, templates: { order_update: 'HX0123456789abcdef0123456789abcdef' } });
  const r = await p.send(msg({ to: '+919876543210', text: 'Hi' }), ctx());
  assert.deepEqual([r.messageId, r.status], ['SMwa1', 'queued']);
  await p.send(msg({ to: '+919876543210', media: { url: 'https://cdn.example/a.jpg' }, text: 'cap' }), ctx());
  await p.send(msg({ contact: 9876543210, countryCode: 91, template_name: 'order_update', template_params: ['Asha', '42'] }), ctx());
  for (const h of loop.hits) {
    assert.equal(h.path, '/2010-04-01/Accounts/AC1/Messages.json');
    assert.equal(h.headers.authorization, `Basic ${Buffer.from('AC1:tw-secret').toString('base64')}`);
  }
  assert.deepEqual(loop.hits.map((h) => Object.fromEntries(h.form)), [
    { To: 'whatsapp:+919876543210', From: 'whatsapp:+14155238886', Body: 'Hi' },
    { To: 'whatsapp:+919876543210', From: 'whatsapp:+14155238886', MediaUrl: 'https://cdn.example/a.jpg', Body: 'cap' },
    { To: 'whatsapp:+919876543210', From: 'whatsapp:+14155238886', ContentSid: 'HX0123456789abcdef0123456789abcdef', ContentVariables: '{"1":"Asha","2":"42"}' },
  ]);
  await assert.rejects(p.send(msg({ to: '+919876543210', template: { name: 'unmapped' } }), ctx()), (e: ProviderError) => e.code === 'template_not_mapped' && !e.retryable);
});

test('twilio whatsapp: 21611 and 20429 answered 400 are retryable (failover), 63016 (outside the 24-hour window) is not', async () => {
  const p = twilioWhatsApp.create('twilio-wa', { accountSid: 'AC1', authToken: 'tw-secret', from: '+14155238886', baseUrl: loop.base });
  for (const [code, retryable] of [[21611, true], [20429, true], [63016, false]] as const) {
    loop.answer = () => ({ status: 400, body: { code, message: `error ${code}`, status: 400 } });
    await assert.rejects(p.send(msg({ to: '+919876543210', text: 'Hi' }), ctx()), (e: ProviderError) => {
      assert.deepEqual([e.code, e.retryable], [String(code), retryable], e.message);
      return true;
    });
  }
});

test('payload: original and native forms; bad fields named', () => {
  const field = (p: unknown) => {
    try {
      parseWhatsAppPayload(p);
      return 'accepted';
    } catch (e) {
      assert.ok(e instanceof FusionError);
      return e.details.field;
    }
  };
  assert.equal(field({ contact: 9876543210, countryCode: 91, message: 'x', config: { provider: 'meta' } }), 'accepted');
  assert.equal(parseWhatsAppPayload({ contact: 9876543210, countryCode: 91, message: 'x', config: { provider: 'meta' } }).provider, 'meta');
  assert.equal(field({ contact: 9876543210, message: 'x' }), 'countryCode');
  assert.equal(field({ contact: 9876543210, countryCode: 91 }), 'message');
  assert.equal(field({ to: '+919876543210' }), 'text');
  assert.equal(field({ to: '919876543210', text: 'x' }), 'to');
  assert.equal(field({ contact: 9876543210, countryCode: 91, media_url: 'ftp://x/y' }), 'media_url');
  assert.equal(field({ to: '+919876543210', template: { language: 'en' } }), 'template.name');
  assert.equal(field({ to: '+919876543210', media: { url: 'https://x/y', type: 'sticker' } }), 'media.type');
  assert.equal(field({ contact: 9876543210, countryCode: 91, template_name: 't', template_params: 'a,b' }), 'template_params');
});

const whatsappConfig = (extra: Record<string, unknown> = {}) => ({
  channels: { whatsapp: { providers: { meta: { type: 'meta', accessToken: TOKEN, phoneNumberId: '1055', baseUrl: loop.base, appSecret: APP_SECRET, verifyToken: 'verify-me' } }, ...extra } },
});

for (const target of ['sqlite', 'redis'] as const) {
  test(`end to end on ${target}: /update_consent/ then POST /queue/ task 6 → Meta → /jobInfo/ finished with the wamid; a signed status webhook marks it read`, { skip: target === 'redis' && skipRedis }, async () => {
    const h = await harness(target, whatsappConfig(), ['whatsapp']);
    loop.answer = () => ({ body: { messages: [{ id: `wamid.E2E-${target}` }] } });
    const before = loop.hits.length;
    try {
      const c = await h.app.inject({ method: 'POST', url: '/update_consent/', payload: { contact: 9876543210, countryCode: 91, consent: true } });
      assert.equal(c.statusCode, 200, c.body);
      const q = await h.app.inject({ method: 'POST', url: '/queue/', payload: { payload: { task: 6, contact: 9876543210, countryCode: 91, message: 'Your results are ready', config: { provider: 'meta' } } } });
      assert.equal(q.statusCode, 200, q.body);
      const id = q.json().job_id;
      const done = await h.settled(id);
      assert.equal(done.state, 'completed', JSON.stringify(done.error));
      assert.equal(done.queue, 'whatsapp');
      const info = async () => (await h.app.inject({ method: 'POST', url: '/jobInfo/', payload: { job_id: id } })).json();
      const i = await info();
      assert.equal(i.status, 'finished');
      assert.deepEqual([i.result.provider, i.result.messageId, i.delivery_status], ['meta', `wamid.E2E-${target}`, 'sent']);
      assert.deepEqual(loop.hits.slice(before).map((x) => x.json.text), [{ body: 'Your results are ready', preview_url: false }]);

      const webhook = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: 'WABA', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', statuses: [{ id: `wamid.E2E-${target}`, status: 'read', timestamp: '1700000000', recipient_id: '919876543210' }] } }] }] });
      const post = (sig: string) => h.app.inject({ method: 'POST', url: '/v1/providers/whatsapp/meta/reports', headers: { 'content-type': 'application/json', 'x-hub-signature-256': sig }, payload: webhook });
      const forged = await post(metaSignature('not-the-secret', webhook));
      assert.equal(forged.statusCode, 401, forged.body);
      assert.equal((await info()).delivery_status, 'sent');
      const good = await post(metaSignature(APP_SECRET, webhook));
      assert.equal(good.statusCode, 200, good.body);
      assert.deepEqual(good.json(), { received: 1, matched: 1, updated: 1 });
      assert.equal((await info()).delivery_status, 'delivered');
      const v = (await h.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json();
      assert.equal(v.delivery.providerStatus, 'read');
    } finally {
      await h.close();
    }
  });
}

test("meta's webhook handshake: the challenge for the right verify token, 403 otherwise", async () => {
  const h = await harness('sqlite', whatsappConfig(), ['whatsapp']);
  try {
    const ok = await h.app.inject({ method: 'GET', url: '/v1/providers/whatsapp/meta/reports?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444' });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.body, '1158201444');
    assert.match(String(ok.headers['content-type']), /text\/plain/);
    const bad = await h.app.inject({ method: 'GET', url: '/v1/providers/whatsapp/meta/reports?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1' });
    assert.equal(bad.statusCode, 403);
    const none = await h.app.inject({ method: 'GET', url: '/v1/providers/whatsapp/nope/reports?hub.mode=subscribe' });
    assert.equal(none.statusCode, 404);
  } finally {
    await h.close();
  }
});
