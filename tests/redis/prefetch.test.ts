// Claim-ahead: finishing a single-queue worker's jobs claims its next ones in the same script.
// It must keep priority order and lease safety, and give back what the worker does not take.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from '../../src/core/worker.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { resolveSpec } from '../../src/core/queue.js';
import { dropPrefix, openTestStore, redisSkip } from '../helpers/redis.js';
import { deferred, until, within } from '../helpers/await.js';

const skip = await redisSkip();
const T0 = Date.now();

describe('Redis claim-ahead', { skip }, () => {
  it('claims the next jobs with the outcome, in priority order, for that worker only', async () => {
    const s = openTestStore();
    try {
      await s.add([
        resolveSpec({ task: 't', queue: 'pf', id: 'first', priority: 9 }, T0),
        resolveSpec({ task: 't', queue: 'pf', id: 'low', priority: 'low' }, T0),
        resolveSpec({ task: 't', queue: 'pf', id: 'high', priority: 'high' }, T0),
      ], T0);
      const [a] = (await s.claim({ queues: ['pf'], workerId: 'w', limit: 1, leaseMs: 10_000, now: T0 })).jobs;
      assert.equal(a!.id, 'first');
      assert.deepEqual(await s.finish([{ kind: 'completed', id: 'first', token: a!.leaseToken!, at: T0 + 1, result: null }]), [true]);
      // Claimed ahead, in the same script: already active for w, leased like any claim.
      const held = (await s.get('high'))!;
      assert.equal(held.state, 'active');
      assert.equal(held.workerId, 'w');
      assert.equal(held.leaseUntil, T0 + 1 + 10_000);
      // Another worker cannot get it; w's next claim returns it without another job being taken.
      assert.deepEqual((await s.claim({ queues: ['pf'], workerId: 'other', limit: 1, leaseMs: 10_000, now: T0 + 2 })).jobs.map((j) => j.id), ['low']);
      const [b] = (await s.claim({ queues: ['pf'], workerId: 'w', limit: 1, leaseMs: 10_000, now: T0 + 2 })).jobs;
      assert.equal(b!.id, 'high');
      assert.equal(b!.leaseToken, held.leaseToken);
      assert.deepEqual(await s.finish([{ kind: 'completed', id: 'high', token: b!.leaseToken!, at: T0 + 3, result: 1 }]), [true]);
    } finally {
      await dropPrefix(s.client, s.prefix);
      await s.close();
    }
  });

  it('gives back claimed-ahead jobs the worker does not take, or when it is gone, without counting an attempt', async () => {
    const s = openTestStore();
    try {
      await s.add(['a', 'b', 'c'].map((id) => resolveSpec({ task: 't', queue: 'pf', id }, T0)), T0);
      const [a] = (await s.claim({ queues: ['pf'], workerId: 'w', limit: 1, leaseMs: 10_000, now: T0 })).jobs;
      await s.finish([{ kind: 'completed', id: 'a', token: a!.leaseToken!, at: T0, result: null }]);
      assert.equal((await s.get('b'))!.state, 'active');
      await until(async () => (await s.get('b'))!.state === 'queued', 5000, 'untaken claim-ahead released');
      const b = (await s.get('b'))!;
      assert.equal(b.attempts, 0);
      assert.equal(b.history.at(-1)!.outcome, 'released');

      const [b2] = (await s.claim({ queues: ['pf'], workerId: 'w2', limit: 1, leaseMs: 10_000, now: T0 })).jobs;
      await s.finish([{ kind: 'completed', id: b2!.id, token: b2!.leaseToken!, at: T0, result: null }]);
      assert.equal((await s.get('c'))!.state, 'active');
      await s.workerGone('w2');
      assert.equal((await s.get('c'))!.state, 'queued');
    } finally {
      await dropPrefix(s.client, s.prefix);
      await s.close();
    }
  });

  it('keeps a worker on strict priority order and leaves nothing active after it stops', async () => {
    const s = openTestStore();
    try {
      const N = 300;
      const specs = Array.from({ length: N }, (_, i) => resolveSpec({ task: 't', queue: 'pf', id: `j${i}`, priority: i % 3 }, T0));
      await s.add(specs, T0);
      const order: string[] = [];
      const all = deferred();
      const reg = new TaskRegistry().register('t', async (_p: unknown, ctx) => {
        order.push(ctx.job.id);
        if (order.length === N) all.resolve();
      });
      const w = new Worker(s, reg, { queues: ['pf'], concurrency: 1 }).start();
      await within(all.promise, 20_000, 'all jobs ran');
      await w.stop(1000);
      const want = [...specs].sort((x, y) => y.priority - x.priority || Number(x.id.slice(1)) - Number(y.id.slice(1))).map((x) => x.id);
      assert.deepEqual(order, want);
      const c = (await s.counts('pf')).pf!;
      assert.equal(c.completed, N);
      assert.equal(c.active, 0);
    } finally {
      await dropPrefix(s.client, s.prefix);
      await s.close();
    }
  });
});
