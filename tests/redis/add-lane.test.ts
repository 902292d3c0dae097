// Concurrent adds to one queue are coalesced into one script per batch (see laneAdd in the Redis
// store). Each caller must still get its own answer, in call order, with idempotency intact.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import { dropPrefix, openTestStore, redisSkip } from '../helpers/redis.js';

const skip = await redisSkip();
const T0 = Date.now();

describe('Redis add lane', { skip }, () => {
  it('coalesces concurrent adds into few scripts, keeping each answer, FIFO order and idempotency', async () => {
    const s = openTestStore();
    // Count ADD scripts sent (a pass-through wrapper on the client, not a change of behaviour).
    const client = s.client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const real = client.fusionAdd!;
    let scripts = 0;
    client.fusionAdd = function (this: unknown, ...a: unknown[]) {
      scripts++;
      return real.apply(this, a);
    };
    try {
      const N = 200;
      const results = await Promise.all(Array.from({ length: N }, (_, i) =>
        s.add([resolveSpec({ task: 't', queue: 'lane', id: `j${i}`, payload: { i } }, T0)], T0)));
      assert.ok(scripts < N / 4, `${scripts} ADD scripts for ${N} concurrent adds`);
      results.forEach((r, i) => {
        assert.equal(r.length, 1);
        assert.equal(r[0]!.created, true);
        assert.equal(r[0]!.job.id, `j${i}`);
        assert.deepEqual(r[0]!.job.payload, { i });
      });
      // The same id twice in one batch: one job; the later caller sees it as existing.
      const [a, b, later] = await Promise.all([
        s.add([resolveSpec({ task: 't', queue: 'lane', id: 'dup', payload: 1 }, T0)], T0),
        s.add([resolveSpec({ task: 't', queue: 'lane', id: 'dup', payload: 2 }, T0)], T0),
        s.add([resolveSpec({ task: 't', queue: 'lane', id: 'later', delay: 60_000 }, T0)], T0),
      ]);
      assert.equal(a[0]!.created, true);
      assert.equal(b[0]!.created, false);
      assert.equal(b[0]!.job.payload, 1);
      assert.equal(later[0]!.job.state, 'scheduled');
      // Claim order is call order (FIFO within the priority).
      const claimed = await s.claim({ queues: ['lane'], workerId: 'w', limit: 1000, leaseMs: 10_000, now: T0 });
      assert.deepEqual(claimed.jobs.map((j) => j.id), [...Array.from({ length: N }, (_, i) => `j${i}`), 'dup']);
    } finally {
      client.fusionAdd = real;
      await dropPrefix(s.client, s.prefix);
      await s.close();
    }
  });
});
