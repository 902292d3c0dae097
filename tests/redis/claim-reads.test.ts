// A claim reads a job by its hash's size (claimJobs, lua/lib/claim-jobs.lua; the sizes' rules in
// lua/lib/keys.lua): a hash of d, st, p and sq alone reads those two fields, one never claimed (at
// most seven fields) five, any other seven, and a job that ended an attempt three more. Whatever it
// reads, each claimed job must be what it reads back as, in every shape a job reaches the queue in.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import type { Job } from '../../src/core/job.js';
import { RedisKeys } from '../../src/stores/redis/keys.js';
import type { RedisStore, RedisStoreOptions } from '../../src/stores/redis/store.js';
import { redisHarness, redisSkip, watchCommands } from '../helpers/redis.js';
import { until } from '../helpers/await.js';

const skip = await redisSkip();
const LEASE = 60_000;

async function withStore(opts: RedisStoreOptions, unmarked: boolean, fn: (store: RedisStore, keys: RedisKeys, now: number) => Promise<void>) {
  const { store, cleanup } = await redisHarness(undefined, opts, { unmarked });
  try {
    await fn(store, new RedisKeys(store.prefix, store.cluster), Date.now());
  } finally {
    await cleanup();
  }
}

/** Claim the `count` queued jobs of `queue`, one claim each, and check each against its stored form. */
async function claimAll(store: RedisStore, queue: string, now: number, count: number): Promise<Map<string, Job>> {
  const out = new Map<string, Job>();
  for (let i = 0; i < count; i++) {
    const [job] = (await store.claimJobs({ queues: [queue], workerId: 'w', limit: 1, leaseMs: LEASE, now })).jobs;
    assert.ok(job, `claim ${i + 1} of ${count}`);
    assert.deepEqual(job, await store.getJob({ id: job.id }), `${job.id} as claimed and as stored`);
    out.set(job.id, job);
  }
  assert.equal((await store.claimJobs({ queues: [queue], workerId: 'w', limit: 1, leaseMs: LEASE, now })).jobs.length, 0);
  return out;
}

for (const [mode, opts] of [['function library', {}], ['EVALSHA', { scripts: 'eval' }]] as const) {
  describe(`Redis claim reads (${mode})`, { skip }, () => {
    it('claims every shape of lean job as it reads back: bare, with its own runAt or limits, rescheduled, released, retried', () => withStore(opts, false, async (store, keys, now) => {
      const created = now - 10_000;
      const spec = (id: string, extra = {}, queue = 'q') => resolveSpec({ task: 't', queue, id, ...extra }, created);
      await store.addJobs({ jobs: [
        spec('bare'), spec('ran-at', { runAt: now - 5_000 }), spec('limits', { maxAttempts: 7, maxStalls: 2 }),
        spec('all', { runAt: now - 5_000, maxAttempts: 7, maxStalls: 2 }), spec('moved', { runAt: now + 60_000 }),
        spec('moved-limits', { runAt: now + 60_000, maxAttempts: 4, maxStalls: 5 }), spec('released', {}, 'r'), spec('retried', { maxAttempts: 3 }, 'r'),
      ], now: created });
      const size = async (id: string, queue = 'q') => store.client.hlen(keys.job(queue, id));
      assert.deepEqual(await Promise.all(['bare', 'ran-at', 'limits', 'all'].map((id) => size(id))), [4, 5, 6, 7]);
      // Rescheduled to now before any claim (st, ra, ea, cr): seven fields, or nine with both limits.
      for (const id of ['moved', 'moved-limits']) await store.rescheduleJob({ id, runAt: now - 1_000, now: now - 1_000 });
      assert.deepEqual(await Promise.all(['moved', 'moved-limits'].map((id) => size(id))), [7, 9]);
      // In queue r: both claimed, then one given back (its attempt not counted), the other retried with an error.
      const got = (await store.claimJobs({ queues: ['r'], workerId: 'w0', limit: 2, leaseMs: LEASE, now: now - 2_000 })).jobs;
      const lease = (id: string) => got.find((j) => j.id === id)!.leaseToken!;
      assert.deepEqual(await store.finishJobs({ outcomes: [
        { kind: 'released', id: 'released', token: lease('released'), at: now - 1_500 },
        { kind: 'retry', id: 'retried', token: lease('retried'), at: now - 1_500, error: { message: 'boom', retryable: true }, retryAt: now - 1_400 },
      ] }), [true, true]);
      assert.ok((await size('released', 'r')) >= 8 && (await size('retried', 'r')) >= 8);
      const claimed = new Map([...await claimAll(store, 'q', now, 6), ...await claimAll(store, 'r', now, 2)]);
      const seen = (id: string) => {
        const j = claimed.get(id)!;
        return [j.runAt, j.attempts, j.maxAttempts, j.maxStalls, j.stalls, j.history.length, j.error?.message ?? null];
      };
      assert.deepEqual(seen('bare'), [created, 1, 10, 3, 0, 1, null]);
      assert.deepEqual(seen('ran-at'), [now - 5_000, 1, 10, 3, 0, 1, null]);
      assert.deepEqual(seen('limits'), [created, 1, 7, 2, 0, 1, null]);
      assert.deepEqual(seen('all'), [now - 5_000, 1, 7, 2, 0, 1, null]);
      assert.deepEqual(seen('moved'), [now - 1_000, 1, 10, 3, 0, 1, null]);
      assert.deepEqual(seen('moved-limits'), [now - 1_000, 1, 4, 5, 0, 1, null]);
      // Given back, then claimed: still its first attempt, the give-back in its history.
      assert.deepEqual(seen('released'), [created, 1, 10, 3, 0, 2, null]);
      assert.deepEqual(seen('retried'), [now - 1_400, 2, 3, 3, 0, 2, 'boom']);
    }));

    it('claims jobs stored in full (a prefix of an earlier version) as they read back', () => withStore(opts, true, async (store, keys, now) => {
      await store.addJobs({ jobs: ['f1', 'f2'].map((id, i) => resolveSpec({ task: 't', queue: 'q', id, maxAttempts: 2 + i }, now)), now });
      assert.ok((await store.client.hlen(keys.job('q', 'f1'))) >= 10);
      const claimed = await claimAll(store, 'q', now, 2);
      assert.deepEqual([...claimed.values()].map((j) => [j.id, j.attempts, j.maxAttempts, j.history.length]), [['f1', 1, 2, 1], ['f2', 1, 3, 1]]);
    }));
  });
}

describe('Redis claim reads, the fields asked for', { skip }, () => {
  it('reads d and p of a bare lean job, five fields of one never claimed, seven of any other', () => withStore({}, false, async (store, keys, now) => {
    await store.addJobs({ jobs: [
      resolveSpec({ task: 't', queue: 'q', id: 'bare' }, now), resolveSpec({ task: 't', queue: 'q', id: 'limits', maxAttempts: 5 }, now),
      resolveSpec({ task: 't', queue: 'q', id: 'again' }, now),
    ], now });
    const first = (await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 3, leaseMs: LEASE, now })).jobs;
    const again = first.find((j) => j.id === 'again')!;
    await store.finishJobs({ outcomes: first.map((j) => ({ kind: 'released' as const, id: j.id, token: j.leaseToken!, at: now })) });
    // All three again: bare and limits were given back too, so now hold eight fields or more.
    await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', id: 'bare2' }, now), resolveSpec({ task: 't', queue: 'q', id: 'limits2', maxAttempts: 5 }, now)], now });
    const reads: string[] = [];
    const jobKeys = new Map(['bare2', 'limits2', 'again'].map((id) => [keys.job('q', id), id]));
    const monitor = await watchCommands((args, source) => {
      const id = jobKeys.get(args[1]!);
      if (source === 'lua' && id && args[0]!.toUpperCase() === 'HMGET') reads.push(`${id}: ${args.slice(2).join(' ')}`);
    });
    try {
      const jobs = (await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 5, leaseMs: LEASE, now: now + 1 })).jobs;
      assert.equal(jobs.length, 5);
      await until(() => reads.length >= 4, 5000, 'the claim in MONITOR', 2);
    } finally {
      monitor.stop();
    }
    assert.ok(again);
    // again's history holds its give-back: its stalls, error and progress are read too.
    assert.deepEqual(reads.sort(), ['again: d p ra at ma ms h', 'again: sl e pg', 'bare2: d p', 'limits2: d p ra ma ms']);
  }));
});
