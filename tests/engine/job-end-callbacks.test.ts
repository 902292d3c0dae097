// A job's callbacks, one per end of the job, on every store against a real loopback receiver: when
// the job fails by stall recovery (its worker died holding it more often than maxStalls allows) it
// has ended failed as surely as one whose handler threw; a job retried by hand that ends again
// tells that end too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { LOOPBACK_ALLOWED, waitForState } from '../helpers/engine.js';
import { within } from '../helpers/await.js';
import { receiver } from '../channels/webhook-server.js';
import { storeKinds } from '../helpers/each-store.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const stores = await storeKinds();

for (const [name, make, skip] of stores) {
  describe(`job-end callbacks (${name})`, { skip }, () => {
    it('a job failed by stall recovery gets its failure callback, with the stall error, as a job whose handler failed would', async () => {
      const rx = await receiver();
      const { store, cleanup } = await make();
      const fusion = await Fusion.open({ store, config: LOOPBACK_ALLOWED });
      try {
        fusion.task('t', () => 'never run here');
        const job = await fusion.enqueue('t', {}, { maxStalls: 0, callbacks: { onFailure: `${rx.base}/failed` } });
        // A worker that claimed it and died: its lease ran out a minute ago.
        const now = fusion.clock.now();
        const claimed = await store.claimJobs({ queues: ['default'], workerId: 'dead-worker', limit: 1, leaseMs: 1000, now: now - 60_000 });
        assert.deepEqual(claimed.jobs.map((j) => j.id), [job.id]);
        fusion.startMaintenance({ intervalMs: 60_000 });
        const failed = await waitForState(store, job.id, ['failed', 'queued']);
        assert.equal(failed.state, 'failed', 'maxStalls 0: the first lost lease fails it');
        assert.equal(failed.error?.code, 'stalled');
        fusion.worker({ queues: ['callbacks'], concurrency: 1 });
        const cb = await waitForState(store, `${job.id}:failed-callback`, ['completed', 'failed']);
        assert.equal(cb.state, 'completed');
        assert.equal(cb.maxAttempts, 20, 'the callback task\'s own retries');
        const hit = await rx.hit(1);
        assert.equal(hit.url, '/failed');
        const body = JSON.parse(hit.body) as { event: string; job: { id: string; state: string; error: { code: string; stack?: string } } };
        assert.equal(body.event, 'job.failed');
        assert.equal(body.job.id, job.id);
        assert.equal(body.job.state, 'failed');
        assert.equal(body.job.error.code, 'stalled');
        assert.equal(body.job.error.stack, undefined);
        assert.equal(rx.hits.length, 1);
      } finally {
        await fusion.close(100);
        await cleanup();
        await rx.close();
      }
    });

    it('a failed job retried by hand that fails again and then completes: each end is called back', async () => {
      const rx = await receiver();
      const { store, cleanup } = await make();
      const fusion = await Fusion.open({ store, config: { ...LOOPBACK_ALLOWED, channels: { webhook: { signingSecret: SECRET } } } });
      try {
        let runs = 0;
        fusion.task('t', () => {
          runs++;
          if (runs < 3) throw new Error(`down #${runs}`);
          return { run: runs };
        }, { maxAttempts: 1 });
        fusion.worker({ queues: ['default', 'callbacks'], concurrency: 2 });
        const job = await fusion.enqueue('t', {}, { callbacks: { onFailure: `${rx.base}/failed`, onSuccess: `${rx.base}/done` } });
        const bodies: { event: string; job: { id: string; error?: { message: string }; result?: unknown } }[] = [];
        for (const [n, retry] of [[1, null], [2, { resetAttempts: true }], [3, { resetAttempts: false }]] as const) {
          if (retry) await fusion.queue.retry(job.id, retry);
          const hit = await within(rx.hit(n), 10_000, `callback #${n} (of the job's end #${n})`);
          bodies.push(JSON.parse(hit.body));
        }
        assert.deepEqual(bodies.map((b) => [b.event, b.job.id, b.job.error?.message ?? b.job.result]), [
          ['job.failed', job.id, 'down #1'],
          ['job.failed', job.id, 'down #2'],
          ['job.completed', job.id, { run: 3 }],
        ]);
        assert.deepEqual(rx.hits.map((h) => h.url), ['/failed', '/failed', '/done']);
        // One callback job per end, each with an id (its webhook-id, receivers de-duplicate on it) of its own.
        assert.deepEqual(rx.hits.map((h) => h.headers['webhook-id']), [`${job.id}:failed-callback`, `${job.id}:failed-callback-2`, `${job.id}:completed-callback`]);
      } finally {
        await fusion.close(100);
        await cleanup();
        await rx.close();
      }
    });

    it('a job whose id is 200 characters long calls back each end, under ids of its own that fit the id limit', async () => {
      const rx = await receiver();
      const { store, cleanup } = await make();
      const fusion = await Fusion.open({ store, config: { ...LOOPBACK_ALLOWED, channels: { webhook: { signingSecret: SECRET } } } });
      try {
        let runs = 0;
        fusion.task('t', () => {
          runs++;
          if (runs < 3) throw new Error(`down #${runs}`);
          return { run: runs };
        }, { maxAttempts: 1 });
        fusion.worker({ queues: ['default', 'callbacks'], concurrency: 2 });
        const job = await fusion.enqueue('t', {}, { id: `long-${'x'.repeat(195)}`, callbacks: { onFailure: `${rx.base}/failed`, onSuccess: `${rx.base}/done` } });
        assert.equal(job.id.length, 200);
        await within(rx.hit(1), 10_000, 'the first failure told');
        await fusion.queue.retry(job.id);
        await within(rx.hit(2), 10_000, 'the failure after a retry by hand told');
        await fusion.queue.retry(job.id);
        await within(rx.hit(3), 10_000, 'the completion told');
        assert.equal((await store.getJob({ id: job.id }))!.state, 'completed');
        const ids = rx.hits.map((h) => String(h.headers['webhook-id']));
        assert.equal(new Set(ids).size, 3, `one callback job per end: ${ids.join(', ')}`);
        for (const id of ids) assert.ok(id.length <= 200, `a callback id within the limit: ${id.length}`);
      } finally {
        await fusion.close(100);
        await cleanup();
        await rx.close();
      }
    });

    it('a job failed by stall recovery, retried by hand, that fails again: the second failure is called back too', async () => {
      const rx = await receiver();
      const { store, cleanup } = await make();
      const fusion = await Fusion.open({ store, config: { ...LOOPBACK_ALLOWED, channels: { webhook: { signingSecret: SECRET } } } });
      try {
        fusion.task('t', () => {
          throw new Error('down');
        }, { maxAttempts: 1 });
        const job = await fusion.enqueue('t', {}, { maxStalls: 0, callbacks: { onFailure: `${rx.base}/failed` } });
        const now = fusion.clock.now();
        await store.claimJobs({ queues: ['default'], workerId: 'dead-worker', limit: 1, leaseMs: 1000, now: now - 60_000 });
        fusion.startMaintenance({ intervalMs: 60_000 });
        fusion.worker({ queues: ['callbacks'], concurrency: 1 });
        const first = await within(rx.hit(1), 10_000, 'the stall failure told');
        assert.equal(JSON.parse(first.body).job.error.code, 'stalled');
        fusion.worker({ queues: ['default'], concurrency: 1 });
        await fusion.queue.retry(job.id);
        const second = await within(rx.hit(2), 10_000, 'the failure after the retry by hand told');
        assert.equal(JSON.parse(second.body).job.error.message, 'down');
        assert.deepEqual(rx.hits.map((h) => h.headers['webhook-id']), [`${job.id}:failed-callback`, `${job.id}:failed-callback-2`]);
      } finally {
        await fusion.close(100);
        await cleanup();
        await rx.close();
      }
    });
  });
}
