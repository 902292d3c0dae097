// Maintenance: lease recovery, promotion and retention with a moved clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { Maintenance } from '../../src/core/maintenance.js';
import { resolveSpec } from '../../src/core/queue.js';
import { withFusion } from '../helpers/engine.js';

describe('Maintenance', () => {
  it('requeues expired leases, promotes due jobs, and removes finished jobs past retention', async () => {
    const clock = new ManualClock();
    await withFusion({ clock }, async ({ store }) => {
      const t0 = clock.now();
      const m = new Maintenance(store, { clock, retention: { completedMs: 1000, failedMs: 5000 }, batch: 2 });
      await store.addJobs({ jobs: ['a', 'b', 'c', 'd', 'e'].map((id) => resolveSpec({ id, task: 't' }, t0)), now: t0 });
      await store.addJobs({ jobs: [resolveSpec({ id: 'later', task: 't', runAt: t0 + 500 }, t0)], now: t0 });
      const { jobs } = await store.claimJobs({ queues: ['default'], workerId: 'w', limit: 5, leaseMs: 10_000, now: t0 });
      const tok = (id: string) => jobs.find((j) => j.id === id)!.leaseToken!;
      await store.finishJobs({ outcomes: [
        ...['a', 'b', 'c'].map((id) => ({ kind: 'completed' as const, id, token: tok(id), at: t0, result: null })),
        { kind: 'failed', id: 'd', token: tok('d'), at: t0, error: { message: 'x', retryable: false } },
      ] });
      // 'e' stays active, as if its worker died.
      clock.advance(600);
      let r = await m.runOnce();
      assert.deepEqual(r, { requeued: 0, failed: 0, promoted: 1, removed: 0 });
      assert.equal((await store.getJob({ id: 'later' }))!.state, 'queued');

      clock.advance(1000);
      r = await m.runOnce();
      assert.equal(r.removed, 3, 'completed jobs past 1 s are removed, in batches of 2');
      assert.equal(await store.getJob({ id: 'a' }), null);
      assert.equal((await store.getJob({ id: 'd' }))!.state, 'failed', 'failed jobs are kept longer');

      clock.advance(10_000);
      r = await m.runOnce();
      assert.equal(r.requeued, 1);
      assert.equal(r.removed, 1);
      const e = (await store.getJob({ id: 'e' }))!;
      assert.equal(e.state, 'queued');
      assert.equal(e.stalls, 1);
    });
  });
});
