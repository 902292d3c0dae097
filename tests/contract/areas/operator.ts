import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../../src/core/store.js';
import { FusionError } from '../../../src/core/errors.js';
import { T0, job, useStore, claimer, type StoreFactory } from '../harness.js';


export function operatorArea(make: StoreFactory): void {
  describe('operator actions', () => {
    let s!: Store;
    useStore(make, (store) => (s = store));
    const claim = claimer(() => s);

    it('cancels scheduled and queued jobs, refuses finished ones', async () => {
      await s.addJobs({ jobs: [job({ id: 'a' }), job({ id: 'b', runAt: T0 + 10 })], now: T0 });
      assert.equal((await s.cancelJob({ id: 'a', now: T0 })).state, 'cancelled');
      assert.equal((await s.cancelJob({ id: 'b', now: T0 })).state, 'cancelled');
      assert.equal((await claim(10, ['q'], T0 + 100)).jobs.length, 0);
      await assert.rejects(s.cancelJob({ id: 'a', now: T0 }), (e: FusionError) => e.code === 'conflict' && e.status === 409);
      await assert.rejects(s.cancelJob({ id: 'missing', now: T0 }), (e: FusionError) => e.code === 'not_found' && e.status === 404);
    });

    it('reschedules and promotes', async () => {
      await s.addJobs({ jobs: [job({ id: 'a', runAt: T0 + 1000 }), job({ id: 'b' })], now: T0 });
      assert.equal((await s.rescheduleJob({ id: 'a', runAt: T0 + 5000, now: T0 })).runAt, T0 + 5000);
      assert.equal((await s.rescheduleJob({ id: 'b', runAt: T0 + 10, now: T0 })).state, 'scheduled');
      const p = await s.promoteJob({ id: 'a', now: T0 + 1 });
      assert.equal(p.state, 'queued');
      assert.deepEqual((await claim(10, ['q'], T0 + 1)).jobs.map((j) => j.id), ['a']);
      await assert.rejects(s.promoteJob({ id: 'a', now: T0 }), (e: FusionError) => e.code === 'conflict');
      await assert.rejects(s.rescheduleJob({ id: 'a', runAt: T0 + 9, now: T0 }), (e: FusionError) => e.code === 'conflict');
    });

    it('retries failed and cancelled jobs, resetting attempts or keeping them', async () => {
      await s.addJobs({ jobs: [job({ id: 'a', maxAttempts: 1 }), job({ id: 'b', maxAttempts: 1 })], now: T0 });
      const jobs = (await claim()).jobs;
      for (const j of jobs) {
        await s.finishJobs({ outcomes: [{ kind: 'failed', id: j.id, token: j.leaseToken!, at: T0, error: { message: 'x', retryable: true } }] });
      }
      const a = await s.retryJob({ id: 'a', now: T0 + 1 });
      assert.equal(a.state, 'queued');
      assert.equal(a.attempts, 0);
      assert.equal(a.error, null);
      const b = await s.retryJob({ id: 'b', resetAttempts: false, now: T0 + 1 });
      assert.equal(b.attempts, 1);
      assert.equal(b.maxAttempts, 2);
      await assert.rejects(s.retryJob({ id: 'a', now: T0 }), (e: FusionError) => e.code === 'conflict');
    });

    it('removes jobs that are not active', async () => {
      await s.addJobs({ jobs: [job({ id: 'a' }), job({ id: 'b' })], now: T0 });
      await s.logJob({ id: 'a', message: 'line', now: T0 });
      await s.removeJob({ id: 'a', now: T0 });
      assert.equal(await s.getJob({ id: 'a' }), null);
      assert.deepEqual(await s.jobLogs({ id: 'a' }), []);
      await claim(1);
      await assert.rejects(s.removeJob({ id: 'b', now: T0 }), (e: FusionError) => e.code === 'conflict');
    });

    it('cleans finished jobs older than a time, bounded by a limit', async () => {
      await s.addJobs({ jobs: Array.from({ length: 5 }, (_, i) => job({ id: `k${i}` })), now: T0 });
      const jobs = (await claim(5)).jobs;
      await s.finishJobs({ outcomes: jobs.map((j, i) => ({ kind: 'completed' as const, id: j.id, token: j.leaseToken!, at: T0 + i * 10, result: null })) });
      assert.equal(await s.cleanJobs({ endedBefore: T0 + 25, limit: 2 }), 2);
      assert.equal(await s.cleanJobs({ endedBefore: T0 + 25 }), 1);
      assert.equal((await s.countJobs({ queue: 'q' })).q!.completed, 2);
      assert.equal(await s.cleanJobs({ endedBefore: T0 + 1000, states: ['failed'] }), 0);
      assert.equal(await s.cleanJobs({ endedBefore: T0 + 1000, queue: 'q' }), 2);
    });

    it('keeps no log line for a job it no longer holds (a delivery report after retention), nor gives it to a job added again under its id', async () => {
      const N = 2000;
      await s.addJobs({ jobs: Array.from({ length: N }, (_, i) => job({ id: `gone${i}` })), now: T0 });
      const jobs = (await claim(N)).jobs;
      assert.equal(jobs.length, N);
      await s.finishJobs({ outcomes: jobs.map((j) => ({ kind: 'completed' as const, id: j.id, token: j.leaseToken!, at: T0, result: null })) });
      assert.equal(await s.cleanJobs({ endedBefore: T0 + 1, limit: N }), N);
      // A provider's delivery report (kept 7 days) comes for each after the job's 24 h of retention.
      for (const j of jobs) await s.logJob({ id: j.id, message: 'delivery: delivered reported by p', now: T0 + 1 });
      let kept = 0;
      for (const j of jobs) kept += (await s.jobLogs({ id: j.id })).length;
      assert.equal(kept, 0, 'no line of a job that is gone is stored (nothing would ever remove it)');
      await s.addJobs({ jobs: [job({ id: 'gone0' })], now: T0 + 2 });
      assert.deepEqual(await s.jobLogs({ id: 'gone0' }), [], 'a new job under the id starts with no lines');
    });
  });
}
