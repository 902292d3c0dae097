// GET /v1/providers and the provider events: real sends through the sms pipeline to a loopback server
// playing the provider, a signed delivery report, a provider demoted by failures and restored when
// its cooldown ends (a manual clock moves time), on SQLite and on Redis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import { parseKeys } from '../../src/api/auth.js';
import { ManualClock } from '../../src/core/clock.js';
import type { HubEvent } from '../../src/core/events.js';
import type { FusionConfig } from '../../src/channels/config-types.js';
import type { RedisStore } from '../../src/stores/redis/store.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/await.js';
import { REDIS_URL, dropPrefix, redisSkip, testPrefix } from '../helpers/redis.js';
import { NUM, ProviderServer, loopFactory, twilioLikeSignature } from '../channels/sms-fixtures.js';
import { KEYS, KEY_SPEC } from './helpers.js';

const skipRedis = await redisSkip();
const TOKEN = 'loop-auth-token-9c1e77';

async function run(kind: 'sqlite' | 'redis'): Promise<void> {
  const srv = await new ProviderServer().start();
  const clock = new ManualClock(Date.now());
  const config: FusionConfig = {
    outgoing: { allow: ['127.0.0.1/32'] },
    channels: {
      sms: {
        providers: {
          a: { type: 'loop', url: srv.url('/a'), authToken: TOKEN, countries: ['+91'], ratePerSecond: 500 },
          b: { type: 'loop', url: srv.url('/b') },
        },
        routes: { '+91': ['a', 'b'], default: ['b'] },
        otpRoutes: { default: ['a'] },
        failover: { threshold: 2, windowMs: 60_000, cooldownMs: 60_000 },
      },
    },
  };
  const tmp = tempDir('fusion-providers-');
  const prefix = testPrefix();
  const fusion = await Fusion.open({
    store: kind === 'sqlite' ? `sqlite:${join(tmp.dir, 'f.db')}` : REDIS_URL,
    storeOptions: kind === 'redis' ? { prefix } : {},
    clock, config, providers: [loopFactory], events: { pollMs: 25 },
  });
  const app = await buildServer({ fusion, processMetrics: false, apiKeys: parseKeys(KEY_SPEC) });
  await app.ready();
  const sub = fusion.events({ types: ['provider'] });
  const seen: HubEvent[] = [];
  void (async () => {
    for await (const e of sub) seen.push(e);
  })();
  const providers = async (as: keyof typeof KEYS = 'read') => app.inject({ method: 'GET', url: '/v1/providers', headers: { authorization: `Bearer ${KEYS[as]}` } });
  try {
    fusion.worker({ queues: ['sms'], concurrency: 4 });
    const settled = (ids: string[]) => until(async () => (await Promise.all(ids.map((id) => fusion.store.getJob({ id })))).every((j) => j?.state === 'completed' || j?.state === 'failed'), 15_000, 'jobs settled');

    // Three sends accepted by a (+91 goes to a first).
    const ok = await Promise.all([1, 2, 3].map((i) => fusion.enqueue('sms', { to: NUM.in, text: `ok ${i}` })));
    await settled(ok.map((j) => j.id));
    const first = (await fusion.store.getJob({ id: ok[0]!.id }))!;
    assert.equal((first.result as { provider: string }).provider, 'a');

    // A delivery report for one of them.
    const url = '/v1/providers/sms/a/reports';
    const form = { MessageSid: (first.result as { messageId: string }).messageId, MessageStatus: 'delivered' };
    const rep = await app.inject({
      method: 'POST', url, payload: new URLSearchParams(form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioLikeSignature(TOKEN, `http://localhost:80${url}`, form) },
    });
    assert.deepEqual(rep.json(), { received: 1, matched: 1, updated: 1 });

    // Two retryable failures at a demote it (threshold 2).
    srv.answer('/a', 503, { error: 'down' });
    const bad = await Promise.all([1, 2].map((i) => fusion.enqueue('sms', { to: NUM.in, text: `bad ${i}` }, { maxAttempts: 1 })));
    await settled(bad.map((j) => j.id));
    await until(() => seen.some((e) => e.type === 'provider.demoted'), 10_000, 'provider.demoted event');
    const demoted = seen.find((e) => e.type === 'provider.demoted')!;
    assert.equal(demoted.queue, 'sms');
    assert.deepEqual(demoted.provider, { channel: 'sms', name: 'a', type: 'loop', demotedUntil: demoted.provider!.demotedUntil });
    assert.ok(demoted.provider!.demotedUntil! > clock.now());

    const r = await providers();
    assert.equal(r.statusCode, 200, r.body);
    const all = r.json().items as Record<string, any>[];
    // A channel with no provider configured shows its dry-run provider.
    assert.ok(all.some((p) => p.channel === 'email' && p.name === 'dry-run' && p.type === 'dry-run'));
    const items = all.filter((p) => p.channel === 'sms');
    assert.deepEqual(items.map((p) => p.name), ['a', 'b']);
    const a = items[0]!;
    assert.equal(a.type, 'loop');
    assert.deepEqual(a.countries, ['+91']);
    assert.equal(a.ratePerSecond, 500);
    assert.deepEqual(a.routes, ['+91', 'otp:default']);
    assert.equal(a.demoted, true);
    assert.equal(Date.parse(a.demotedUntil), demoted.provider!.demotedUntil);
    for (const w of [a.stats.lastHour, a.stats.last24h]) {
      assert.deepEqual({ sent: w.sent, failed: w.failed, delivered: w.delivered, undelivered: w.undelivered }, { sent: 3, failed: 2, delivered: 1, undelivered: 0 });
      assert.equal(w.latency.samples, 5);
      assert.ok(w.latency.p50Ms !== null && w.latency.p95Ms >= w.latency.p50Ms && w.latency.meanMs >= 0, JSON.stringify(w.latency));
    }
    const b = items[1]!;
    assert.deepEqual(b.routes, ['+91', 'default']);
    assert.equal(b.demoted, false);
    assert.equal(b.stats.lastHour.sent, 0);
    // No config value beyond type, countries and rate: not the token, not the provider's URL.
    assert.doesNotMatch(r.body, new RegExp(`${TOKEN}|127\\.0\\.0\\.1|${srv.port}`));

    // The send-only key may not read it; no key at all is a 401.
    assert.equal((await providers('send')).statusCode, 403);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/providers' })).statusCode, 401);

    // While a is demoted, +91 goes to b; when its cooldown ends, a is restored.
    srv.answer('/a', 200, { id: 'never-used' });
    const during = await fusion.enqueue('sms', { to: NUM.in, text: 'during' });
    await settled([during.id]);
    assert.equal(((await fusion.store.getJob({ id: during.id }))!.result as { provider: string }).provider, 'b');
    clock.advance(61_000);
    await until(() => seen.some((e) => e.type === 'provider.restored'), 10_000, 'provider.restored event');
    const restored = seen.find((e) => e.type === 'provider.restored')!;
    assert.deepEqual(restored.provider, { channel: 'sms', name: 'a', type: 'loop', demotedUntil: null });
    assert.ok(restored.seq > demoted.seq);
    assert.equal(seen.filter((e) => e.type.startsWith('provider.')).length, 2, 'one demotion, one restoration');
    const after = ((await providers()).json().items as Record<string, any>[]).filter((p) => p.channel === 'sms');
    assert.equal(after[0]!.demoted, false);
    assert.equal(after[0]!.demotedUntil, null);
    assert.equal(after[1]!.stats.lastHour.sent, 1);
  } finally {
    sub.close();
    await app.close();
    if (kind === 'redis') await dropPrefix((fusion.store as RedisStore).client, prefix);
    await fusion.close(200);
    tmp.remove();
    await srv.close();
  }
}

test('GET /v1/providers: config without secrets, routes, stats (sent, failed, delivered, latency), demotion; provider.demoted/restored events (SQLite)', () => run('sqlite'));
test('GET /v1/providers and provider events on Redis', { skip: skipRedis }, () => run('redis'));

test('/v1/events announces provider events over SSE with ISO times', async () => {
  // The view function the SSE route uses for every frame.
  const { eventView } = await import('../../src/api/routes/events.js');
  const at = Date.UTC(2026, 0, 2, 3, 4, 5);
  const v = eventView({ id: 'e-1', seq: 1, type: 'provider.demoted', at, queue: 'sms', provider: { channel: 'sms', name: 'a', type: 'loop', demotedUntil: at + 1000 } });
  assert.deepEqual(v, { id: 'e-1', type: 'provider.demoted', at: '2026-01-02T03:04:05.000Z', queue: 'sms', provider: { channel: 'sms', name: 'a', type: 'loop', demotedUntil: '2026-01-02T03:04:06.000Z' } });
});
