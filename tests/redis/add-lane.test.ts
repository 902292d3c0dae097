// Concurrent adds to one queue are coalesced into one script per batch, a few batches in the air
// (see laneAdd in the Redis store). Each caller must still get its own answer, in call order, with
// idempotency intact.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import { redisHarness, redisSkip } from '../helpers/redis.js';
import type { RedisStore } from '../../src/stores/redis/store.js';

const skip = await redisSkip();
const T0 = Date.now();

/** Count the scripts a store sends, and how many are in the air at once (a pass-through wrapper). */
function countScripts(s: RedisStore) {
  const client = s.client as unknown as { sendCommand(cmd: { name: string }): Promise<unknown> };
  const real = client.sendCommand;
  const seen = { scripts: 0, inFlight: 0, maxInFlight: 0 };
  client.sendCommand = function (this: unknown, cmd: { name: string }) {
    const p = real.call(this, cmd);
    if (cmd.name !== 'fcall' && cmd.name !== 'evalsha' && cmd.name !== 'eval') return p;
    seen.scripts++;
    seen.maxInFlight = Math.max(seen.maxInFlight, ++seen.inFlight);
    return p.finally(() => seen.inFlight--);
  };
  return { seen, restore: () => (client.sendCommand = real) };
}

describe('Redis add lane', { skip }, () => {
  it('coalesces concurrent adds into few scripts, keeping each answer, FIFO order and idempotency', async () => {
    const { store: s, cleanup } = await redisHarness();
    await s.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'warm', id: 'w' }, T0)], now: T0 }); // queue registry, scripts loaded
    const counter = countScripts(s);
    try {
      const N = 200;
      const results = await Promise.all(Array.from({ length: N }, (_, i) =>
        s.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'lane', id: `j${i}`, payload: { i } }, T0)], now: T0 })));
      assert.ok(counter.seen.scripts > 0 && counter.seen.scripts < N / 4, `${counter.seen.scripts} ADD scripts for ${N} concurrent adds`);
      results.forEach((r, i) => {
        assert.equal(r.length, 1);
        assert.equal(r[0]!.created, true);
        assert.equal(r[0]!.job.id, `j${i}`);
        assert.deepEqual(r[0]!.job.payload, { i });
      });
      // The same id twice in one batch: one job; the later caller sees it as existing.
      const [a, b, later] = await Promise.all([
        s.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'lane', id: 'dup', payload: 1 }, T0)], now: T0 }),
        s.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'lane', id: 'dup', payload: 2 }, T0)], now: T0 }),
        s.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'lane', id: 'later', delay: 60_000 }, T0)], now: T0 }),
      ]);
      assert.equal(a[0]!.created, true);
      assert.equal(b[0]!.created, false);
      assert.equal(b[0]!.job.payload, 1);
      assert.equal(later[0]!.job.state, 'scheduled');
      // Claim order is call order (FIFO within the priority).
      const claimed = await s.claimJobs({ queues: ['lane'], workerId: 'w', limit: 1000, leaseMs: 10_000, now: T0 });
      assert.deepEqual(claimed.jobs.map((j) => j.id), [...Array.from({ length: N }, (_, i) => `j${i}`), 'dup']);
    } finally {
      counter.restore();
      await cleanup();
    }
  });

  it('keeps a few batches in the air for callers that add again as soon as they are answered', async () => {
    const { store: s, cleanup } = await redisHarness();
    await s.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'loop', id: 'first' }, T0)], now: T0 });
    const counter = countScripts(s);
    try {
      const CALLERS = 100;
      const EACH = 5;
      await Promise.all(Array.from({ length: CALLERS }, async (_, c) => {
        for (let k = 0; k < EACH; k++) {
          const [r] = await s.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'loop', id: `c${c}-${k}` }, T0)], now: T0 });
          assert.equal(r!.created, true);
        }
      }));
      const { scripts, maxInFlight } = counter.seen;
      console.log(`closed loop: ${scripts} scripts, ${maxInFlight} at once`);
      assert.ok(scripts > 0 && scripts < (CALLERS * EACH) / 4, `${scripts} scripts for ${CALLERS * EACH} adds`);
      assert.ok(maxInFlight >= 1 && maxInFlight <= 3, `${maxInFlight} scripts in the air at once`);
      // Each caller's jobs are claimed in the order it added them.
      const claimed = await s.claimJobs({ queues: ['loop'], workerId: 'w', limit: 1000, leaseMs: 10_000, now: T0 });
      assert.equal(claimed.jobs.length, CALLERS * EACH + 1);
      const order = new Map<string, number[]>();
      for (const j of claimed.jobs) {
        const m = /^c(\d+)-(\d+)$/.exec(j.id);
        if (m) order.set(m[1]!, [...(order.get(m[1]!) ?? []), Number(m[2])]);
      }
      for (const [c, ks] of order) assert.deepEqual(ks, [0, 1, 2, 3, 4], `caller ${c}`);
    } finally {
      counter.restore();
      await cleanup();
    }
  });
});
