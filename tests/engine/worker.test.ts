// Worker behaviour on a real SQLite file: order, delays, retries, timeouts, cancel, pause, limits.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../src/core/clock.js';
import { NonRetryableError, RetryableError } from '../../src/core/errors.js';
import { deferred, nextEvent, withFusion, waitForState } from '../helpers/engine.js';
import { seededRandom } from '../helpers/random.js';
import { until } from '../helpers/await.js';
import type { Fusion } from '../../src/fusion.js';
import type { Store } from '../../src/core/store.js';
import { CANCELLED_AT_ATTEMPT_END } from '../../src/core/state-rules.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { join } from 'node:path';

/**
 * Wait until each of two workers (serving queues probe-a and probe-b after their main queue) has made
 * a claim after this call: each takes a probe job, and a claim that takes one asks for the main
 * queue first. So a negative check made after this sees what those claims would have done wrong.
 */
async function probeEachWorker(fusion: Fusion, store: Store): Promise<void> {
  const a = await fusion.enqueue('probe-a');
  const b = await fusion.enqueue('probe-b');
  await waitForState(store, a.id, 'completed');
  await waitForState(store, b.id, 'completed');
}

describe('Worker', () => {
  it('runs jobs by priority, FIFO within a priority', async () => {
    await withFusion(async ({ fusion, store }) => {
      const order: string[] = [];
      fusion.task('t', (p: { n: string }) => void order.push(p.n));
      const specs = [
        ['l1', 'low'], ['m1', undefined], ['h1', 'high'], ['m2', 'moderate'], ['l2', 'low'], ['h2', 'high'], ['m3', undefined],
      ] as const;
      for (const [n, priority] of specs) await fusion.enqueue('t', { n }, { id: n, priority });
      const w = fusion.worker({ queues: ['default'], concurrency: 1 });
      await waitForState(store, 'l2', 'completed');
      assert.deepEqual(order, ['h1', 'h2', 'm1', 'm2', 'm3', 'l1', 'l2']);
      await w.stop();
    });
  });

  it('a job with no priority is moderate: behind high, ahead of low', async () => {
    await withFusion(async ({ fusion, store }) => {
      const order: string[] = [];
      fusion.task('t', (p: string) => void order.push(p));
      await fusion.enqueue('t', 'low', { priority: 'low' });
      await fusion.enqueue('t', 'none');
      const last = await fusion.enqueue('t', 'high', { priority: 'high' });
      assert.equal((await store.getJob({ id: last.id }))!.priority, 2);
      fusion.worker({ queues: ['default'], concurrency: 1 });
      await waitForState(store, (await store.listJobs({ task: 't', limit: 3 })).items[2]!.id, 'completed');
      assert.deepEqual(order, ['high', 'none', 'low']);
    });
  });

  it('runs a delayed job when it comes due, woken by its timer', async () => {
    const clock = new ManualClock();
    await withFusion({ clock }, async ({ fusion, store }) => {
      const ran = deferred<number>();
      fusion.task('t', () => ran.resolve(clock.now()));
      fusion.task('probe', () => 'ok');
      fusion.worker({ queues: ['default'], concurrency: 2 });
      const due = clock.now() + 60_000;
      const job = await fusion.enqueue('t', null, { delay: 60_000 });
      assert.equal(job.state, 'scheduled');
      clock.advance(59_999);
      // A job due now, taken by a claim made after the clock moved (with room for two): had the
      // delayed job been due a millisecond early, the same claim would have taken it too.
      const probe = await fusion.enqueue('probe');
      await waitForState(store, probe.id, 'completed');
      assert.equal((await store.getJob({ id: job.id }))!.state, 'scheduled');
      clock.advance(1);
      assert.equal(await ran.promise, due);
      await waitForState(store, job.id, 'completed');
    });
  });

  it('retries with backoff on the test clock, then completes', async () => {
    const clock = new ManualClock();
    await withFusion({ clock }, async ({ fusion, store }) => {
      let calls = 0;
      fusion.task('flaky', () => {
        calls++;
        if (calls < 3) throw new Error(`provider down #${calls}`);
        return { sent: true };
      });
      fusion.worker({ queues: ['default'] });
      const first = nextEvent(store, (e) => e.type === 'retrying' && e.jobId === 'flaky-1');
      const job = await fusion.enqueue('flaky', null, { id: 'flaky-1', backoff: { type: 'list', delays: [1000, 5000] } });
      const r1 = await first;
      assert.equal(r1.runAt, clock.now() + 1000);
      let j = (await store.getJob({ id: job.id }))!;
      assert.equal(j.state, 'scheduled');
      assert.equal(j.error!.message, 'provider down #1');
      const second = nextEvent(store, (e) => e.type === 'retrying' && e.jobId === job.id);
      clock.advance(1000);
      assert.equal((await second).runAt, clock.now() + 5000);
      clock.advance(5000);
      j = await waitForState(store, job.id, 'completed');
      assert.equal(calls, 3);
      assert.equal(j.attempts, 3);
      assert.deepEqual(j.result, { sent: true });
      assert.deepEqual(j.history.map((h) => h.outcome), ['retrying', 'retrying', 'completed']);
    });
  });

  it('fails after maxAttempts, and fails at once on a NonRetryableError', async () => {
    const clock = new ManualClock();
    await withFusion({ clock }, async ({ fusion, store }) => {
      fusion.task('always', () => {
        throw new Error('nope');
      });
      fusion.task('fatal', () => {
        throw new NonRetryableError('invalid phone number');
      });
      fusion.worker({ queues: ['default'] });
      const fatal = await fusion.enqueue('fatal', null, { maxAttempts: 5 });
      const f = await waitForState(store, fatal.id, 'failed');
      assert.equal(f.attempts, 1);
      assert.equal(f.error!.retryable, false);
      assert.equal(f.error!.message, 'invalid phone number');

      const retrying = nextEvent(store, (e) => e.type === 'retrying' && e.jobId === 'always-1');
      const always = await fusion.enqueue('always', null, { id: 'always-1', maxAttempts: 2, backoff: { type: 'fixed', delay: 10 } });
      await retrying;
      clock.advance(10);
      const a = await waitForState(store, always.id, 'failed');
      assert.equal(a.attempts, 2);
      assert.equal(a.error!.retryable, true);
    });
  });

  it('honours a retry delay asked for by the handler (Retry-After)', async () => {
    const clock = new ManualClock();
    await withFusion({ clock }, async ({ fusion, store }) => {
      fusion.task('limited', () => {
        throw new RetryableError('429 from provider', 42_000);
      });
      fusion.worker({ queues: ['default'] });
      const retrying = nextEvent(store, (x) => x.type === 'retrying' && x.jobId === 'limited-1');
      await fusion.enqueue('limited', null, { id: 'limited-1' });
      const e = await retrying;
      assert.equal(e.runAt, clock.now() + 42_000);
    });
  });

  it('fails a job whose task has no handler once its attempts are spent (tests/engine/deploys.test.ts: it retries first)', async () => {
    await withFusion(async ({ fusion, store }) => {
      fusion.worker({ queues: ['default'] });
      const job = await fusion.enqueue('nobody-handles-this', null, { maxAttempts: 1 });
      const f = await waitForState(store, job.id, 'failed');
      assert.match(f.error!.message, /no handler is registered for task "nobody-handles-this"/);
      assert.equal(f.error!.code, 'unknown_task');
    });
  });

  it('aborts an attempt at its timeout and retries it', async () => {
    const clock = new ManualClock();
    await withFusion({ clock }, async ({ fusion, store }) => {
      const signals: AbortSignal[] = [];
      fusion.task('slow', (_p, ctx) => {
        signals.push(ctx.signal);
        return new Promise(() => {}); // never settles by itself
      });
      fusion.worker({ queues: ['default'] });
      const active = nextEvent(store, (e) => e.type === 'active' && e.jobId === 'slow-1');
      const job = await fusion.enqueue('slow', null, { id: 'slow-1', timeout: 5000, maxAttempts: 2 });
      await active;
      const retrying = nextEvent(store, (e) => e.type === 'retrying' && e.jobId === job.id);
      clock.advance(5000);
      await retrying;
      assert.equal(signals[0]!.aborted, true);
      const j = (await store.getJob({ id: job.id }))!;
      assert.equal(j.error!.name, 'TimeoutError');
      assert.match(j.error!.message, /timed out after 5000 ms/);
    });
  });

  it('cancels an active job: its signal aborts and it ends cancelled', async () => {
    await withFusion(async ({ fusion, store }) => {
      const started = deferred<AbortSignal>();
      fusion.task('long', (_p, ctx) => {
        started.resolve(ctx.signal);
        return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      });
      fusion.worker({ queues: ['default'] });
      const job = await fusion.enqueue('long');
      const signal = await started.promise;
      const during = await fusion.queue.cancel(job.id);
      assert.equal(during.cancelRequested, true);
      const j = await waitForState(store, job.id, 'cancelled');
      assert.equal(signal.aborted, true);
      assert.equal(j.history[0]!.outcome, 'cancelled');
    });
  });

  it('a cancel request made while a job runs wins over the retry its attempt then reports', async () => {
    await withFusion(async ({ fusion, store, dir }) => {
      // The request comes from another process (an API or dashboard on the same file): the handler
      // fails before this worker hears of it, and its retry reaches the store after the request.
      const operator = new SqliteStore(join(dir, 'fusion.db'));
      try {
        let runs = 0;
        const started = deferred();
        const fail = deferred();
        fusion.task('flaky', async () => {
          runs++;
          started.resolve();
          await fail.promise;
          throw new RetryableError('provider answered 503');
        });
        fusion.worker({ queues: ['default'] });
        const job = await fusion.enqueue('flaky', null, { maxAttempts: 3, backoff: { type: 'fixed', delay: 0 } });
        await started.promise;
        assert.equal((await operator.cancelJob({ id: job.id, now: Date.now() })).cancelRequested, true);
        fail.resolve();
        const j = await waitForState(store, job.id, ['cancelled', 'failed', 'completed']);
        assert.equal(j.state, 'cancelled');
        assert.equal(j.error?.message, CANCELLED_AT_ATTEMPT_END.message, 'ended by the store, not by an abort the worker heard of');
        assert.deepEqual(j.history.map((h) => h.outcome), ['cancelled']);
        assert.equal(j.attempts, 1);
        // It is not claimed again: a probe job queued after it runs, and the cancelled job did not.
        fusion.task('probe', () => undefined);
        const probe = await fusion.enqueue('probe');
        await waitForState(store, probe.id, 'completed');
        assert.equal(runs, 1);
      } finally {
        await operator.close();
      }
    });
  });

  it('keeps a job longer than its lease while the worker heartbeats', async () => {
    const clock = new ManualClock();
    await withFusion({ clock }, async ({ fusion, store }) => {
      const release = deferred();
      const started = deferred();
      fusion.task('long', async () => {
        started.resolve();
        await release.promise;
        return 'done';
      });
      fusion.worker({ queues: ['default'], leaseMs: 1000, heartbeatMs: 300 });
      const job = await fusion.enqueue('long');
      await started.promise;
      for (let i = 0; i < 10; i++) {
        clock.advance(300);
        // The heartbeat has landed once the store holds the lease it extended (to now + leaseMs).
        await until(async () => (await store.getJob({ id: job.id }))!.leaseUntil === clock.now() + 1000, 5000, `heartbeat at step ${i}`, 1);
        const rec = await store.recoverExpiredJobs({ now: clock.now() });
        assert.deepEqual(rec.requeued, [], `lease lost at step ${i}`);
      }
      assert.ok((await store.getJob({ id: job.id }))!.leaseUntil! > clock.now());
      release.resolve();
      const j = await waitForState(store, job.id, 'completed');
      assert.equal(j.stalls, 0);
    });
  });

  it('does not take from a paused queue; takes again on resume', async () => {
    await withFusion(async ({ fusion, store }) => {
      fusion.task('t', () => 'ok', { queue: 'sms' });
      fusion.task('probe', () => 'ok', { queue: 'probe' });
      await fusion.queue.pause('sms');
      const job = await fusion.enqueue('t');
      fusion.worker({ queues: ['sms', 'probe'], concurrency: 1 });
      // The probe's claim asks for sms first: had the pause been ignored, it would have taken the sms job.
      const probe = await fusion.enqueue('probe');
      await waitForState(store, probe.id, 'completed');
      assert.equal((await store.getJob({ id: job.id }))!.state, 'queued');
      await fusion.queue.resume('sms');
      await waitForState(store, job.id, 'completed');
    });
  });

  it('rate-limits a queue across workers: at most N starts per window', async () => {
    const clock = new ManualClock();
    await withFusion({ clock }, async ({ fusion, store }) => {
      const started: number[] = [];
      fusion.task('t', () => void started.push(clock.now()), { queue: 'bulk' });
      fusion.task('probe-a', () => 'ok', { queue: 'probe-a' });
      fusion.task('probe-b', () => 'ok', { queue: 'probe-b' });
      await fusion.queue.setQueueOptions('bulk', { rateLimit: { max: 3, windowMs: 1000 } });
      const jobs = await fusion.queue.enqueueMany(Array.from({ length: 7 }, () => ({ task: 't' })));
      fusion.worker({ queues: ['bulk', 'probe-a'], concurrency: 10 });
      fusion.worker({ queues: ['bulk', 'probe-b'], concurrency: 10 });
      await waitForState(store, jobs[2]!.job.id, 'completed');
      await probeEachWorker(fusion, store);
      assert.equal(started.length, 3);
      clock.advance(1000);
      await waitForState(store, jobs[5]!.job.id, 'completed');
      assert.equal(started.length, 6);
      clock.advance(1000);
      await waitForState(store, jobs[6]!.job.id, 'completed');
      assert.equal(started.length, 7);
    });
  });

  it('limits global concurrency of a queue across workers', async () => {
    await withFusion(async ({ fusion, store }) => {
      let now = 0;
      let peak = 0;
      const gate = deferred();
      fusion.task('t', async () => {
        peak = Math.max(peak, ++now);
        await gate.promise;
        now--;
      }, { queue: 'wa' });
      fusion.task('probe-a', () => 'ok', { queue: 'probe-a' });
      fusion.task('probe-b', () => 'ok', { queue: 'probe-b' });
      await fusion.queue.setQueueOptions('wa', { concurrency: 2 });
      const jobs = await fusion.queue.enqueueMany(Array.from({ length: 6 }, () => ({ task: 't' })));
      // Room in each worker for every job and its probe: an over-claim shows as too many active, not a stuck probe.
      fusion.worker({ queues: ['wa', 'probe-a'], concurrency: 10 });
      fusion.worker({ queues: ['wa', 'probe-b'], concurrency: 10 });
      await nextEvent(store, (e) => e.type === 'active');
      // Both workers have claimed again since, with free slots: had they over-claimed, it would show now.
      await probeEachWorker(fusion, store);
      assert.equal((await store.countJobs({ queue: 'wa' })).wa!.active, 2);
      gate.resolve();
      for (const j of jobs) await waitForState(store, j.job.id, 'completed');
      assert.equal(peak, 2);
    });
  });

  it('serves several queues in the order given', async () => {
    await withFusion(async ({ fusion, store }) => {
      const order: string[] = [];
      fusion.task('a', (p: string) => void order.push(p), { queue: 'otp' });
      fusion.task('b', (p: string) => void order.push(p), { queue: 'campaign' });
      await fusion.enqueue('b', 'campaign-1', { priority: 'high' });
      await fusion.enqueue('a', 'otp-1', { priority: 'low' });
      const last = await fusion.enqueue('b', 'campaign-2');
      fusion.worker({ queues: ['otp', 'campaign'], concurrency: 1 });
      await waitForState(store, last.id, 'completed');
      assert.deepEqual(order, ['otp-1', 'campaign-1', 'campaign-2']);
    });
  });

  it('weighted fairness draws queues in proportion to their weights', async () => {
    await withFusion(async ({ fusion, store }) => {
      const firsts: string[] = [];
      fusion.task('x', (p: string) => void firsts.push(p), { queue: 'x' });
      fusion.task('y', (p: string) => void firsts.push(p), { queue: 'y' });
      await fusion.queue.enqueueMany(Array.from({ length: 400 }, (_, i) => ({ task: i % 2 ? 'x' : 'y', payload: i % 2 ? 'x' : 'y' })));
      // Seeded, so the draws are the same on every run: the share below cannot miss by bad luck.
      const w = fusion.worker({ queues: ['x', 'y'], concurrency: 1, batchSize: 1, weights: { x: 3, y: 1 }, random: seededRandom(17) });
      await nextEvent(store, (e) => e.type === 'completed' && firsts.length >= 160, 20_000);
      await w.stop();
      const xs = firsts.slice(0, 160).filter((q) => q === 'x').length;
      // Expected share 3/4 = 120 of 160; strict order would give 160, round robin 80.
      assert.ok(xs > 100 && xs < 140, `x took ${xs} of 160`);
    });
  });

  it('reports progress and log lines stored with the job', async () => {
    await withFusion(async ({ fusion, store }) => {
      const seen: unknown[] = [];
      fusion.task('p', async (_p, ctx) => {
        await ctx.progress({ pct: 50 });
        await ctx.log('half way');
        // Taken apart from ctx, its members still work (they are bound to this job).
        const { progress, log, attempt, workerId, job, signal } = ctx;
        await progress({ pct: 60 });
        await log('nearly');
        seen.push(attempt, workerId === w.id, job.id, signal.aborted);
        return 1;
      });
      const w = fusion.worker({ queues: ['default'] });
      const progress = nextEvent(store, (e) => e.type === 'progress' && e.jobId === 'p-1');
      const job = await fusion.enqueue('p', null, { id: 'p-1' });
      const ev = await progress;
      assert.deepEqual(ev.progress, { pct: 50 });
      const j = await waitForState(store, job.id, 'completed');
      assert.deepEqual(j.progress, { pct: 60 });
      assert.deepEqual((await store.jobLogs({ id: job.id })).map((l) => l.message), ['half way', 'nearly']);
      assert.deepEqual(seen, [1, true, 'p-1', false]);
    });
  });

  it('fires success and failure callbacks as jobs of their own, over real HTTP', async () => {
    const hits: { path: string; body: any }[] = [];
    let failNext = 1;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (req.url === '/ok' && failNext-- > 0) {
          res.writeHead(503, { 'retry-after': '0' }).end();
          return;
        }
        hits.push({ path: req.url!, body: JSON.parse(body) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await withFusion(async ({ fusion, store }) => {
        fusion.task('good', () => ({ id: 'msg-1' }));
        fusion.task('bad', () => {
          throw new NonRetryableError('bad input');
        });
        fusion.worker({ queues: ['default', 'callbacks'], concurrency: 4 });
        const g = await fusion.enqueue('good', null, { callbacks: { onSuccess: `${base}/ok`, onFailure: `${base}/ko` } });
        const b = await fusion.enqueue('bad', null, { callbacks: { onSuccess: `${base}/ok`, onFailure: `${base}/ko` } });
        const okCb = await waitForState(store, `${g.id}:completed-callback`, 'completed');
        const koCb = await waitForState(store, `${b.id}:failed-callback`, 'completed');
        assert.equal(okCb.attempts, 2, 'the 503 was retried');
        assert.equal(koCb.attempts, 1);
        assert.deepEqual(hits.map((h) => h.path).sort(), ['/ko', '/ok']);
        const ok = hits.find((h) => h.path === '/ok')!.body;
        assert.equal(ok.event, 'job.completed');
        assert.deepEqual(ok.job.result, { id: 'msg-1' });
        const ko = hits.find((h) => h.path === '/ko')!.body;
        assert.equal(ko.event, 'job.failed');
        assert.equal(ko.job.error.message, 'bad input');
      });
    } finally {
      server.close();
    }
  });

  it('lets the event loop turn while it drains a backlog of instant jobs', async () => {
    await withFusion(async ({ fusion }) => {
      // SQLite answers at once and this handler does too: finish, claim and run would chain as
      // microtasks, so a timer (a heartbeat, the HTTP server's work) waited for the whole backlog.
      const total = 5000;
      let ran = 0;
      const allRan = deferred<void>();
      fusion.task('instant', () => {
        if (++ran === total) allRan.resolve();
      });
      await fusion.queue.enqueueMany(Array.from({ length: total }, (_, i) => ({ task: 'instant', queue: 'q', payload: { i } })));
      const w = fusion.worker({ queues: ['q'], concurrency: 1 });
      const ranWhenTimerFired = await new Promise<number>((resolve) => setTimeout(() => resolve(ran), 1));
      await allRan.promise;
      await w.stop();
      assert.ok(ran === total && ranWhenTimerFired < total / 2, `a 1 ms timer fired after ${ranWhenTimerFired} of ${total} jobs`);
    });
  });

  it('forgets a worker once it stopped: thousands started and stopped leave only the live one held, and close() stops that one', async () => {
    await withFusion(async ({ fusion }) => {
      fusion.task('t', async () => 'done');
      const held = () => (fusion as unknown as { workers: Set<unknown> }).workers.size;
      const N = 2000;
      // An application that starts a worker per tenant and stops it when the tenant goes.
      for (let i = 0; i < N; i++) await fusion.worker({ queues: [`tenant-${i}`], concurrency: 1 }).stop(0);
      const live = fusion.worker({ queues: ['default'], concurrency: 1 });
      assert.equal(held(), 1, 'workers held by the Fusion');
      const job = await fusion.enqueue('t');
      assert.equal((await waitForState(fusion.store, job.id, 'completed')).result, 'done');
      const down = fusion.lifecycle.next('worker.down');
      await fusion.close(100);
      assert.equal((await down).workerId, live.id, 'close() stops the live worker');
    });
  });
});
