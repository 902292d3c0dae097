// Scripts run as one Redis function library (FCALL) where Redis has functions, loaded on first
// use and again whenever Redis has lost it; as EVALSHA when asked (or on a Redis without them).
// On a redis-server of the test's own: FUNCTION FLUSH would touch every user of a shared one.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { resolveSpec } from '../../src/core/queue.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { parseRedisUrl } from '../../src/stores/redis/connect.js';
import { OwnRedis, hasRedisServer, redisSkip } from '../helpers/redis.js';
import { freePort } from '../helpers/net.js';

const skip = (await redisSkip()) || (hasRedisServer() ? false : 'redis-server not installed');

describe('Redis scripts as a function library', { skip }, () => {
  let own: OwnRedis;
  let admin: Redis;
  before(async () => {
    own = new OwnRedis(await freePort());
    await own.start();
    admin = new Redis(own.url);
  });
  after(async () => {
    admin.disconnect();
    await own.stop();
  });

  const stats = async () => {
    const info = (await admin.info('commandstats')) as string;
    const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
    return { fcall: calls('fcall'), evalsha: calls('evalsha'), eval: calls('eval') };
  };
  const libraries = async () => ((await admin.call('FUNCTION', 'LIST')) as unknown[][]).map((l) => String(l[1]));
  const addAndClaim = async (store: RedisStore, id: string) => {
    const now = Date.now();
    await store.addJobs({ jobs: [resolveSpec({ id, task: 't', queue: 'fn' }, now)], now });
    const res = await store.claimJobs({ queues: ['fn'], workerId: 'w', limit: 1, leaseMs: 30_000, now });
    assert.deepEqual(res.jobs.map((j) => j.id), [id]);
  };

  it('loads the library on first use and runs every script with FCALL', async () => {
    await admin.config('RESETSTAT');
    const store = new RedisStore(parseRedisUrl(own.url), { prefix: 'fn1' });
    try {
      await addAndClaim(store, 'a');
      const libs = await libraries();
      assert.equal(libs.length, 1);
      assert.match(libs[0]!, /^fusion_[0-9a-f]{16}$/);
      const s = await stats();
      assert.equal(s.fcall, 4, 'the format read (before the first write), the same retried after the load, add, claim');
      assert.equal(s.evalsha + s.eval, 0);
    } finally {
      await store.close();
    }
  });

  it('loads it again after Redis lost it (FUNCTION FLUSH, as after a restart without data)', async () => {
    const store = new RedisStore(parseRedisUrl(own.url), { prefix: 'fn2' });
    try {
      await addAndClaim(store, 'b');
      await admin.call('FUNCTION', 'FLUSH');
      assert.deepEqual(await libraries(), []);
      await addAndClaim(store, 'c');
      assert.equal((await libraries()).length, 1);
    } finally {
      await store.close();
    }
  });

  it('falls back to EVALSHA on a Redis without FCALL (older than 7.0)', async () => {
    // Its own server again, with FCALL renamed away: what a Redis 6 answers.
    const old = new OwnRedis(await freePort(), ['--rename-command', 'FCALL', '']);
    await old.start();
    const store = new RedisStore(parseRedisUrl(old.url), { prefix: 'fn4' });
    try {
      await addAndClaim(store, 'e');
      await addAndClaim(store, 'f');
      const r = new Redis(old.url);
      const info = (await r.info('commandstats')) as string;
      r.disconnect();
      assert.match(info, /cmdstat_evalsha:calls=[1-9]/);
    } finally {
      await store.close();
      await old.stop();
    }
  });

  it("runs them with EVALSHA when told to (scripts: 'eval')", async () => {
    await admin.call('FUNCTION', 'FLUSH');
    await admin.config('RESETSTAT');
    const store = new RedisStore(parseRedisUrl(own.url), { prefix: 'fn3', scripts: 'eval' });
    try {
      await addAndClaim(store, 'd');
      const s = await stats();
      assert.equal(s.fcall, 0);
      assert.ok(s.evalsha >= 2, `evalsha calls: ${s.evalsha}`);
      assert.deepEqual(await libraries(), []);
    } finally {
      await store.close();
    }
  });
});
