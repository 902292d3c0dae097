// Attempt history on Redis: the stored history holds attempts that ended other than in completion;
// an active job's open attempt and a completed job's last one are read from its fields, so a claim
// and a completion rewrite no JSON.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import { redisHarness, redisSkip } from '../helpers/redis.js';
import type { RedisStore } from '../../src/stores/redis/store.js';

const skip = await redisSkip();

/** Run `fn` with a store of its own under a fresh prefix, removed after. */
async function withStore(fn: (store: RedisStore, now: number) => Promise<void>) {
  const { store, cleanup } = await redisHarness();
  try {
    await fn(store, Date.now());
  } finally {
    await cleanup();
  }
}

/** Add job `id` to queue h and claim it as worker `w` at `now`. */
async function addAndClaim(store: RedisStore, id: string, w: string, now: number) {
  await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'h', id }, now)], now });
  return (await store.claimJobs({ queues: ['h'], workerId: w, limit: 1, leaseMs: 60_000, now })).jobs[0]!;
}

describe('Redis attempt history', { skip }, () => {
  it('records each attempt once, open while active and whole when it ends', () => withStore(async (store, now) => {
    const first = await addAndClaim(store, 'a', 'w1', now);
    assert.deepEqual(first.history, [{ attempt: 1, workerId: 'w1', startedAt: now }]);
    assert.deepEqual((await store.getJob({ id: 'a' }))!.history, [{ attempt: 1, workerId: 'w1', startedAt: now }]);
    await store.finishJobs({ outcomes: [{ kind: 'retry', id: 'a', token: first.leaseToken!, at: now + 5, error: { message: 'boom', retryable: true }, retryAt: now + 6 }] });
    const [second] = (await store.claimJobs({ queues: ['h'], workerId: 'w2', limit: 1, leaseMs: 60_000, now: now + 10 })).jobs;
    assert.deepEqual(second!.history, [
      { attempt: 1, workerId: 'w1', startedAt: now, endedAt: now + 5, outcome: 'retrying', error: 'boom' },
      { attempt: 2, workerId: 'w2', startedAt: now + 10 },
    ]);
    await store.finishJobs({ outcomes: [{ kind: 'completed', id: 'a', token: second!.leaseToken!, at: now + 12, result: 1 }] });
    const done = (await store.getJob({ id: 'a' }))!;
    assert.deepEqual(done.history.map((x) => [x.attempt, x.workerId, x.outcome, x.endedAt]), [[1, 'w1', 'retrying', now + 5], [2, 'w2', 'completed', now + 12]]);
    assert.deepEqual([done.state, done.workerId, done.leaseToken, done.leaseUntil, done.endedAt], ['completed', null, null, null, now + 12]);
  }));

  it('stores a failure whose message is cut through an emoji (a lone surrogate) beside the batch\'s other outcomes', () => withStore(async (store, now) => {
    const a = await addAndClaim(store, 'a', 'w1', now);
    const b = await addAndClaim(store, 'b', 'w1', now);
    const message = 'boom 😀'.slice(0, 6);
    const applied = await store.finishJobs({ outcomes: [
      { kind: 'completed', id: 'a', token: a.leaseToken!, at: now + 1, result: null },
      { kind: 'failed', id: 'b', token: b.leaseToken!, at: now + 2, error: { message, retryable: false } },
    ] });
    assert.deepEqual(applied, [true, true]);
    assert.deepEqual((await store.countJobs({ queue: 'h' })).h, { scheduled: 0, queued: 0, active: 0, completed: 1, failed: 1, cancelled: 0 });
    const failed = (await store.getJob({ id: 'b' }))!;
    assert.equal(failed.error!.message, message);
    assert.deepEqual(failed.history.map((x) => [x.outcome, x.error]), [['failed', message]]);
  }));
});
