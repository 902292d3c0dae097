import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../../src/core/store.js';
import { T0, job, useStore, claimer, type StoreFactory } from '../harness.js';


export function insertArea(make: StoreFactory): void {
  describe('insert', () => {
    let s!: Store;
    useStore(make, (store) => (s = store));
    const claim = claimer(() => s);

    it('adds queued jobs now and scheduled jobs for later', async () => {
      const [a, b] = await s.addJobs({ jobs: [job({ id: 'a' }), job({ id: 'b', runAt: T0 + 1000 })], now: T0 });
      assert.equal(a!.created, true);
      assert.equal(a!.job.state, 'queued');
      assert.equal(b!.job.state, 'scheduled');
      assert.equal((await s.getJob({ id: 'b' }))!.runAt, T0 + 1000);
      assert.deepEqual((await s.getJob({ id: 'a' }))!.payload, null);
    });

    it('is idempotent by id: the same id twice is one job', async () => {
      await s.addJobs({ jobs: [job({ id: 'x', payload: { n: 1 } })], now: T0 });
      const [again] = await s.addJobs({ jobs: [job({ id: 'x', payload: { n: 2 } })], now: T0 + 5 });
      assert.equal(again!.created, false);
      assert.deepEqual(again!.job.payload, { n: 1 });
      assert.equal((await s.countJobs({ queue: 'q' })).q!.queued, 1);
    });

    it('keeps every field of a job', async () => {
      await s.addJobs({ jobs: [job({
        id: 'full', payload: { to: '+91', nested: [1, { a: true }] }, priority: 'high', maxAttempts: 3,
        backoff: { type: 'fixed', delay: 5 }, timeout: 1234, description: 'd', tags: ['otp', 'lab'],
        callbacks: { onSuccess: 'http://127.0.0.1/s' },
      })], now: T0 });
      const j = (await s.getJob({ id: 'full' }))!;
      assert.deepEqual(j.payload, { to: '+91', nested: [1, { a: true }] });
      assert.equal(j.priority, 2);
      assert.equal(j.maxAttempts, 3);
      assert.deepEqual(j.backoff, { type: 'fixed', delay: 5 });
      assert.equal(j.timeout, 1234);
      assert.equal(j.description, 'd');
      assert.deepEqual(j.tags, ['otp', 'lab']);
      assert.deepEqual(j.callbacks, { onSuccess: 'http://127.0.0.1/s' });
      assert.equal(j.attempts, 0);
      assert.equal(j.createdAt, T0);
    });

    it('adds across queues all or nothing: one job that cannot be stored refuses the whole add', async () => {
      const bad = job({ id: 'bad', queue: 'q3' });
      // Not JSON: no store can keep it (set after resolveSpec, which refuses it, its text unmade).
      bad.payload = { n: 10n };
      bad.payloadJson = undefined;
      await assert.rejects(s.addJobs({ jobs: [job({ id: 'ok1', queue: 'q1' }), job({ id: 'ok2', queue: 'q2' }), bad], now: T0 }));
      assert.equal(await s.getJob({ id: 'ok1' }), null);
      assert.equal(await s.getJob({ id: 'ok2' }), null);
      assert.deepEqual(Object.values(await s.countJobs()).reduce((n, c) => n + c.queued, 0), 0);
    });

    it('keeps ids unique in a queue whatever the state: an existing id answers the stored job', async () => {
      await s.addJobs({ jobs: [job({ id: 'x' })], now: T0 });
      await claim(1);
      const [again, fresh] = await s.addJobs({ jobs: [job({ id: 'x', payload: { n: 2 } }), job({ id: 'y' })], now: T0 + 1 });
      assert.equal(again!.created, false);
      assert.equal(again!.job.state, 'active');
      assert.equal(again!.job.payload, null);
      assert.equal(fresh!.created, true);
      assert.equal((await s.countJobs({ queue: 'q' })).q!.queued, 1);
    });

    it('returns null for an unknown id', async () => {
      assert.equal(await s.getJob({ id: 'nope' }), null);
    });
  });
}
