import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WORK_EVENTS, type Store, type StoreEvent } from '../../../src/core/store.js';
import { T0, job, useStore, claimer, waitFor, type StoreFactory } from '../harness.js';


export function capabilitiesArea(make: StoreFactory): void {
  describe('capabilities', () => {
    let s!: Store;
    useStore(make, (store) => (s = store));
    const claim = claimer(() => s);

    it('finishAndClaim applies outcomes by token, then claims by priority and FIFO, as one step', async (t) => {
      if (!s.capabilities.finishAndClaim) return t.skip('this store has no combined cycle');
      await s.addJobs({ jobs: [job({ id: 'a' }), job({ id: 'b' })], now: T0 });
      const first = (await claim(2)).jobs;
      assert.deepEqual(first.map((j) => j.id), ['a', 'b']);
      await s.addJobs({ jobs: [job({ id: 'c', priority: 'low' }), job({ id: 'd' }), job({ id: 'e', priority: 'high' })], now: T0 + 1 });
      const follow = job({ id: 'a:cb', queue: 'callbacks' });
      const r = await s.capabilities.finishAndClaim(
        { outcomes: [
          { kind: 'completed', id: 'a', token: first[0]!.leaseToken!, at: T0 + 2, result: { n: 1 }, enqueue: [follow] },
          { kind: 'completed', id: 'b', token: 'stale', at: T0 + 2, result: 2 },
        ],
        claim: { queues: ['q'], workerId: 'w2', limit: 2, leaseMs: 1000, now: T0 + 2 } },
      );
      assert.deepEqual(r.applied, [true, false]);
      assert.deepEqual(r.claim.jobs.map((j) => j.id), ['e', 'd']);
      for (const j of r.claim.jobs) {
        assert.equal(j.state, 'active');
        assert.equal(j.workerId, 'w2');
        assert.equal(j.attempts, 1);
        assert.equal(j.leaseUntil, T0 + 2 + 1000);
        assert.deepEqual(await s.getJob({ id: j.id }), j, 'the claimed view is what the store holds');
      }
      assert.deepEqual((await s.getJob({ id: 'a' }))!.result, { n: 1 });
      assert.equal((await s.getJob({ id: 'a:cb' }))!.state, 'queued');
      assert.equal((await s.getJob({ id: 'b' }))!.state, 'active', 'a stale token changes nothing');
      assert.equal((await s.getJob({ id: 'c' }))!.state, 'queued');
      // Outcomes of one queue, a claim from others first: same results as finish() then claim().
      await s.addJobs({ jobs: [job({ id: 'x', queue: 'q2' })], now: T0 + 3 });
      const e = r.claim.jobs[0]!;
      const r2 = await s.capabilities.finishAndClaim(
        { outcomes: [{ kind: 'failed', id: 'e', token: e.leaseToken!, at: T0 + 3, error: { message: 'no', retryable: false } }],
        claim: { queues: ['q2', 'q'], workerId: 'w2', limit: 2, leaseMs: 1000, now: T0 + 3 } },
      );
      assert.deepEqual(r2.applied, [true]);
      assert.deepEqual(r2.claim.jobs.map((j) => j.id), ['x', 'c']);
      assert.equal((await s.getJob({ id: 'e' }))!.state, 'failed');
    });

    it('a work-only listener gets every work event and may be spared the rest', async () => {
      const all: StoreEvent[] = [];
      const work: StoreEvent[] = [];
      const offAll = s.subscribe((e) => all.push(e));
      const offWork = s.capabilities.workEvents?.((e) => work.push(e)) ?? s.subscribe((e) => work.push(e));
      await s.addJobs({ jobs: [job({ id: 'a' }), job({ id: 'b', runAt: T0 + 5 })], now: T0 });
      const [j] = (await claim(1)).jobs;
      await s.finishJobs({ outcomes: [{ kind: 'retry', id: j!.id, token: j!.leaseToken!, at: T0, retryAt: T0 + 9, error: { message: 'x', retryable: true } }] });
      await s.pauseQueue({ queue: 'q', now: T0 });
      await s.resumeQueue({ queue: 'q', now: T0 });
      await s.setQueueOptions({ queue: 'q', options: { concurrency: 3 }, now: T0 });
      await waitFor(() => all.some((e) => e.type === 'limits-changed'));
      await waitFor(() => work.some((e) => e.type === 'limits-changed'));
      const key = (e: StoreEvent) => `${e.type}:${e.jobId ?? ''}`;
      // Every work event the full listener saw, the work-only listener saw, in the same order.
      assert.deepEqual(work.filter((e) => WORK_EVENTS.has(e.type)).map(key), all.filter((e) => WORK_EVENTS.has(e.type)).map(key));
      assert.deepEqual(all.filter((e) => WORK_EVENTS.has(e.type)).map(key), ['queued:a', 'scheduled:b', 'retrying:a', 'paused:', 'resumed:', 'limits-changed:']);
      assert.equal(work.find((e) => e.type === 'retrying')!.runAt, T0 + 9);
      assert.ok(all.some((e) => e.type === 'active') && all.some((e) => e.type === 'paused'));
      offAll();
      offWork();
    });
  });
}
