// A claim answers one newline-joined string per job (see claimJobs in scripts.ts). Every field must
// come back whole: ids may hold newlines, and a job claimed again carries its error, history and
// progress from the attempt before.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import { RedisKeys } from '../../src/stores/redis/keys.js';
import { redisHarness, redisSkip } from '../helpers/redis.js';

const skip = await redisSkip();

describe('Redis claim rows', { skip }, () => {
  it('returns every field of each claimed job as the job reads back, ids with newlines too', async () => {
    const { store, cleanup } = await redisHarness();
    const now = Date.now();
    const claim = (at: number, limit = 10) => store.claimJobs({ queues: ['c'], workerId: 'w', limit, leaseMs: 60_000, now: at });
    try {
      const ids = ['plain', 'two\nlines', '\n', 'ends\n'];
      await store.addJobs({ jobs: ids.map((id, i) => resolveSpec({
        task: 't', queue: 'c', id, priority: i, payload: { text: 'a\nb', n: i }, tags: ['x\ny'], description: 'd\ne',
      }, now)), now });
      const first = (await claim(now)).jobs;
      assert.deepEqual(first.map((j) => j.id).sort(), [...ids].sort());
      for (const job of first) assert.deepEqual(job, await store.getJob({ id: job.id }));
      // Attempt two of one job: it carries the first attempt's error, history and progress.
      const again = first.find((j) => j.id === 'two\nlines')!;
      await store.progressJob({ lease: { id: again.id, token: again.leaseToken! }, progress: { done: 'half\n' }, now: now + 1 });
      await store.finishJobs({ outcomes: [{ kind: 'retry', id: again.id, token: again.leaseToken!, at: now + 2, error: { message: 'no\nluck', retryable: true }, retryAt: now + 3 }] });
      const [second] = (await claim(now + 4, 1)).jobs;
      assert.equal(second!.id, 'two\nlines');
      assert.equal(second!.attempts, 2);
      assert.deepEqual(second!.error, { message: 'no\nluck', retryable: true });
      assert.deepEqual(second!.progress, { done: 'half\n' });
      assert.deepEqual(second!.history.map((h) => [h.attempt, h.outcome, h.error]), [[1, 'retrying', 'no\nluck'], [2, undefined, undefined]]);
      assert.deepEqual(second, await store.getJob({ id: second!.id }));
    } finally {
      await cleanup();
    }
  });

  it('completes a job its claim found without an error leaving the error field out, and clears the error of one that ran before', async () => {
    const { store, cleanup } = await redisHarness();
    const keys = new RedisKeys(store.prefix, store.cluster);
    const now = Date.now();
    const claim = (at: number) => store.claimJobs({ queues: ['c'], workerId: 'w', limit: 10, leaseMs: 60_000, now: at });
    try {
      await store.addJobs({ jobs: ['fresh', 'again'].map((id) => resolveSpec({ task: 't', queue: 'c', id }, now)), now });
      const first = (await claim(now)).jobs;
      const again = first.find((j) => j.id === 'again')!;
      await store.finishJobs({ outcomes: [{ kind: 'retry', id: again.id, token: again.leaseToken!, at: now + 1, error: { message: 'boom', retryable: true }, retryAt: now + 2 }] });
      const [second] = (await claim(now + 3)).jobs;
      assert.deepEqual(second!.error, { message: 'boom', retryable: true });
      const fresh = first.find((j) => j.id === 'fresh')!;
      const done = await store.finishJobs({ outcomes: [fresh, second!].map((j) => ({ kind: 'completed' as const, id: j.id, token: j.leaseToken!, at: now + 4, result: null })) });
      assert.deepEqual(done, [true, true]);
      // No error field written where none was: the hash holds one field fewer (~1.3k Redis instructions a job).
      assert.equal(await store.client.hexists(keys.job('c', 'fresh'), 'e'), 0);
      assert.equal(await store.client.hget(keys.job('c', 'again'), 'e'), '');
      for (const id of ['fresh', 'again']) {
        const job = await store.getJob({ id });
        assert.equal(job!.state, 'completed');
        assert.equal(job!.error, null);
      }
    } finally {
      await cleanup();
    }
  });
});
