// GET /v1/breakers, the fusion_host_breakers gauge and the breaker events: breakers per destination host opened and
// closed by HostBreaker on the store's own shared state (as the webhook and callback handlers use
// it; tests/channels/webhook-breaker.test.ts opens them with real requests), time moved by a manual
// clock, on SQLite, Redis and PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import { parseKeys } from '../../src/api/auth.js';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { RedisStore } from '../../src/stores/redis/store.js';
import { HostBreaker } from '../../src/channels/http/host-breaker.js';
import { EventHub, type BreakerState, type HubEvent } from '../../src/core/events.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { until } from '../helpers/await.js';
import { tempDir } from '../helpers/tmp.js';
import { REDIS_URL, dropPrefix, redisSkip, testPrefix } from '../helpers/redis.js';
import { dropSchema, pgSkip, schemaUrl, testSchema } from '../helpers/postgres.js';
import { KEYS, KEY_SPEC } from './helpers.js';

const skipRedis = await redisSkip();
const skipPg = await pgSkip();
const JOB = { attempts: 1, maxAttempts: 3, backoff: { type: 'fixed' as const, delay: 1000 } };
const SPACING = 40_000;

async function run(kind: 'sqlite' | 'redis' | 'postgres'): Promise<void> {
  const clock = new ManualClock(Date.now());
  const tmp = tempDir('fusion-breakers-');
  const prefix = testPrefix();
  const schema = testSchema();
  const fusion = await Fusion.open({
    store: kind === 'sqlite' ? `sqlite:${join(tmp.dir, 'f.db')}` : kind === 'redis' ? REDIS_URL : schemaUrl(schema),
    storeOptions: kind === 'redis' ? { prefix } : {},
    clock, events: { pollMs: 25 },
  });
  const app = await buildServer({ fusion, processMetrics: false, apiKeys: parseKeys(KEY_SPEC) });
  await app.ready();
  const breakers = async (as: keyof typeof KEYS = 'read') => app.inject({ method: 'GET', url: '/v1/breakers', headers: { authorization: `Bearer ${KEYS[as]}` } });
  const gauge = async () => {
    clock.advance(5_000); // the gauge reads the store at most every 5 s
    const body = (await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${KEYS.read}` } })).body;
    return Object.fromEntries(['open', 'half-open', 'closed'].map((s) => [s, Number(new RegExp(`^fusion_host_breakers\\{state="${s}"\\} (\\d+)$`, 'm').exec(body)?.[1])]));
  };
  const sub = fusion.events({ types: ['breaker', 'worker'] });
  const seen: HubEvent[] = [];
  void (async () => {
    for await (const e of sub) seen.push(e);
  })();
  const event = (type: string, host: string) => until(() => seen.some((e) => e.type === type && e.breaker?.host === host), 10_000, `${type} ${host}`);
  try {
    // The hub compares breakers at each look; a worker's arrival shows its first look is behind it.
    const worker = fusion.worker({ queues: ['nothing-here'] });
    await until(() => seen.some((e) => e.type === 'worker.joined'), 10_000, 'worker.joined');
    await worker.stop(100);
    assert.deepEqual((await breakers()).json(), { items: [] }, 'none before any opened');
    assert.deepEqual(await gauge(), { open: 0, 'half-open': 0, closed: 0 });

    // Two workers' breakers on the store: a.example opens; b.example opens, is probed and closes.
    const one = new HostBreaker(fusion.store.shared, { threshold: 2, cooldownMs: 30_000 }, silentLogger);
    const two = new HostBreaker(fusion.store.shared, { threshold: 2, cooldownMs: 30_000 }, silentLogger);
    const A = 'https://a.example/hook';
    const B = 'http://b.example:8080/cb';
    const t0 = clock.now();
    const a = await one.admit(A, JOB, t0, SPACING);
    await one.failed(A, a, t0);
    await two.failed(A, a, t0);
    await event('breaker.opened', 'a.example');
    const b = await two.admit(B, JOB, t0, SPACING);
    for (let k = 0; k < 2; k++) await one.failed(B, b, t0);
    await event('breaker.opened', 'b.example:8080');
    const probe = await one.admit(B, JOB, t0 + 30_000, SPACING);
    assert.equal(probe.probe, true);
    await one.answered(B, probe, t0 + 30_010);
    await event('breaker.closed', 'b.example:8080');
    const opened = seen.find((e) => e.type === 'breaker.opened' && e.breaker?.host === 'a.example')!;
    assert.deepEqual(opened.breaker, { host: 'a.example', state: 'open', openUntil: t0 + 30_000, opens: 1 });

    const r = await breakers();
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json().items, [
      { host: 'a.example', state: 'open', openUntil: new Date(t0 + 30_000).toISOString(), opens: 1 },
      { host: 'b.example:8080', state: 'closed', openUntil: null, opens: 1 },
    ]);
    assert.deepEqual(await gauge(), { open: 1, 'half-open': 0, closed: 1 });

    // Past a's cooldown: half open. Its probe fails: open again, counted twice.
    clock.advance(31_000);
    assert.equal((await breakers()).json().items[0].state, 'half-open');
    assert.deepEqual(await gauge(), { open: 0, 'half-open': 1, closed: 1 });
    const aProbe = await two.admit(A, JOB, clock.now(), SPACING);
    assert.equal(aProbe.probe, true);
    await two.failed(A, aProbe, clock.now());
    assert.deepEqual((await breakers()).json().items[0], { host: 'a.example', state: 'open', openUntil: new Date(clock.now() + 30_000).toISOString(), opens: 2 });
    // Opened again: a second event for a.example; one event each way, no more.
    await until(() => seen.filter((e) => e.type === 'breaker.opened' && e.breaker?.host === 'a.example').length === 2, 10_000, 'a.example opened again');
    assert.deepEqual(seen.filter((e) => e.type.startsWith('breaker.')).map((e) => `${e.type} ${e.breaker!.host}`),
      ['breaker.opened a.example', 'breaker.opened b.example:8080', 'breaker.closed b.example:8080', 'breaker.opened a.example']);

    // The send-only key may not read it; no key at all is a 401.
    assert.equal((await breakers('send')).statusCode, 403);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/breakers' })).statusCode, 401);
  } finally {
    sub.close();
    await app.close();
    if (kind === 'redis') await dropPrefix((fusion.store as RedisStore).client, prefix);
    await fusion.close(200);
    if (kind === 'postgres') await dropSchema(schema);
    tmp.remove();
  }
}

test('GET /v1/breakers, fusion_host_breakers and breaker events: open, half-open and closed hosts, open first (SQLite)', () => run('sqlite'));
test('GET /v1/breakers and fusion_host_breakers on Redis', { skip: skipRedis }, () => run('redis'));
test('GET /v1/breakers and fusion_host_breakers on PostgreSQL', { skip: skipPg }, () => run('postgres'));

test('/v1/events announces breaker events over SSE with ISO times', async () => {
  const { eventView } = await import('../../src/api/routes/events.js');
  const at = Date.UTC(2026, 0, 2, 3, 4, 5);
  const v = eventView({ id: 'e-2', seq: 2, type: 'breaker.opened', at, breaker: { host: 'a.example', state: 'open', openUntil: at + 30_000, opens: 1 } });
  assert.deepEqual(v, { id: 'e-2', type: 'breaker.opened', at: '2026-01-02T03:04:05.000Z', breaker: { host: 'a.example', state: 'open', openUntil: '2026-01-02T03:04:35.000Z', opens: 1 } });
});

test('breaker events follow state and generation, not the count of openings; both when a breaker opened and closed between two looks', async () => {
  const tmp = tempDir('fusion-breaker-events-');
  const store = new SqliteStore(join(tmp.dir, 'f.db'));
  let list: BreakerState[] = [];
  let looks = 0;
  const hub = new EventHub(store, { pollMs: 0, breakers: async () => (looks++, list) });
  const sub = hub.subscribe({ types: ['breaker'] });
  const seen: string[] = [];
  void (async () => {
    for await (const e of sub) seen.push(`${e.type.slice(8)} ${e.breaker!.host} ${e.breaker!.state}`);
  })();
  // One look of the hub that really ran (the one its start began may still be under way).
  const look = async (next: BreakerState[]) => {
    list = next;
    await until(async () => {
      const before = looks;
      await hub.poll();
      return looks > before;
    }, 5000, 'a look');
  };
  const b = (host: string, state: BreakerState['state'], generation: number, opens = 1): BreakerState => ({ host, state, openUntil: state === 'closed' ? null : 1, opens, generation });
  try {
    await look([]);
    await look([b('a', 'open', 0)]); // opened
    await look([b('a', 'open', 0)]); // pushed on: nothing
    await look([b('a', 'half-open', 0)]); // its cooldown ran out: nothing
    await look([b('a', 'open', 1, 2)]); // its probe failed: opened again
    await look([b('a', 'closed', 2, 2)]); // a probe was answered: closed
    await look([b('a', 'closed', 2, 2), b('b', 'closed', 1)]); // b opened and closed between two looks: both
    await look([b('a', 'closed', 4, 1), b('b', 'closed', 1)]); // a too (and an hour of its openings forgotten): both
    await look([b('a', 'half-open', 4, 1), b('b', 'closed', 1)]); // a opened, and its cooldown ran out, between looks
    await look([b('a', 'open', 4, 1), b('b', 'closed', 1)]); // a late push on while half open: nothing
    const want = ['opened a open', 'opened a open', 'closed a closed', 'opened b closed', 'closed b closed', 'opened a closed', 'closed a closed', 'opened a half-open'];
    await until(() => seen.length >= want.length, 5000, () => `events: ${seen.join('; ')}`);
    assert.deepEqual(seen, want);
  } finally {
    sub.close();
    hub.close();
    await store.close();
    tmp.remove();
  }
});
