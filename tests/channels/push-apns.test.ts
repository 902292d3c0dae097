// APNs over a local HTTP/2 TLS server (self-signed certificate made per run, trusted through the
// adapter's `ca`): token auth (the ES256 JWT verified with the key's public half, cached), certificate
// auth (the server requires and checks the client certificate), the exact headers and body, per-token
// reasons classified, and the guard refusing a private address the http2 connection would reach.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { importSPKI, jwtVerify, decodeProtectedHeader } from 'jose';
import { apnsFactory } from '../../src/channels/push/apns.js';
import { OutgoingGuard } from '../../src/channels/http/guard.js';
import { checkedAddress } from '../../src/channels/push/guarded-connect.js';
import { ProviderError, type ProviderContext } from '../../src/channels/provider.js';
import type { PushMessage, PushSendRaw } from '../../src/channels/push/message.js';
import { tempDir } from '../helpers/tmp.js';
import { FakeApns, IOS_TOKEN, apnsKey, selfSigned } from './push-fixtures.js';

const tmp = tempDir('fusion-apns-');
const server = selfSigned(tmp.dir, 'apns-server');
const client = selfSigned(tmp.dir, 'fusion-push-client');
const tokenApns = await new FakeApns(server).start();
const certApns = await new FakeApns({ ...server, clientCa: client.cert }).start();
const key = apnsKey();
const loopback = new OutgoingGuard({ allow: ['127.0.0.1/32'] });
after(async () => {
  await tokenApns.close();
  await certApns.close();
  tmp.remove();
});

const ctx = (now = Date.now()): ProviderContext => ({ signal: new AbortController().signal, dispatcher: loopback.dispatcher(), now: () => now, jobId: 'job-1', attempt: 1 });
const ios = (tokens: string[], over: Partial<Extract<PushMessage, { platform: 'ios' }>['part']> = {}): PushMessage => ({ platform: 'ios', part: { tokens, title: 'Hello', body: 'World', ...over } });
const tokenAuth = (over: Record<string, unknown> = {}) => apnsFactory(loopback).create('apns-main', { baseUrl: tokenApns.base, ca: server.cert, topic: 'com.example.app', keyId: 'ABC123DEFG', teamId: 'TEAM123456', signingKey: key.privateKey, ...over });

test('apns token auth: ES256 JWT (kid, iss) verifies with the public key and is reused; the exact headers and body', async () => {
  tokenApns.hits.length = 0;
  tokenApns.answer = () => ({ status: 200, apnsId: 'A1B2C3D4-0000-1111-2222-333344445555' });
  const p = tokenAuth();
  const t0 = Date.now();
  const r = await p.send(ios([IOS_TOKEN(1)], { badge: 2, sound: 'default', category: 'NEWS', collapseId: 'news-1', expiration: 1900000000, data: { orderId: 42 } }), ctx(t0));
  assert.equal(r.messageId, 'A1B2C3D4-0000-1111-2222-333344445555');
  const h = tokenApns.hits[0]!;
  assert.equal(h.headers[':method'], 'POST');
  assert.equal(h.headers[':path'], `/3/device/${IOS_TOKEN(1)}`);
  assert.equal(h.headers['apns-topic'], 'com.example.app');
  assert.equal(h.headers['apns-push-type'], 'alert');
  assert.equal(h.headers['apns-priority'], '10');
  assert.equal(h.headers['apns-collapse-id'], 'news-1');
  assert.equal(h.headers['apns-expiration'], '1900000000');
  assert.deepEqual(h.body, { orderId: 42, aps: { alert: { title: 'Hello', body: 'World' }, badge: 2, sound: 'default', category: 'NEWS' } });
  const jwt = String(h.headers.authorization).replace(/^bearer /, '');
  const { payload } = await jwtVerify(jwt, await importSPKI(key.publicKey, 'ES256'), { issuer: 'TEAM123456' });
  assert.deepEqual(decodeProtectedHeader(jwt), { alg: 'ES256', kid: 'ABC123DEFG' });
  assert.equal(payload.iat, Math.floor(t0 / 1000));

  // The same JWT for 50 minutes (Apple refuses refreshes more often than every 20), then a new one.
  await p.send(ios([IOS_TOKEN(2)]), ctx(t0 + 49 * 60_000));
  assert.equal(tokenApns.hits[1]!.headers.authorization, h.headers.authorization);
  await p.send(ios([IOS_TOKEN(3)]), ctx(t0 + 51 * 60_000));
  assert.notEqual(tokenApns.hits[2]!.headers.authorization, h.headers.authorization);

  // A background push: content-available, push type background, priority 5, no alert.
  await p.send(ios([IOS_TOKEN(4)], { title: undefined, body: undefined, pushType: 'background' }), ctx());
  const bg = tokenApns.hits.at(-1)!;
  assert.deepEqual([bg.headers['apns-push-type'], bg.headers['apns-priority'], bg.body], ['background', '5', { aps: { 'content-available': 1 } }]);
});

test('apns token auth: a job\'s concurrent streams share one provider token; one ExpiredProviderToken answer across them mints one new token, not one per stream', async () => {
  tokenApns.hits.length = 0;
  tokenApns.answer = () => ({ status: 200 });
  const p = tokenAuth();
  // A first send of many streams at once signs one token.
  await p.send(ios(Array.from({ length: 10 }, (_, i) => IOS_TOKEN(10 + i))), ctx());
  const used = new Set(tokenApns.hits.map((h) => String(h.headers.authorization)));
  assert.equal(used.size, 1, `${used.size} provider tokens for one job's first streams`);
  const [first] = used;
  // APNs now calls that token expired (clock skew, say): every stream carrying it gets 403.
  tokenApns.hits.length = 0;
  tokenApns.answer = (h) => (h.headers.authorization === first ? { status: 403, body: { reason: 'ExpiredProviderToken' } } : { status: 200 });
  const r = await p.send(ios(Array.from({ length: 20 }, (_, i) => IOS_TOKEN(100 + i))), ctx());
  assert.deepEqual((r.raw as PushSendRaw).results.map((x) => x.status), Array(20).fill('sent'), 'each refused stream tried once more with the new token');
  const minted = new Set(tokenApns.hits.map((h) => String(h.headers.authorization)).filter((a) => a !== first));
  assert.equal(minted.size, 1, `${minted.size} new provider tokens sent on one connection within a second`);
});

test('apns certificate auth: the client certificate is presented over TLS; no authorization header', async () => {
  certApns.hits.length = 0;
  const p = apnsFactory(loopback).create('apns-cert', { baseUrl: certApns.base, ca: server.cert, topic: 'com.example.app', cert: client.cert, key: client.key });
  const r = await p.send(ios([IOS_TOKEN(1), IOS_TOKEN(2)], { aps: { alert: 'From the original aps', sound: 'default' }, title: undefined, body: undefined }), ctx());
  assert.equal(r.status, 'sent');
  assert.equal(certApns.hits.length, 2);
  for (const h of certApns.hits) {
    assert.equal(h.clientCn, 'fusion-push-client');
    assert.equal(h.headers.authorization, undefined);
    assert.deepEqual(h.body, { aps: { alert: 'From the original aps', sound: 'default' } });
  }
  // Without the client certificate the server refuses the handshake: a retryable network failure of the provider.
  const bare = apnsFactory(loopback).create('apns-nocert', { baseUrl: certApns.base, ca: server.cert, topic: 'com.example.app', keyId: 'K', teamId: 'T', signingKey: key.privateKey });
  await assert.rejects(bare.send(ios([IOS_TOKEN(1)]), ctx()), (e: ProviderError) => e.retryable && e.code === 'network_error');
});

test('apns: 410 Unregistered and BadDeviceToken are invalid; 429/503 retryable; DeviceTokenNotForTopic refused; all retryable → thrown', async () => {
  tokenApns.answer = (h) => {
    const t = String(h.headers[':path']).split('/').pop();
    if (t === IOS_TOKEN(2)) return { status: 410, body: { reason: 'Unregistered', timestamp: 1700000000000 } };
    if (t === IOS_TOKEN(3)) return { status: 400, body: { reason: 'BadDeviceToken' } };
    if (t === IOS_TOKEN(4)) return { status: 503, body: { reason: 'ServiceUnavailable' } };
    if (t === IOS_TOKEN(5)) return { status: 400, body: { reason: 'DeviceTokenNotForTopic' } };
    return { status: 200 };
  };
  const r = await tokenAuth().send(ios([1, 2, 3, 4, 5].map(IOS_TOKEN)), ctx());
  const results = (r.raw as PushSendRaw).results;
  assert.deepEqual(results.map((x) => [x.status, x.code ?? null, x.retryable ?? null]), [
    ['sent', null, null],
    ['invalid', 'Unregistered', false],
    ['invalid', 'BadDeviceToken', false],
    ['failed', 'ServiceUnavailable', true],
    ['failed', 'DeviceTokenNotForTopic', false],
  ]);
  tokenApns.answer = () => ({ status: 429, body: { reason: 'TooManyRequests' } });
  await assert.rejects(tokenAuth().send(ios([IOS_TOKEN(1), IOS_TOKEN(2)]), ctx()), (e: ProviderError) => e.retryable && e.code === 'TooManyRequests');
});

test('apns through the guard: a private address is refused before any connection; a trusted one passes', async () => {
  const strict = new OutgoingGuard();
  const p = apnsFactory(strict).create('apns-strict', { baseUrl: tokenApns.base, ca: server.cert, topic: 'com.example.app', keyId: 'K', teamId: 'T', signingKey: key.privateKey });
  const before = tokenApns.hits.length;
  await assert.rejects(p.send(ios([IOS_TOKEN(1)]), ctx()), (e: ProviderError) => e.code === 'outgoing_refused' && !e.retryable && /127\.0\.0\.1/.test(e.message));
  assert.equal(tokenApns.hits.length, before, 'nothing reached the server');
  await assert.rejects(checkedAddress(strict, '10.1.2.3'), /private/);
  await assert.rejects(checkedAddress(strict, 'localhost'), /resolves to/);
  assert.deepEqual(await checkedAddress(new OutgoingGuard({ allow: ['localhost'] }), '127.0.0.1').catch(() => null), null, 'a host pattern does not vouch for an address literal');
  assert.equal((await checkedAddress(new OutgoingGuard({ allow: ['localhost'] }), 'localhost')).address.length > 0, true);
  assert.equal((await checkedAddress(strict, '93.184.216.34')).address, '93.184.216.34');
});
