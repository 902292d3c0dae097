// A claim answers one newline-joined string per job (see claimJobs in scripts.ts). Every field must
// come back whole: ids may hold newlines, and a job claimed again carries its error, history and
// progress from the attempt before.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import { redisHarness, redisSkip } from '../helpers/redis.js';
import { CLAIM_FIELDS } from '../../src/stores/redis/codec.js';

const skip = await redisSkip();

// claimJobs (lua/lib/claim-jobs.lua) names the fields it reads one by one; its own check of the list
// runs only where the scripts load as a function library, so this holds it in EVALSHA mode too.
it('claim rows are the ten fields claimJobs reads, in its order', () => {
  assert.deepEqual([...CLAIM_FIELDS], ['d', 'p', 'ra', 'at', 'ma', 'sl', 'ms', 'h', 'e', 'pg']);
});

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
});
