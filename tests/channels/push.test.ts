// The push channel end to end: a job with many tokens where some fail retryably and some are
// invalid (only the failed ones are sent again, invalid ones listed and emitted), and the original
// /queue/ task 3 (Android and iOS tokens, the legacy api_key and certificate ignored) → FCM and APNs
// stand-ins → /jobInfo/ finished with the provider ids, on a SQLite file and on a Redis prefix.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { pushEvents, TOKEN_INVALID_EVENT, type TokenInvalidEvent } from '../../src/channels/push/channel.js';
import type { TokenResult } from '../../src/channels/push/message.js';
import { silentLogger } from '../../src/core/logger.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/await.js';
import { redisSkip } from '../helpers/redis.js';
import { FCM_TOKEN, FakeApns, IOS_TOKEN, Loop, apnsKey, harness, selfSigned, serviceAccount } from './push-fixtures.js';

const skipRedis = await redisSkip();
const loop = await new Loop().start();
const tmp = tempDir('fusion-push-e2e-');
const tls = selfSigned(tmp.dir, 'apns');
const apns = await new FakeApns(tls).start();
const key = apnsKey();
const { account } = serviceAccount(`${loop.base}/token`);
after(async () => {
  await loop.close();
  await apns.close();
  tmp.remove();
});
const SEND = '/v1/projects/fusion-test/messages:send';
const config = {
  channels: {
    push: {
      providers: {
        fcm: { type: 'fcm', serviceAccount: account, baseUrl: loop.base },
        apns: { type: 'apns', baseUrl: apns.base, ca: tls.cert, topic: 'com.example.app', keyId: 'KEY1234567', teamId: 'TEAM123456', signingKey: key.privateKey },
      },
    },
  },
};

for (const target of ['sqlite', 'redis'] as const) test(`partial failure on ${target}: only the token that failed retryably is sent again (state kept in the job's progress); the invalid one is listed, logged and emitted`, { skip: target === 'redis' && skipRedis }, async () => {
  const h = await harness(target, config, ['pn']);
  const t = [1, 2, 3, 4].map(FCM_TOKEN);
  let flaky = 0;
  loop.hits.length = 0;
  loop.answer = (hit) => {
    if (hit.path === '/token') return { body: { access_token: 'ya29.x', expires_in: 3600 } };
    const tok = hit.json.message.token;
    if (tok === t[1] && flaky++ === 0) return { status: 503, body: { error: { status: 'UNAVAILABLE', message: 'try later' } } };
    if (tok === t[2]) return { status: 404, body: { error: { status: 'NOT_FOUND', message: 'gone', details: [{ errorCode: 'UNREGISTERED' }] } } };
    return { body: { name: `projects/fusion-test/messages/${tok.slice(10, 11)}` } };
  };
  const events: TokenInvalidEvent[] = [];
  const onInvalid = (e: TokenInvalidEvent) => events.push(e);
  pushEvents.on(TOKEN_INVALID_EVENT, onInvalid);
  try {
    const job = await h.fusion.enqueue('push', { tokens: t, platform: 'android', title: 'Sale', body: '50% off' }, { backoff: { type: 'fixed', delay: 5 }, maxAttempts: 3 });
    const done = await h.settled(job.id);
    assert.equal(done.state, 'completed', JSON.stringify(done.error));
    assert.equal(done.attempts, 2);
    const sends = (tok: string) => loop.at(SEND).filter((x) => x.json.message.token === tok).length;
    assert.deepEqual(t.map(sends), [1, 2, 1, 1], 'sent once each, the flaky one twice');
    const r = done.result as { sent: number; invalid: number; retrying: number; invalidTokens: string[]; results: TokenResult[]; provider: string; messageId: string };
    assert.deepEqual([r.sent, r.invalid, r.retrying, r.invalidTokens, r.provider], [3, 1, 0, [t[2]], 'fcm']);
    assert.deepEqual(r.results.map((x) => [x.device, x.status, x.attempt]), [[t[0], 'sent', 1], [t[1], 'sent', 2], [t[2], 'invalid', 1], [t[3], 'sent', 1]]);
    assert.equal(r.messageId, 'projects/fusion-test/messages/1');
    assert.equal(events.length, 1);
    assert.deepEqual({ ...events[0], at: 0 }, { jobId: job.id, platform: 'android', provider: 'fcm', device: t[2], reason: 'UNREGISTERED', at: 0 });
    const logs = await h.fusion.store.jobLogs({ id: job.id });
    assert.ok(logs.some((l) => l.message.startsWith(`${TOKEN_INVALID_EVENT}: android token`)), JSON.stringify(logs));
    // The invalid token is visible to API clients (apps prune it), not masked as a secret.
    const view = (await h.app.inject({ method: 'GET', url: `/v1/jobs/${job.id}` })).json();
    assert.deepEqual(view.result.invalidTokens, [t[2]]);
  } finally {
    pushEvents.off(TOKEN_INVALID_EVENT, onInvalid);
    await h.close();
  }
});

test('a job whose every token is invalid fails, not retryable, listing them', async () => {
  const h = await harness('sqlite', config, ['pn']);
  loop.answer = (hit) => hit.path === '/token' ? { body: { access_token: 'ya29.x', expires_in: 3600 } } : { status: 404, body: { error: { status: 'NOT_FOUND', details: [{ errorCode: 'UNREGISTERED' }] } } };
  try {
    const job = await h.fusion.enqueue('push', { tokens: [FCM_TOKEN(7)], platform: 'android', title: 'x' }, { maxAttempts: 3 });
    const done = await h.settled(job.id);
    assert.equal(done.state, 'failed');
    assert.equal(done.attempts, 1);
    assert.equal(done.error?.code, 'invalid_tokens');
    assert.deepEqual(done.error?.details?.invalidTokens, [FCM_TOKEN(7)]);
  } finally {
    await h.close();
  }
});

test('the original android.api_key (an FCM legacy server key) is ignored: /queue/ takes it, the devices go through the FCM v1 provider, and the hub warns once a process, not once a job or a device', async () => {
  const warnings: { obj: Record<string, unknown>; msg?: string }[] = [];
  const logger = { ...silentLogger, warn: (obj: object, msg?: string) => void warnings.push({ obj: obj as Record<string, unknown>, msg }) };
  const h = await harness('sqlite', config, ['pn'], logger);
  loop.answer = (hit) => hit.path === '/token' ? { body: { access_token: 'ya29.key', expires_in: 3600 } } : { body: { name: 'projects/fusion-test/messages/0:key' } };
  const fcmBefore = loop.at(SEND).length;
  try {
    const ids: string[] = [];
    for (const n of [1, 2]) {
      // fusion-worker-tasks.txt, sendNotification's android part.
      const android = { collapse_key: 'notification_type', api_key: 'FCM_SERVER_KEY', registration_ids: [FCM_TOKEN(n), FCM_TOKEN(n + 10)], data: { message: 'Notification message', category: 'Category', custom_data: {} } };
      const r = await h.app.inject({ method: 'POST', url: '/queue/', payload: { payload: { task: 3, android } } });
      assert.equal(r.statusCode, 200, r.body);
      ids.push(r.json().job_id);
    }
    for (const id of ids) {
      const done = await h.settled(id);
      assert.equal(done.state, 'completed', JSON.stringify(done.error));
      assert.equal((done.result as { sent: number; provider: string }).sent, 2);
    }
    const sent = loop.at(SEND).slice(fcmBefore);
    assert.equal(sent.length, 4, 'each device once');
    assert.ok(sent.every((x) => !JSON.stringify(x.json).includes('FCM_SERVER_KEY') && !JSON.stringify(x.headers).includes('FCM_SERVER_KEY')), 'the legacy key goes nowhere');
    const told = warnings.filter((w) => w.obj.field === 'android.api_key');
    assert.equal(told.length, 1, `said once: ${JSON.stringify(warnings)}`);
    assert.match(told[0]!.msg!, /android\.api_key .* is ignored: .*FCM v1 provider/);
  } finally {
    await h.close();
  }
});

test('a provider configured with another Firebase project (SENDER_ID_MISMATCH for every token): the job fails, not retried, and no token is called invalid', async () => {
  const h = await harness('sqlite', config, ['pn']);
  loop.answer = (hit) => hit.path === '/token'
    ? { body: { access_token: 'ya29.x', expires_in: 3600 } }
    : { status: 403, body: { error: { code: 403, message: 'SenderId mismatch', status: 'PERMISSION_DENIED', details: [{ errorCode: 'SENDER_ID_MISMATCH' }] } } };
  const events: TokenInvalidEvent[] = [];
  const onInvalid = (e: TokenInvalidEvent) => events.push(e);
  pushEvents.on(TOKEN_INVALID_EVENT, onInvalid);
  try {
    const job = await h.fusion.enqueue('push', { tokens: [FCM_TOKEN(7), FCM_TOKEN(8)], platform: 'android', title: 'x' }, { maxAttempts: 3 });
    const done = await h.settled(job.id);
    assert.deepEqual([done.state, done.attempts, done.error?.code, done.error?.retryable], ['failed', 1, 'SENDER_ID_MISMATCH', false]);
    assert.deepEqual([done.error?.details?.invalid, done.error?.details?.failed, done.error?.details?.invalidTokens], [0, 2, []]);
    assert.deepEqual(events, [], 'no push.token-invalid: the devices are fine, the provider\'s project is not');
  } finally {
    pushEvents.off(TOKEN_INVALID_EVENT, onInvalid);
    await h.close();
  }
});

for (const target of ['sqlite', 'redis'] as const) {
  test(`end to end on ${target}: POST /queue/ task 3 (original android + ios form) → FCM and APNs → /jobInfo/ finished with the provider ids`, { skip: target === 'redis' && skipRedis }, async () => {
    const h = await harness(target, config, ['pn']);
    loop.answer = (hit) => hit.path === '/token' ? { body: { access_token: 'ya29.e2e', expires_in: 3600 } } : { body: { name: 'projects/fusion-test/messages/0:e2e' } };
    apns.answer = () => ({ status: 200, apnsId: 'E2E00000-0000-0000-0000-000000000001' });
    const fcmBefore = loop.at(SEND).length;
    const apnsBefore = apns.hits.length;
    try {
      const q = await h.app.inject({ method: 'POST', url: '/queue/', payload: { payload: {
        task: 3,
        android: { collapse_key: 'orders', api_key: 'FCM_SERVER_KEY', registration_ids: [FCM_TOKEN(1)], data: { message: 'Order shipped', category: 'orders', custom_data: { id: 7 } } },
        ios: { category: 'orders', certificate: 'certificate.pem', tokens: [IOS_TOKEN(9)], aps: { alert: 'Order shipped', badge: 1, sound: 'default' } },
      } } });
      assert.equal(q.statusCode, 200, q.body);
      const id = q.json().job_id;
      const done = await h.settled(id);
      assert.equal(done.state, 'completed', JSON.stringify(done.error));
      assert.equal(done.queue, 'pn');
      const info = (await h.app.inject({ method: 'POST', url: '/jobInfo/', payload: { job_id: id } })).json();
      assert.equal(info.status, 'finished');
      assert.equal(info.result.provider, 'fcm,apns');
      assert.equal(info.result.messageId, 'projects/fusion-test/messages/0:e2e');
      assert.deepEqual(info.result.results.map((r: TokenResult) => [r.platform, r.status, r.messageId]), [
        ['android', 'sent', 'projects/fusion-test/messages/0:e2e'],
        ['ios', 'sent', 'E2E00000-0000-0000-0000-000000000001'],
      ]);
      const fcmHit = loop.at(SEND).slice(fcmBefore)[0]!;
      assert.deepEqual(fcmHit.json, { message: { token: FCM_TOKEN(1), data: { message: 'Order shipped', category: 'orders', custom_data: '{"id":7}' }, android: { collapse_key: 'orders' } } });
      const a = apns.hits.slice(apnsBefore)[0]!;
      assert.equal(a.headers[':path'], `/3/device/${IOS_TOKEN(9)}`);
      assert.deepEqual(a.body, { aps: { category: 'orders', alert: 'Order shipped', badge: 1, sound: 'default' } });
    } finally {
      await h.close();
    }
  });
}

test('a platform whose provider is over its send rate: the job keeps the devices sent in its progress and is snoozed for the rest, no attempt spent', async () => {
  // APNs at one send per 20 s: the first job takes the slot; the second's is past the longest wait (10 s).
  const rated = { channels: { push: { providers: { ...config.channels.push.providers, apns: { ...config.channels.push.providers.apns, ratePerSecond: 0.05 } } } } };
  const h = await harness('sqlite', rated, ['pn']);
  loop.answer = (hit) => hit.path === '/token' ? { body: { access_token: 'ya29.rate', expires_in: 3600 } } : { body: { name: 'projects/fusion-test/messages/0:rate' } };
  apns.answer = () => ({ status: 200, apnsId: 'RATE0000-0000-0000-0000-000000000001' });
  const fcmBefore = loop.at(SEND).length;
  const apnsBefore = apns.hits.length;
  try {
    const first = await h.fusion.enqueue('push', { tokens: [{ platform: 'ios', token: IOS_TOKEN(1) }], title: 'first' });
    assert.equal((await h.settled(first.id)).state, 'completed');
    const second = await h.fusion.enqueue('push', { tokens: [{ platform: 'android', token: FCM_TOKEN(2) }, { platform: 'ios', token: IOS_TOKEN(2) }], title: 'second' }, { maxAttempts: 1 });
    let job = await h.fusion.store.getJob({ id: second.id });
    await until(async () => (job = await h.fusion.store.getJob({ id: second.id }))!.history.some((r) => r.outcome === 'snoozed'), 10_000, 'the second job is snoozed', 10);
    assert.deepEqual([job!.state, job!.attempts], ['scheduled', 0]);
    assert.ok(job!.runAt - Date.now() > 5_000, `back when its slot is near: in ${job!.runAt - Date.now()} ms`);
    const tokens = (job!.progress as { push: { tokens: Record<string, TokenResult> } }).push.tokens;
    assert.equal(tokens[`android:${FCM_TOKEN(2)}`]!.status, 'sent');
    assert.equal(tokens[`ios:${IOS_TOKEN(2)}`], undefined, 'the iOS device waits, untried');
    assert.deepEqual(loop.at(SEND).slice(fcmBefore).map((x) => x.json.message.token), [FCM_TOKEN(2)]);
    assert.equal(apns.hits.length - apnsBefore, 1, 'APNs got the first job only');
  } finally {
    await h.close();
  }
});

test('a platform over its send rate while the other fails retryably: a retry while attempts are left, then a snooze', async () => {
  const rated = { channels: { push: { providers: { ...config.channels.push.providers, apns: { ...config.channels.push.providers.apns, ratePerSecond: 0.05 } } } } };
  const h = await harness('sqlite', rated, ['pn']);
  loop.answer = (hit) => hit.path === '/token' ? { body: { access_token: 'ya29.mixed', expires_in: 3600 } } : { status: 503, body: { error: { status: 'UNAVAILABLE', message: 'try later' } } };
  apns.answer = () => ({ status: 200, apnsId: 'MIXED000-0000-0000-0000-000000000001' });
  try {
    const first = await h.fusion.enqueue('push', { tokens: [{ platform: 'ios', token: IOS_TOKEN(3) }], title: 'takes the slot' });
    assert.equal((await h.settled(first.id)).state, 'completed');
    const tokens = [{ platform: 'android', token: FCM_TOKEN(5) }, { platform: 'ios', token: IOS_TOKEN(5) }];
    const twoAttempts = await h.fusion.enqueue('push', { tokens, title: 'mixed' }, { maxAttempts: 2, backoff: { type: 'fixed', delay: 60_000 } });
    const lastAttempt = await h.fusion.enqueue('push', { tokens, title: 'mixed, last' }, { maxAttempts: 1 });
    const ended = async (id: string) => {
      let job = await h.fusion.store.getJob({ id });
      await until(async () => (job = await h.fusion.store.getJob({ id }))!.state === 'scheduled', 10_000, `job ${id} put back`, 10);
      return job!;
    };
    const retried = await ended(twoAttempts.id);
    assert.deepEqual([retried.attempts, retried.history.at(-1)!.outcome], [1, 'retrying'], 'an attempt is left: retried, the waiting device along');
    const snoozed = await ended(lastAttempt.id);
    assert.deepEqual([snoozed.attempts, snoozed.history.at(-1)!.outcome], [0, 'snoozed'], 'no attempt left: snoozed, not failed with a device untried');
  } finally {
    await h.close();
  }
});

test('dry run: with no push provider configured the job completes as dry-run for every token', async () => {
  const h = await harness('sqlite', {}, ['pn']);
  try {
    const job = await h.fusion.enqueue('push', { tokens: [{ platform: 'ios', token: IOS_TOKEN(1) }, { platform: 'android', token: FCM_TOKEN(1) }], title: 'x' });
    const done = await h.settled(job.id);
    assert.equal(done.state, 'completed');
    assert.deepEqual((done.result as { results: TokenResult[] }).results.map((r) => [r.platform, r.provider, r.status]), [['android', 'dry-run', 'sent'], ['ios', 'dry-run', 'sent']]);
  } finally {
    await h.close();
  }
});
