// What a completion writes on Redis (lua/finish.lua), as a function library and as EVALSHA: the
// error field only where the job may hold one (its claim here read one, or another store claimed
// it), and never the lease end, which only an active job's readers take; the token it clears is
// what ends the lease for a late heartbeat, progress report or the same outcome sent again.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import { RedisKeys } from '../../src/stores/redis/keys.js';
import { REDIS_URL, redisHarness, redisSkip } from '../helpers/redis.js';
import { RedisStore, type RedisStoreOptions } from '../../src/stores/redis/store.js';
import { parseRedisUrl } from '../../src/stores/redis/connect.js';

const skip = await redisSkip();
const LEASE = 60_000;

async function withStore(opts: RedisStoreOptions, fn: (store: RedisStore, keys: RedisKeys, now: number) => Promise<void>) {
  const { store, cleanup } = await redisHarness(undefined, opts);
  try {
    await fn(store, new RedisKeys(store.prefix, store.cluster), Date.now());
  } finally {
    await cleanup();
  }
}

const claimOne = async (store: RedisStore, now: number) =>
  (await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 1, leaseMs: LEASE, now })).jobs[0]!;

for (const [mode, opts] of [['function library', {}], ['EVALSHA', { scripts: 'eval' }]] as const) {
  describe(`Redis completion fields (${mode})`, { skip }, () => {
    it('leaves the error and lease end of a job claimed with no error unwritten; it reads as completed with neither', () => withStore(opts, async (store, keys, now) => {
      await store.addJobs({ jobs: ['a', 'b'].map((id) => resolveSpec({ task: 't', queue: 'q', id }, now)), now });
      const a = await claimOne(store, now);
      assert.equal(a.error, null);
      // Through finishAndClaim too (the worker's path): b's claim, then its completion alone.
      const { applied, claim } = await store.finishAndClaimJobs({
        outcomes: [{ kind: 'completed', id: 'a', token: a.leaseToken!, at: now + 5, result: { ok: 1 } }],
        claim: { queues: ['q'], workerId: 'w', limit: 1, leaseMs: LEASE, now: now + 6 },
      });
      assert.deepEqual(applied, [true]);
      const b = claim.jobs[0]!;
      assert.deepEqual(await store.finishJobs({ outcomes: [{ kind: 'completed', id: 'b', token: b.leaseToken!, at: now + 7, result: null }] }), [true]);
      // A lean hash never had e: a clean completion does not add it. lu keeps the last lease end.
      for (const [job, leaseUntil] of [[a, now + LEASE], [b, now + 6 + LEASE]] as const) {
        const key = keys.job('q', job.id);
        assert.equal(await store.client.hexists(key, 'e'), 0, `${job.id}: no error field`);
        assert.deepEqual(await store.client.hmget(key, 'st', 'tk', 'lu'), ['completed', '', String(leaseUntil)]);
        const got = (await store.getJob({ id: job.id }))!;
        assert.equal(got.state, 'completed');
        assert.equal(got.error, null);
        assert.equal(got.leaseUntil, null);
        assert.equal(got.leaseToken, null);
        assert.equal(got.workerId, null);
      }
      assert.deepEqual((await store.getJob({ id: 'a' }))!.result, { ok: 1 });
      assert.deepEqual((await store.listJobs({ queue: 'q', state: 'completed' })).items.map((j) => [j.id, j.leaseUntil, j.error]), [['b', null, null], ['a', null, null]]);
    }));

    it("clears an earlier attempt's error: where its claim here read it, and where another store claimed it", () => withStore(opts, async (store, keys, now) => {
      await store.addJobs({ jobs: ['r', 'o'].map((id) => resolveSpec({ task: 't', queue: 'q', id }, now)), now });
      const first = await claimOne(store, now);
      await store.finishJobs({ outcomes: [{ kind: 'retry', id: 'r', token: first.leaseToken!, at: now + 1, error: { message: 'boom', retryable: true }, retryAt: now + 2 }] });
      const second = await claimOne(store, now + 3);
      assert.equal(second.id, 'r');
      assert.equal(second.error?.message, 'boom');
      await store.finishJobs({ outcomes: [{ kind: 'completed', id: 'r', token: second.leaseToken!, at: now + 4, result: null }] });
      assert.equal(await store.client.hget(keys.job('q', 'r'), 'e'), '');
      assert.equal((await store.getJob({ id: 'r' }))!.error, null);
      // o's claim here read no error; an error stored meanwhile (by a writer outside these rules) is
      // still cleared when a store that did not make the claim completes it: only the claimer knows.
      const o = await claimOne(store, now + 5);
      assert.equal(o.id, 'o');
      await store.client.hset(keys.job('q', 'o'), 'e', JSON.stringify({ message: 'stray' }));
      const other = new RedisStore(parseRedisUrl(REDIS_URL), { ...opts, prefix: store.prefix });
      try {
        assert.deepEqual(await other.finishJobs({ outcomes: [{ kind: 'completed', id: 'o', token: o.leaseToken!, at: now + 6, result: null }] }), [true]);
      } finally {
        await other.close();
      }
      assert.equal(await store.client.hget(keys.job('q', 'o'), 'e'), '');
      assert.equal((await store.getJob({ id: 'o' }))!.error, null);
    }));

    it('ends the lease at completion for a late heartbeat, progress report, the same outcome again and recovery', () => withStore(opts, async (store, keys, now) => {
      await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', id: 'z' }, now)], now });
      const z = await claimOne(store, now);
      const outcome = { kind: 'completed' as const, id: 'z', token: z.leaseToken!, at: now + 1, result: null };
      assert.deepEqual(await store.finishJobs({ outcomes: [outcome] }), [true]);
      assert.deepEqual(await store.finishJobs({ outcomes: [outcome] }), [false]);
      assert.deepEqual(await store.heartbeatJobs({ leases: [{ id: 'z', token: z.leaseToken! }], leaseMs: LEASE, now: now + 2 }), [{ id: 'z', ok: false, cancelRequested: false }]);
      assert.equal(await store.progressJob({ lease: { id: 'z', token: z.leaseToken! }, progress: 50, now: now + 3 }), false);
      assert.equal(await store.client.zscore(`${keys.queueKeyBase('q')}:k`, 'z'), null);
      assert.deepEqual(await store.recoverExpiredJobs({ now: now + 10 * LEASE }), { requeued: [], failed: [], cancelled: [] });
      const got = (await store.getJob({ id: 'z' }))!;
      assert.deepEqual([got.state, got.progress, got.endedAt, got.leaseUntil], ['completed', null, now + 1, null]);
      assert.equal((await store.listJobs({ queue: 'q', state: 'active' })).items.length, 0);
    }));
  });
}
