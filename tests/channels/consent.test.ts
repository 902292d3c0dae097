// WhatsApp consent: recorded by /update_consent/ into the store (another Fusion on the same store
// sees it), read at GET /v1/consents/:contact, enforced at send time: a recorded opt-out → no
// message, a non-retryable `no_consent` failure, also for a job already waiting in the queue; a
// number with no record is messaged (the original sent to any number) unless requireConsent is on.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Fusion } from '../../src/fusion.js';
import { consentBook, consentNumber } from '../../src/channels/whatsapp/consent.js';
import { redisSkip } from '../helpers/redis.js';
import { Loop, harness } from './push-fixtures.js';

const skipRedis = await redisSkip();
const loop = await new Loop().start();
after(() => loop.close());
loop.answer = () => ({ body: { messages: [{ id: `wamid.${loop.hits.length}` }] } });
const config = (extra: Record<string, unknown> = {}) => ({
  channels: { whatsapp: { providers: { meta: { type: 'meta', accessToken: 'tok-123', phoneNumberId: '1055', baseUrl: loop.base } }, ...extra } },
});
const consent = (contact: unknown, countryCode: unknown, value: boolean) => ({ method: 'POST' as const, url: '/update_consent/', payload: { contact, countryCode, consent: value } });

test('numbers are keyed in E.164 whatever form they arrive in', () => {
  for (const [c, cc] of [[9876543210, 91], ['98765 43210', '+91'], ['09876543210', '91'], ['+919876543210', undefined], ['919876543210', undefined]] as const) {
    assert.equal(consentNumber(c, cc).e164, '+919876543210', `${c} ${cc}`);
  }
});

for (const target of ['sqlite', 'redis'] as const) {
  test(`on ${target}: consent is in the store, readable at /v1/consents/:contact, listed at /v1/consents, and seen by another Fusion on the same store`, { skip: target === 'redis' && skipRedis }, async () => {
    const h = await harness(target, config(), []);
    try {
      assert.equal((await h.app.inject(consent('98765 43210', 91, true))).statusCode, 200);
      for (const url of ['/v1/consents/%2B919876543210', '/v1/consents/919876543210', '/v1/consents/9876543210?countryCode=91']) {
        const r = await h.app.inject({ method: 'GET', url });
        assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
        assert.deepEqual({ ...(r.json() as object), updatedAt: null }, { contact: '+919876543210', countryCode: '91', nationalNumber: '9876543210', consent: true, updatedAt: null, source: 'update_consent' });
      }
      const missing = await h.app.inject({ method: 'GET', url: '/v1/consents/%2B447911123456' });
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().error.code, 'not_found');
      // The list: every number once (a second record of one number does not repeat it), paged in E.164 order.
      assert.equal((await h.app.inject(consent('7911 123456', 44, false))).statusCode, 200);
      assert.equal((await h.app.inject(consent('9876543210', '+91', true))).statusCode, 200);
      const first = await h.app.inject({ method: 'GET', url: '/v1/consents?limit=1' });
      assert.equal(first.statusCode, 200, first.body);
      assert.deepEqual(first.json().items.map((e: { contact: string; consent: boolean }) => [e.contact, e.consent]), [['+447911123456', false]]);
      assert.equal(first.json().next, '+447911123456');
      const rest = (await h.app.inject({ method: 'GET', url: `/v1/consents?after=${encodeURIComponent(first.json().next)}` })).json();
      assert.deepEqual(rest.items.map((e: { contact: string; consent: boolean }) => [e.contact, e.consent]), [['+919876543210', true]]);
      assert.equal(rest.next, null);
      const other = await Fusion.open({ ...h.open, channels: false });
      try {
        assert.equal((await consentBook(other.store).lookup('+919876543210', undefined, Date.now()))?.consent, true);
      } finally {
        await other.close(100);
      }
    } finally {
      await h.close();
    }
  });
}

test('requireConsent true: no consent recorded → the job fails at once with no_consent and nothing is sent', async () => {
  const h = await harness('sqlite', config({ requireConsent: true }), ['whatsapp']);
  const before = loop.hits.length;
  try {
    const job = await h.fusion.enqueue('whatsapp', { to: '+447911123456', text: 'hi' }, { maxAttempts: 5 });
    const done = await h.settled(job.id);
    assert.equal(done.state, 'failed');
    assert.equal(done.attempts, 1);
    assert.equal(done.error?.code, 'no_consent');
    assert.equal(done.error?.retryable, false);
    assert.match(done.error!.message, /no WhatsApp consent is recorded/);
    assert.equal(loop.hits.length, before);
  } finally {
    await h.close();
  }
});

test('opt-out is honoured for a job already queued: consent given, job queued, opt-out recorded, job runs → no_consent', async () => {
  const h = await harness('sqlite', config(), []);
  const before = loop.hits.length;
  try {
    await h.app.inject(consent(9876543210, 91, true));
    const q = await h.app.inject({ method: 'POST', url: '/queue/', payload: { payload: { task: 6, contact: 9876543210, countryCode: 91, message: 'promo' } } });
    const id = q.json().job_id;
    assert.equal((await h.fusion.store.getJob({ id }))?.state, 'queued');
    assert.equal((await h.app.inject(consent('+91 98765 43210', '91', false))).json().consent, false);
    h.fusion.worker({ queues: ['whatsapp'], pollMs: 20 });
    const done = await h.settled(id);
    assert.equal(done.state, 'failed');
    assert.equal(done.error?.code, 'no_consent');
    assert.match(done.error!.message, /opted out/);
    assert.equal(loop.hits.length, before, 'nothing reached the provider');
    // Opting in again lets the next job through.
    await h.app.inject(consent(9876543210, 91, true));
    const again = await h.fusion.enqueue('whatsapp', { to: '+919876543210', text: 'welcome back' });
    assert.equal((await h.settled(again.id)).state, 'completed');
    assert.equal(loop.hits.length, before + 1);
  } finally {
    await h.close();
  }
});

for (const setting of [{}, { requireConsent: false }]) {
  test(`${JSON.stringify(setting)}: a number never asked is messaged; a recorded opt-out still stops it`, async () => {
    const h = await harness('sqlite', config(setting), ['whatsapp']);
    const before = loop.hits.length;
    try {
      const a = await h.fusion.enqueue('whatsapp', { to: '+12015550123', text: 'transactional' });
      assert.equal((await h.settled(a.id)).state, 'completed');
      assert.equal(loop.hits.length, before + 1, 'sent to the provider');
      await h.app.inject(consent(2015550123, 1, false));
      const b = await h.fusion.enqueue('whatsapp', { to: '+12015550123', text: 'again' });
      const done = await h.settled(b.id);
      assert.deepEqual([done.state, done.error?.code], ['failed', 'no_consent']);
      assert.equal(loop.hits.length, before + 1);
    } finally {
      await h.close();
    }
  });
}
