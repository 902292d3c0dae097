// FCM HTTP v1 against loopback stand-ins: the service-account OAuth exchange (the JWT assertion
// verified with the account's public key), the access token cached, the exact send request, and each
// per-token answer classified (sent, invalid, retryable, refused).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { importSPKI, jwtVerify } from 'jose';
import { fcm, FCM_SCOPE } from '../../src/channels/push/fcm.js';
import { parsePushPayload } from '../../src/channels/push/payload.js';
import { ProviderError, type ProviderContext } from '../../src/channels/provider.js';
import { FusionError } from '../../src/core/errors.js';
import type { PushMessage, PushSendRaw } from '../../src/channels/push/message.js';
import { guardedDispatcher } from './providers/stand-in.js';
import { FCM_TOKEN, Loop, serviceAccount } from './push-fixtures.js';

const loop = await new Loop().start();
const dispatcher = guardedDispatcher();
after(async () => {
  await loop.close();
  await dispatcher.destroy();
});
const { account, publicKey } = serviceAccount(`${loop.base}/token`);
let tokens = 0;
const ctx = (now = Date.now()): ProviderContext => ({ signal: new AbortController().signal, dispatcher, now: () => now, jobId: 'job-1', attempt: 1 });
const android = (ts: string[], over: Partial<Extract<PushMessage, { platform: 'android' }>['part']> = {}): PushMessage => ({ platform: 'android', part: { tokens: ts, title: 'Hi', body: 'There', ...over } });

function fcmAnswers(byToken: Record<string, { status: number; body: unknown }>) {
  loop.answer = (h) => {
    if (h.path === '/token') {
      tokens++;
      return { status: 200, body: { access_token: `ya29.access-${tokens}`, expires_in: 3599, token_type: 'Bearer' } };
    }
    const t = h.json?.message?.token as string;
    return byToken[t] ?? { status: 200, body: { name: `projects/fusion-test/messages/m-${t.slice(10, 12)}` } };
  };
}

test('fcm: the OAuth assertion verifies with the service account public key; the send request is FCM v1', async () => {
  fcmAnswers({});
  loop.hits.length = 0;
  const p = fcm.create('fcm-main', { serviceAccount: account, baseUrl: loop.base });
  const r = await p.send(android([FCM_TOKEN(1)], { data: { order: '42' }, collapseKey: 'orders', priority: 'high', ttlSeconds: 600 }), ctx());
  assert.equal(r.status, 'sent');
  assert.equal(r.messageId, 'projects/fusion-test/messages/m-1:');

  const tokenHit = loop.at('/token')[0]!;
  assert.equal(tokenHit.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(tokenHit.form.get('grant_type'), 'urn:ietf:params:oauth:grant-type:jwt-bearer');
  const { payload, protectedHeader } = await jwtVerify(tokenHit.form.get('assertion')!, await importSPKI(publicKey, 'RS256'), { audience: `${loop.base}/token`, issuer: account.client_email });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(protectedHeader.kid, 'kid-1');
  assert.equal(payload.scope, FCM_SCOPE);
  assert.equal((payload.exp as number) - (payload.iat as number), 3600);

  const send = loop.at('/v1/projects/fusion-test/messages:send')[0]!;
  assert.equal(send.method, 'POST');
  assert.match(send.headers.authorization!, /^Bearer ya29\.access-\d+$/);
  assert.deepEqual(send.json, {
    message: {
      token: FCM_TOKEN(1),
      notification: { title: 'Hi', body: 'There' },
      data: { order: '42' },
      android: { collapse_key: 'orders', priority: 'HIGH', ttl: '600s' },
    },
  });
});

test('fcm: the access token is cached until shortly before it expires, then exchanged again', async () => {
  fcmAnswers({});
  const p = fcm.create('fcm-cache', { serviceAccount: account, baseUrl: loop.base, projectId: 'other-project' });
  const before = loop.at('/token').length;
  const t0 = Date.now();
  await p.send(android([FCM_TOKEN(1), FCM_TOKEN(2), FCM_TOKEN(3)]), ctx(t0));
  await p.send(android([FCM_TOKEN(4)]), ctx(t0 + 30 * 60_000));
  assert.equal(loop.at('/token').length - before, 1, 'one exchange for four sends within the hour');
  assert.equal(loop.at('/v1/projects/other-project/messages:send').length, 4);
  await p.send(android([FCM_TOKEN(5)]), ctx(t0 + 3599_000 - 30_000));
  assert.equal(loop.at('/token').length - before, 2, 'renewed within the last minute of its life');
});

test('fcm: per-token answers: UNREGISTERED and INVALID_ARGUMENT on the token are invalid, 503 retryable, other refusals not', async () => {
  const fcmErr = (status: number, s: string, extra: object = {}) => ({ status, body: { error: { code: status, message: `${s} happened`, status: s, ...extra } } });
  fcmAnswers({
    [FCM_TOKEN(2)]: fcmErr(404, 'NOT_FOUND', { details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }] }),
    [FCM_TOKEN(3)]: { status: 400, body: { error: { code: 400, message: 'The registration token is not a valid FCM registration token', status: 'INVALID_ARGUMENT' } } },
    [FCM_TOKEN(4)]: fcmErr(503, 'UNAVAILABLE'),
    [FCM_TOKEN(5)]: fcmErr(400, 'INVALID_ARGUMENT', { details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'message.data', description: 'bad' }] }] }),
  });
  const p = fcm.create('fcm-mixed', { serviceAccount: account, baseUrl: loop.base });
  const r = await p.send(android([1, 2, 3, 4, 5].map(FCM_TOKEN)), ctx());
  const results = (r.raw as PushSendRaw).results;
  assert.deepEqual(results.map((x) => [x.status, x.code ?? null, x.retryable ?? null]), [
    ['sent', null, null],
    ['invalid', 'UNREGISTERED', false],
    ['invalid', 'INVALID_ARGUMENT', false],
    ['failed', 'UNAVAILABLE', true],
    ['failed', 'INVALID_ARGUMENT', false],
  ]);
  assert.ok(results.every((x) => x.provider === 'fcm-mixed'));
});

test('fcm: SENDER_ID_MISMATCH (a provider configured with another Firebase project) refuses the token, not retryable, and does not call it invalid', async () => {
  const mismatch = { status: 403, body: { error: { code: 403, message: 'SenderId mismatch', status: 'PERMISSION_DENIED', details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'SENDER_ID_MISMATCH' }] } } };
  fcmAnswers(Object.fromEntries([1, 2, 3].map((i) => [FCM_TOKEN(i), mismatch])));
  const p = fcm.create('fcm-wrong-project', { serviceAccount: { ...account, project_id: 'another-project' }, baseUrl: loop.base });
  const r = await p.send(android([1, 2, 3].map(FCM_TOKEN)), ctx());
  const results = (r.raw as PushSendRaw).results;
  assert.deepEqual(results.map((x) => [x.status, x.code, x.retryable]), Array(3).fill(['failed', 'SENDER_ID_MISMATCH', false]));
  assert.match(results[0]!.error!, /^403 SenderId mismatch: the token is another Firebase project's than this provider's/);
  assert.equal(r.status, 'failed');
});

test('fcm: every token failing retryably is the provider failing (thrown, retryable, Retry-After kept); a refused token exchange is not retryable', async () => {
  fcmAnswers({ [FCM_TOKEN(1)]: { status: 429, body: { error: { status: 'QUOTA_EXCEEDED', message: 'slow down' } } } });
  const orig = loop.answer;
  loop.answer = (h) => (h.path === '/token' ? orig(h) : { ...orig(h), headers: { 'retry-after': '9' } });
  const p = fcm.create('fcm-down', { serviceAccount: account, baseUrl: loop.base });
  await assert.rejects(p.send(android([FCM_TOKEN(1)]), ctx()), (e: ProviderError) => e.retryable && e.code === 'QUOTA_EXCEEDED' && e.retryAfterMs === 9000);

  loop.answer = (h) => (h.path === '/token' ? { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } } : { status: 200, body: { name: 'x' } });
  const q = fcm.create('fcm-badkey', { serviceAccount: account, baseUrl: loop.base });
  await assert.rejects(q.send(android([FCM_TOKEN(1)]), ctx()), (e: ProviderError) => !e.retryable && e.code === 'oauth_invalid_grant' && !e.message.includes('PRIVATE KEY'));
});

test('payload: the original android/ios form and the native form; a legacy api_key is ignored and flagged', () => {
  const orig = parsePushPayload({
    task: 3,
    android: { collapse_key: 'news', registration_ids: [FCM_TOKEN(1), FCM_TOKEN(2)], data: { message: 'Hello', category: 'c', custom_data: { a: 1 } } },
    ios: { category: 'news', certificate: 'certificate.pem', tokens: ['ab'.repeat(32)], aps: { alert: 'Hello', badge: 1, sound: 'default' } },
  });
  assert.deepEqual(orig.android, { tokens: [FCM_TOKEN(1), FCM_TOKEN(2)], data: { message: 'Hello', category: 'c', custom_data: '{"a":1}' }, collapseKey: 'news' });
  assert.deepEqual(orig.ios, { tokens: ['ab'.repeat(32)], category: 'news', aps: { alert: 'Hello', badge: 1, sound: 'default' } });
  const native = parsePushPayload({ tokens: [{ platform: 'ios', token: 'cd'.repeat(32) }, { platform: 'android', token: FCM_TOKEN(3) }], title: 'T', body: 'B', data: { k: 'v' }, ios: { badge: 3 }, android: { title: 'Android T' } });
  assert.equal(native.android!.title, 'Android T');
  assert.equal(native.ios!.title, 'T');
  assert.equal(native.ios!.badge, 3);
  const field = (p: unknown) => {
    try {
      parsePushPayload(p);
      return 'accepted';
    } catch (e) {
      assert.ok(e instanceof FusionError);
      return [e.details.field, e.message];
    }
  };
  const keyed = parsePushPayload({ android: { api_key: 'AAAA', registration_ids: [FCM_TOKEN(1)], data: { m: 'x' } } });
  assert.deepEqual(keyed.android, { tokens: [FCM_TOKEN(1)], data: { m: 'x' } }, 'the key is not part of the message');
  assert.equal(keyed.legacyKey, true, 'the channel says it ignored the key');
  assert.equal(orig.legacyKey, undefined);
  assert.equal(field({ android: { server_key: 'AAAA', registration_ids: [FCM_TOKEN(1)], data: { m: 'x' } } })[0], 'android.server_key', 'other credential fields are still refused');
  assert.deepEqual(field({ tokens: [FCM_TOKEN(1)], title: 'x' })[0], 'platform');
  assert.deepEqual(field({ ios: { tokens: ['../../etc'], aps: {} } })[0], 'ios.tokens.0');
  assert.deepEqual(field({ title: 'x' })[0], 'tokens');
});
