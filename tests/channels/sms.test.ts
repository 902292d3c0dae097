// The sms channel in one process on a real SQLite file: payloads checked at enqueue (library and
// HTTP), routing by calling code, whitelists, the payload's provider choice, failover after a
// retryable failure, OTP priority and routes, delivery reports with signatures, callback_url, and no
// credential in job views or logs. Providers are loopback HTTP servers reached through the outgoing guard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import type { FusionConfig } from '../../src/channels/config-types.js';
import type { Job } from '../../src/core/job.js';
import { FusionError } from '../../src/core/errors.js';
import { parseSmsPayload } from '../../src/channels/sms/payload.js';
import { tempDir } from '../helpers/tmp.js';
import { within } from '../helpers/await.js';
import { NUM, ProviderServer, keepingLogger, loopFactory, twilioLikeSignature } from './sms-fixtures.js';
import { receiver } from './webhook-server.js';

const FAST = { type: 'fixed', delay: 5 } as const;

async function harness(sms: (srv: ProviderServer) => FusionConfig['channels'], opts: { logger?: ReturnType<typeof keepingLogger>; server?: FusionConfig['server'] } = {}) {
  const srv = await new ProviderServer().start();
  const tmp = tempDir('fusion-sms-');
  const logger = opts.logger ?? keepingLogger();
  const fusion = await Fusion.open({
    store: `sqlite:${join(tmp.dir, 'f.db')}`,
    config: { channels: sms(srv), outgoing: { allow: ['127.0.0.1/32'] }, ...(opts.server ? { server: opts.server } : {}) },
    providers: [loopFactory],
    logger,
  });
  const app = await buildServer({ fusion, processMetrics: false });
  await app.ready();
  fusion.worker({ queues: ['sms'], concurrency: 4, pollMs: 20 });
  const settled = (id: string) => within((async () => {
    for (;;) {
      const j = await fusion.store.getJob({ id });
      if (j && ['completed', 'failed', 'cancelled'].includes(j.state)) return j;
      await new Promise((r) => setTimeout(r, 10));
    }
  })(), 10_000, `job ${id} settles`);
  return {
    srv, fusion, app, logger, settled,
    async close() {
      await app.close();
      await fusion.close(500);
      await srv.close();
      tmp.remove();
    },
  };
}

test('payloads: the original worker form and the native form both normalise; bad ones name the field', () => {
  const a = parseSmsPayload({ contact: NUM.inContact, countryCode: 91, message: 'hi', senderId: 'CRELIO', config: { provider: 'msg91' }, provider_id: 'x', isOTP: true });
  assert.deepEqual([a.message.to, a.message.callingCode, a.message.nationalNumber, a.message.otp, a.message.senderId, a.provider, a.original], [NUM.in, '91', '9876543210', true, 'CRELIO', 'msg91', true]);
  assert.equal(parseSmsPayload({ contact: '07911 123456', countryCode: '+44', message: 'x' }).message.to, NUM.uk);
  assert.equal(parseSmsPayload({ contact: '+12015550123', message: 'x' }).message.to, NUM.us);
  const n = parseSmsPayload({ to: NUM.uk, text: 'x', from: 'ACME', otp: false, provider: 'a' });
  assert.deepEqual([n.message.to, n.message.senderId, n.provider, n.original], [NUM.uk, 'ACME', 'a', false]);
  const field = (p: unknown) => {
    try {
      parseSmsPayload(p);
    } catch (e) {
      assert.ok(e instanceof FusionError);
      return e.details.field;
    }
    return 'accepted';
  };
  assert.equal(field({ to: '+9112345', text: 'x' }), 'to');
  assert.equal(field({ to: 919876543210, text: 'x' }), 'to');
  assert.equal(field({ text: 'x' }), 'to');
  assert.equal(field({ to: NUM.in }), 'text');
  assert.equal(field({ contact: NUM.inContact, countryCode: 91 }), 'message');
  assert.equal(field({ contact: NUM.inContact, message: 'x' }), 'countryCode');
  assert.equal(field({ contact: { n: 1 }, countryCode: 91, message: 'x' }), 'contact');
  assert.equal(field({ contact: 12345, countryCode: 91, message: 'x' }), 'contact');
  assert.equal(field({ contact: NUM.inContact, countryCode: 'ninety', message: 'x' }), 'countryCode');
  assert.equal(field({ to: NUM.in, text: 5 }), 'text');
  assert.equal(field({ to: NUM.in, text: 'x', otp: 'maybe' }), 'otp');
  assert.equal(field({ to: NUM.in, text: 'x', config: { provider: 7 } }), 'config.provider');
  assert.equal(field('hello'), '');
});

test('validation at enqueue through the HTTP API: 400 naming payload.to; credentials in a payload refused', async () => {
  const h = await harness((s) => ({ sms: { providers: { a: { type: 'loop', url: s.url('/a') }, b: { type: 'loop', url: s.url('/b'), allowPayloadCredentials: true } } } }));
  try {
    const bad = await h.app.inject({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', payload: { to: '+9112345', text: 'hi' } } });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.equal(bad.json().error.details.field, 'payload.to');
    const noText = await h.app.inject({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms.otp', payload: { to: NUM.in } } });
    assert.equal(noText.json().error.details.field, 'payload.text');
    const legacy = await h.app.inject({ method: 'POST', url: '/queue/', payload: { payload: { task: 1, contact: 12, countryCode: 91, message: 'x' } } });
    assert.equal(legacy.statusCode, 400);
    assert.equal(legacy.json().error.details.field, 'payload.contact');
    const creds = await h.app.inject({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', payload: { contact: NUM.inContact, countryCode: 91, message: 'x', config: { provider: 'a', authkey: 'k-123' } } } });
    assert.equal(creds.statusCode, 400);
    assert.equal(creds.json().error.details.field, 'payload.config.authkey');
    // The library path refuses the same way (resolveSpec runs the check on every path).
    await assert.rejects(h.fusion.enqueue('sms', { to: NUM.in, text: 'x', api_key: 'k' }), (e: FusionError) => e.details.field === 'payload.api_key');
    // A provider that allows payload credentials takes them; the job view masks them.
    const ok = await h.app.inject({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', payload: { to: NUM.in, text: 'x', provider: 'b', api_key: 'payload-secret-77' } } });
    assert.equal(ok.statusCode, 201, ok.body);
    assert.ok(!ok.body.includes('payload-secret-77'));
    assert.equal((await h.fusion.store.getJob({ id: ok.json().id }))!.state !== undefined, true);
  } finally {
    await h.close();
  }
});

test('routing by calling code; a whitelist that excludes the number fails at once with the original words', async () => {
  const h = await harness((s) => ({
    sms: {
      providers: { in: { type: 'loop', url: s.url('/in'), countries: ['+91'] }, intl: { type: 'loop', url: s.url('/intl') }, only91: { type: 'loop', url: s.url('/only91'), countries: ['91'] } },
      routes: { '+91': ['in'], '+44': ['only91'], default: ['intl'] },
    },
  }));
  try {
    const a = await h.fusion.enqueue('sms', { contact: NUM.inContact, countryCode: 91, message: 'india' });
    const b = await h.fusion.enqueue('sms', { to: NUM.us, text: 'us' });
    const c = await h.fusion.enqueue('sms', { to: NUM.uk, text: 'uk' }, { backoff: FAST });
    const [ja, jb, jc] = await Promise.all([a, b, c].map((j) => h.settled(j.id)));
    assert.equal((ja!.result as { provider: string }).provider, 'in');
    assert.equal((jb!.result as { provider: string }).provider, 'intl');
    assert.deepEqual(h.srv.at('/in').map((r) => r.body.to), [NUM.in]);
    assert.deepEqual(h.srv.at('/intl').map((r) => r.body.to), [NUM.us]);
    assert.equal(jc!.state, 'failed');
    assert.equal(jc!.attempts, 1);
    assert.equal(jc!.error!.message, 'countryCode is not whitelisted for provider only91');
    assert.equal(h.srv.at('/only91').length, 0);
    const res = ja!.result as Record<string, unknown>;
    assert.equal(res.channel, 'sms');
    assert.match(String(res.messageId), /^msg-/);
    assert.equal(res.status, 'sent');
    assert.match(String(res.response), /"id":"msg-/);
  } finally {
    await h.close();
  }
});

test('config.provider picks a selectable provider; a +91-only one asked for a foreign number yields to the route (msg91 → SNS)', async () => {
  const h = await harness((s) => ({
    sms: {
      providers: {
        msg91: { type: 'loop', url: s.url('/msg91'), countries: ['+91'] },
        sns: { type: 'loop', url: s.url('/sns') },
        twilio: { type: 'loop', url: s.url('/twilio') },
        locked: { type: 'loop', url: s.url('/locked'), selectable: false },
      },
      routes: { default: ['sns', 'twilio'] },
    },
  }));
  try {
    const jobs = await Promise.all([
      h.fusion.enqueue('sms', { contact: NUM.inContact, countryCode: 91, message: 'a', config: { provider: 'msg91' } }),
      h.fusion.enqueue('sms', { contact: '7911123456', countryCode: 44, message: 'b', config: { provider: 'msg91' } }),
      h.fusion.enqueue('sms', { to: NUM.us, text: 'c', provider: 'twilio' }),
      h.fusion.enqueue('sms', { to: NUM.us, text: 'd', provider: 'locked' }),
    ]);
    const providers = [];
    for (const j of jobs) providers.push(((await h.settled(j.id)).result as { provider: string }).provider);
    assert.deepEqual(providers, ['msg91', 'sns', 'twilio', 'sns']);
    assert.equal(h.srv.at('/locked').length, 0);
  } finally {
    await h.close();
  }
});

test('failover: a 503 from the first provider sends the next attempt to the second; a 400 is not failed over', async () => {
  const h = await harness((s) => ({ sms: { providers: { a: { type: 'loop', url: s.url('/a') }, b: { type: 'loop', url: s.url('/b') } }, routes: { default: ['a', 'b'] } } }));
  try {
    h.srv.answer('/a', 503, { error: 'busy' });
    const j = await h.fusion.enqueue('sms', { to: NUM.in, text: 'failover' }, { backoff: FAST });
    const done = await h.settled(j.id);
    assert.equal(done.state, 'completed');
    assert.equal(done.attempts, 2);
    assert.equal((done.result as { provider: string }).provider, 'b');
    assert.deepEqual(h.srv.received.filter((r) => r.body.jobId === j.id).map((r) => [r.path, r.body.attempt]), [['/a', 1], ['/b', 2]]);

    h.srv.answer('/a', 400, { error: 'bad sender' });
    const k = await h.fusion.enqueue('sms', { to: NUM.in, text: 'refused' }, { backoff: FAST });
    const refused = await h.settled(k.id);
    assert.equal(refused.state, 'failed');
    assert.equal(refused.attempts, 1);
    assert.equal(refused.error!.retryable, false);
    assert.deepEqual(refused.error!.details, { provider: 'a', code: 'http_400', retryable: false, status: 400 });
    assert.equal(h.srv.received.filter((r) => r.body.jobId === k.id && r.path === '/b').length, 0);
  } finally {
    await h.close();
  }
});

test('OTP: sms.otp and task_type OTP on /queue/ run at high priority, on the OTP route, with message.otp', async () => {
  const h = await harness((s) => ({
    sms: {
      providers: { bulk: { type: 'loop', url: s.url('/bulk') }, fast: { type: 'loop', url: s.url('/fast') } },
      routes: { default: ['bulk'] },
      otpRoutes: { '+91': ['fast'] },
    },
  }));
  try {
    const otp = await h.fusion.enqueue('sms.otp', { to: NUM.in, text: 'code 4711' });
    assert.equal(otp.priority, 2);
    assert.equal(otp.queue, 'sms');
    const r = await h.app.inject({ method: 'POST', url: '/queue/', payload: { payload: { task: 1, contact: NUM.inContact, countryCode: 91, message: 'OTP 1234' }, task_type: 'OTP' } });
    assert.equal(r.statusCode, 200, r.body);
    const viaQueue = (await h.fusion.store.getJob({ id: r.json().job_id }))!;
    assert.equal(viaQueue.priority, 2);
    const flagged = await h.fusion.enqueue('sms', { to: NUM.in, text: 'x', isOTP: true });
    const plain = await h.fusion.enqueue('sms', { to: NUM.in, text: 'not an otp' });
    const foreignOtp = await h.fusion.enqueue('sms.otp', { to: NUM.uk, text: 'code 1' });
    const got = [];
    for (const j of [otp, viaQueue, flagged, plain, foreignOtp] as Job[]) got.push(((await h.settled(j.id)).result as { provider: string }).provider);
    // The OTP route for +91; a +44 OTP falls back to the ordinary routes.
    assert.deepEqual(got, ['fast', 'fast', 'fast', 'bulk', 'bulk']);
    assert.ok(h.srv.at('/fast').every((x) => x.body.otp === true));
    assert.equal(h.srv.at('/bulk').find((x) => x.body.text === 'not an otp')!.body.otp, false);
    assert.equal(h.srv.at('/bulk').find((x) => x.body.text === 'code 1')!.body.otp, true);
  } finally {
    await h.close();
  }
});

test('delivery reports: a good signature moves sent → delivered (job view and /jobInfo/); a bad one is 401 and changes nothing', async () => {
  const TOKEN = 'report-token-5f2a';
  const h = await harness((s) => ({ sms: { providers: { tw: { type: 'loop', url: s.url('/tw'), authToken: TOKEN } } } }));
  try {
    const j = await h.fusion.enqueue('sms', { to: NUM.in, text: 'hello' });
    const done = await h.settled(j.id);
    const messageId = (done.result as { messageId: string }).messageId;
    const view = async () => (await h.app.inject({ method: 'GET', url: `/v1/jobs/${j.id}` })).json();
    assert.equal((await view()).delivery.status, 'sent');
    const url = '/v1/providers/sms/tw/reports';
    const form = { MessageSid: messageId, MessageStatus: 'delivered' };
    const body = new URLSearchParams(form).toString();
    const post = (sig: string) => h.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig }, payload: body });
    const forged = await post(twilioLikeSignature('not-the-token', `http://localhost:80${url}`, form));
    assert.equal(forged.statusCode, 401, forged.body);
    assert.equal(forged.json().error.code, 'bad_signature');
    assert.equal((await view()).delivery.status, 'sent');
    // inject's host is localhost:80; the signature covers the URL the provider called.
    const good = await post(twilioLikeSignature(TOKEN, `http://localhost:80${url}`, form));
    assert.equal(good.statusCode, 200, good.body);
    assert.deepEqual(good.json(), { received: 1, matched: 1, updated: 1 });
    const v = await view();
    assert.equal(v.delivery.status, 'delivered');
    assert.equal(v.delivery.providerStatus, 'delivered');
    assert.equal(v.delivery.provider, 'tw');
    const info = await h.app.inject({ method: 'POST', url: '/jobInfo/', payload: { job_id: j.id } });
    assert.equal(info.json().delivery_status, 'delivered');
    const logs = await h.fusion.store.jobLogs({ id: j.id });
    assert.ok(logs.some((l) => /delivery: delivered/.test(l.message)));
    const unknown = await h.app.inject({ method: 'POST', url: '/v1/providers/sms/nope/reports', payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(unknown.statusCode, 404);
    // Credentials never show: not in the job view, not in any log line.
    const all = JSON.stringify(await view()) + h.logger.lines.join('\n');
    assert.ok(!all.includes(TOKEN));
    assert.ok(!h.srv.received.some((r) => JSON.stringify(r.body).includes(TOKEN)));
  } finally {
    await h.close();
  }
});

test('delivery reports behind a TLS-terminating proxy: Twilio\'s signature is checked against server.publicUrl and the path, not the URL the request arrived at', async () => {
  const TOKEN = 'twilio-auth-token-secret';
  const SID = 'AC0123456789abcdef0123456789abcdef';
  const h = await harness(() => ({ sms: { providers: { 'twilio-us': { type: 'twilio', accountSid: SID, authToken: TOKEN, from: '+15005550006' } } } }), { server: { publicUrl: 'https://hub.example/' } });
  try {
    // Twilio calls https://hub.example/...; the proxy ends TLS and forwards plain HTTP to the hub.
    const path = '/v1/providers/sms/twilio-us/reports?tag=clinic';
    const form = { MessageSid: 'SM0123', MessageStatus: 'delivered', AccountSid: SID };
    const post = (sig: string) => h.app.inject({
      method: 'POST', url: path, payload: new URLSearchParams(form).toString(),
      headers: { host: 'hub.example', 'x-forwarded-proto': 'https', 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig },
    });
    const genuine = await post(twilioLikeSignature(TOKEN, `https://hub.example${path}`, form));
    assert.equal(genuine.statusCode, 200, genuine.body);
    assert.deepEqual(genuine.json(), { received: 1, matched: 0, updated: 0 });
    // The URL as it arrived (plain http) is not what Twilio signed.
    const arrived = await post(twilioLikeSignature(TOKEN, `http://hub.example${path}`, form));
    assert.equal(arrived.statusCode, 401, arrived.body);
  } finally {
    await h.close();
  }
});

test('callback_url is told of the accepted send by a callback job of its own: form fields for the original form, JSON with the result for the native; a refused send tells nothing', async () => {
  const cb = await receiver();
  const h = await harness((s) => ({ sms: { providers: { in: { type: 'loop', url: s.url('/in') }, no: { type: 'loop', url: s.url('/no') } }, routes: { default: ['in'] } } }));
  h.srv.answer('/no', 400, { error: 'refused' });
  try {
    h.fusion.worker({ queues: ['callbacks'], pollMs: 20 });
    const orig = await h.fusion.enqueue('sms', { contact: NUM.inContact, countryCode: 91, message: 'Report ready', callback_url: `${cb.base}/orig` }, { description: 'SMS REPORT' });
    const native = await h.fusion.enqueue('sms', { to: NUM.us, text: 'hi', callbackUrl: `${cb.base}/native` });
    const refused = await h.fusion.enqueue('sms', { to: NUM.us, text: 'no', provider: 'no', callbackUrl: `${cb.base}/refused` });
    assert.equal((await h.settled(refused.id)).state, 'failed');
    for (const j of [orig, native]) {
      assert.equal((await h.settled(j.id)).state, 'completed');
      const call = await h.settled(`${j.id}:callback_url`);
      assert.equal(call.state, 'completed', JSON.stringify(call.error));
      assert.equal(call.maxAttempts, 20, 'a callback\'s attempts (callback-retry.ts)');
    }
    const at = (path: string) => cb.hits.filter((x) => x.url === path);
    assert.deepEqual(Object.fromEntries(new URLSearchParams(at('/orig')[0]!.body)), { description: 'SMS REPORT', job_id: orig.id, status: 'finished', retry_attempts: '0' });
    const body = JSON.parse(at('/native')[0]!.body);
    assert.equal(body.event, 'job.completed');
    assert.equal(body.job.id, native.id);
    assert.equal(body.job.result.provider, 'in');
    assert.match(body.job.result.messageId, /^msg-/);
    assert.deepEqual([at('/orig').length, at('/native').length, at('/refused').length], [1, 1, 0]);
    assert.equal(await h.fusion.store.getJob({ id: `${refused.id}:callback_url` }), null);
    await assert.rejects(h.fusion.enqueue('sms', { to: NUM.us, text: 'x', callback_url: 'ftp://cb.example/x' }), (e: FusionError) => e.details.field === 'payload.callback_url');
  } finally {
    await h.close();
    await cb.close();
  }
});

test('dry run: no provider configured → completes as dry-run with one masked log line', async () => {
  const h = await harness(() => ({}));
  try {
    assert.deepEqual(h.fusion.channels.dryRun.includes('sms'), true);
    const j = await h.fusion.enqueue('sms', { contact: NUM.inContact, countryCode: 91, message: 'Your OTP is 918273' });
    const done = await h.settled(j.id);
    assert.equal((done.result as { provider: string }).provider, 'dry-run');
    const lines = h.logger.lines.filter((l) => l.includes('dry-run: sms'));
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]!.includes('9876543210'));
    assert.ok(!lines[0]!.includes('918273'));
    assert.match(lines[0]!, /\+9198\*+10/);
  } finally {
    await h.close();
  }
});

test('an OTP\'s code is not kept in the result when the provider echoes the text (as Twilio\'s body does); other sends keep their answer whole', async () => {
  const h = await harness((s) => ({ sms: { providers: { a: { type: 'loop', url: s.url('/echo') } } } }));
  try {
    h.srv.answer('/echo', 201, { id: 'msg-echo', body: 'Your OTP is 482913. Valid for 10 min', price: '0.0075' });
    const otp = await h.fusion.enqueue('sms.otp', { to: NUM.in, text: 'Your OTP is 482913. Valid for 10 min' });
    const plain = await h.fusion.enqueue('sms', { to: NUM.in, text: 'Your OTP is 482913. Valid for 10 min' });
    const o = (await h.settled(otp.id)).result as { messageId: string; response: string };
    assert.equal(o.messageId, 'msg-echo');
    assert.doesNotMatch(o.response, /482913/);
    assert.match(o.response, /"body":"Your OTP is \*{7} Valid for \*\* min"/);
    assert.match(o.response, /"price":"0\.0075"/, 'the rest of the answer is kept');
    assert.match(((await h.settled(plain.id)).result as { response: string }).response, /482913/);
  } finally {
    await h.close();
  }
});
