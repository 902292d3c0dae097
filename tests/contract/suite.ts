// The Store contract suite: written once against the Store interface, run against every store.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { WORK_EVENTS, type Store, type StoreEvent } from '../../src/core/store.js';
import { resolveSpec } from '../../src/core/queue.js';
import type { JobSpec, NewJob } from '../../src/core/job.js';
import { FusionError } from '../../src/core/errors.js';

export interface StoreHarness {
  store: Store;
  cleanup(): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);
const job = (spec: Partial<JobSpec> & { id?: string }, now = T0): NewJob =>
  resolveSpec({ task: 't', queue: 'q', ...spec }, now);

export function storeContract(name: string, make: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    let h: StoreHarness;
    let s: Store;
    beforeEach(async () => {
      h = await make();
      s = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    const claim = (limit = 10, queues = ['q'], now = T0, leaseMs = 30_000, workerId = 'w1') =>
      s.claimJobs({ queues, workerId, limit, leaseMs, now });

    describe('add', () => {
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

      it('returns null for an unknown id', async () => {
        assert.equal(await s.getJob({ id: 'nope' }), null);
      });
    });

    describe('claim', () => {
      it('takes the highest priority first, FIFO within a priority', async () => {
        await s.addJobs({ jobs: [
          job({ id: 'low1', priority: 'low' }), job({ id: 'mod1' }), job({ id: 'high1', priority: 'high' }),
          job({ id: 'mod2', priority: 'moderate' }), job({ id: 'high2', priority: 2 }), job({ id: 'p7', priority: 7 }),
        ], now: T0 });
        const order: string[] = [];
        for (let i = 0; i < 6; i++) order.push(...(await claim(1)).jobs.map((j) => j.id));
        assert.deepEqual(order, ['p7', 'high1', 'high2', 'mod1', 'mod2', 'low1']);
      });

      it('claims a batch in priority order and marks them active with a lease', async () => {
        await s.addJobs({ jobs: [job({ id: 'a', priority: 'low' }), job({ id: 'b' }), job({ id: 'c', priority: 'high' })], now: T0 });
        const { jobs } = await claim(2, ['q'], T0 + 1, 5000);
        assert.deepEqual(jobs.map((j) => j.id), ['c', 'b']);
        for (const j of jobs) {
          assert.equal(j.state, 'active');
          assert.equal(j.attempts, 1);
          assert.equal(j.workerId, 'w1');
          assert.ok(j.leaseToken);
          assert.equal(j.leaseUntil, T0 + 1 + 5000);
          assert.equal(j.startedAt, T0 + 1);
        }
        const stored = (await s.getJob({ id: 'c' }))!;
        assert.equal(stored.state, 'active');
        assert.equal(stored.history.length, 1);
        assert.equal(stored.history[0]!.workerId, 'w1');
        assert.equal((await s.countJobs({ queue: 'q' })).q!.queued, 1);
      });

      it('never hands one job to two claimers', async () => {
        await s.addJobs({ jobs: Array.from({ length: 50 }, (_, i) => job({ id: `j${i}` })), now: T0 });
        const results = await Promise.all(Array.from({ length: 5 }, (_, i) => claim(15, ['q'], T0, 30_000, `w${i}`)));
        const ids = results.flatMap((r) => r.jobs.map((j) => j.id));
        assert.equal(ids.length, 50);
        assert.equal(new Set(ids).size, 50);
      });

      it('takes from queues in the order given', async () => {
        await s.addJobs({ jobs: [job({ id: 'b1', queue: 'b', priority: 'high' }), job({ id: 'a1', queue: 'a', priority: 'low' })], now: T0 });
        const { jobs } = await claim(1, ['a', 'b']);
        assert.deepEqual(jobs.map((j) => j.id), ['a1']);
        const next = await claim(5, ['a', 'b']);
        assert.deepEqual(next.jobs.map((j) => j.id), ['b1']);
      });

      it('promotes due scheduled jobs and reports when the next one comes due', async () => {
        await s.addJobs({ jobs: [job({ id: 'soon', runAt: T0 + 100 }), job({ id: 'later', runAt: T0 + 500 })], now: T0 });
        const first = await claim(10, ['q'], T0 + 50);
        assert.equal(first.jobs.length, 0);
        assert.equal(first.nextWakeAt, T0 + 100);
        const second = await claim(10, ['q'], T0 + 100);
        assert.deepEqual(second.jobs.map((j) => j.id), ['soon']);
        assert.equal(second.nextWakeAt, T0 + 500);
        assert.equal((await s.getJob({ id: 'later' }))!.state, 'scheduled');
      });

      it('does not claim from a paused queue until it is resumed', async () => {
        await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
        await s.pauseQueue({ queue: 'q', now: T0 });
        assert.equal((await claim()).jobs.length, 0);
        assert.equal((await s.listQueues()).find((q) => q.name === 'q')!.paused, true);
        await s.resumeQueue({ queue: 'q', now: T0 });
        assert.equal((await claim()).jobs.length, 1);
      });

      it('enforces a per-queue concurrency limit across claimers', async () => {
        await s.addJobs({ jobs: Array.from({ length: 10 }, (_, i) => job({ id: `c${i}` })), now: T0 });
        await s.setQueueOptions({ queue: 'q', options: { concurrency: 3 }, now: T0 });
        assert.equal((await claim(10, ['q'], T0, 30_000, 'w1')).jobs.length, 3);
        assert.equal((await claim(10, ['q'], T0, 30_000, 'w2')).jobs.length, 0);
        const info = (await s.listQueues()).find((q) => q.name === 'q')!;
        assert.equal(info.concurrency, 3);
        assert.equal(info.counts.active, 3);
      });

      it('enforces a per-queue rate limit window and says when it reopens', async () => {
        await s.addJobs({ jobs: Array.from({ length: 10 }, (_, i) => job({ id: `r${i}` })), now: T0 });
        await s.setQueueOptions({ queue: 'q', options: { rateLimit: { max: 4, windowMs: 1000 } }, now: T0 });
        const a = await claim(10, ['q'], T0);
        assert.equal(a.jobs.length, 4);
        const b = await claim(10, ['q'], T0 + 500, 30_000, 'w2');
        assert.equal(b.jobs.length, 0);
        assert.equal(b.nextWakeAt, T0 + 1000);
        const c = await claim(10, ['q'], T0 + 1000);
        assert.equal(c.jobs.length, 4);
        assert.deepEqual((await s.listQueues()).find((q) => q.name === 'q')!.rateLimit, { max: 4, windowMs: 1000 });
      });
    });

    describe('leases and outcomes', () => {
      it('heartbeat extends a lease and refuses a stale token', async () => {
        await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
        const [j] = (await claim(1, ['q'], T0, 1000)).jobs;
        const [ok] = await s.heartbeatJobs({ leases: [{ id: 'a', token: j!.leaseToken! }], leaseMs: 1000, now: T0 + 900 });
        assert.deepEqual(ok, { id: 'a', ok: true, cancelRequested: false });
        assert.equal((await s.getJob({ id: 'a' }))!.leaseUntil, T0 + 1900);
        const [bad] = await s.heartbeatJobs({ leases: [{ id: 'a', token: 'stale' }], leaseMs: 1000, now: T0 + 900 });
        assert.equal(bad!.ok, false);
      });

      it('completes with a result only for the lease holder', async () => {
        await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
        const [j] = (await claim()).jobs;
        assert.deepEqual(await s.finishJobs({ outcomes: [{ kind: 'completed', id: 'a', token: 'wrong', at: T0, result: 1 }] }), [false]);
        assert.deepEqual(await s.finishJobs({ outcomes: [{ kind: 'completed', id: 'a', token: j!.leaseToken!, at: T0 + 7, result: { ok: 1 } }] }), [true]);
        const done = (await s.getJob({ id: 'a' }))!;
        assert.equal(done.state, 'completed');
        assert.deepEqual(done.result, { ok: 1 });
        assert.equal(done.endedAt, T0 + 7);
        assert.equal(done.leaseToken, null);
        assert.equal(done.history[0]!.outcome, 'completed');
        assert.deepEqual(await s.finishJobs({ outcomes: [{ kind: 'completed', id: 'a', token: j!.leaseToken!, at: T0 + 8, result: 2 }] }), [false]);
      });

      it('retry moves the job to scheduled with its error; a later claim counts the next attempt', async () => {
        await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
        const [j] = (await claim()).jobs;
        const error = { message: 'provider down', retryable: true };
        assert.deepEqual(await s.finishJobs({ outcomes: [{ kind: 'retry', id: 'a', token: j!.leaseToken!, at: T0 + 1, error, retryAt: T0 + 1000 }] }), [true]);
        const r = (await s.getJob({ id: 'a' }))!;
        assert.equal(r.state, 'scheduled');
        assert.equal(r.runAt, T0 + 1000);
        assert.equal(r.error!.message, 'provider down');
        assert.equal(r.history[0]!.outcome, 'retrying');
        assert.equal((await claim(1, ['q'], T0 + 999)).jobs.length, 0);
        const [again] = (await claim(1, ['q'], T0 + 1000)).jobs;
        assert.equal(again!.attempts, 2);
        assert.equal((await s.getJob({ id: 'a' }))!.history.length, 2);
      });

      it('fails and cancels through the lease holder; released jobs go back without counting the attempt', async () => {
        await s.addJobs({ jobs: [job({ id: 'f' }), job({ id: 'c' }), job({ id: 'r' })], now: T0 });
        const jobs = (await claim()).jobs;
        const tok = (id: string) => jobs.find((j) => j.id === id)!.leaseToken!;
        const applied = await s.finishJobs({ outcomes: [
          { kind: 'failed', id: 'f', token: tok('f'), at: T0 + 1, error: { message: 'bad number', retryable: false } },
          { kind: 'cancelled', id: 'c', token: tok('c'), at: T0 + 1 },
          { kind: 'released', id: 'r', token: tok('r'), at: T0 + 1 },
        ] });
        assert.deepEqual(applied, [true, true, true]);
        assert.equal((await s.getJob({ id: 'f' }))!.state, 'failed');
        assert.equal((await s.getJob({ id: 'f' }))!.error!.message, 'bad number');
        assert.equal((await s.getJob({ id: 'c' }))!.state, 'cancelled');
        const r = (await s.getJob({ id: 'r' }))!;
        assert.equal(r.state, 'queued');
        assert.equal(r.attempts, 0);
        assert.equal(r.history[0]!.outcome, 'released');
      });

      it('adds follow-up jobs with an outcome, atomically, only when it applies', async () => {
        await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
        const [j] = (await claim()).jobs;
        const follow = job({ id: 'a:cb', queue: 'callbacks' });
        await s.finishJobs({ outcomes: [{ kind: 'completed', id: 'a', token: 'stale', at: T0, result: null, enqueue: [follow] }] });
        assert.equal(await s.getJob({ id: 'a:cb' }), null);
        await s.finishJobs({ outcomes: [{ kind: 'completed', id: 'a', token: j!.leaseToken!, at: T0, result: null, enqueue: [follow] }] });
        assert.equal((await s.getJob({ id: 'a:cb' }))!.state, 'queued');
      });

      it('finishes a mixed batch and answers per outcome in the order given', async () => {
        // Completions alike (same token, time, result) may travel together; the answer, results,
        // follow-ups and the stale one in the middle must still line up with each outcome.
        await s.addJobs({ jobs: ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => job({ id })), now: T0 });
        const [a, b, c, d, e, f] = (await claim(6)).jobs;
        const follow = job({ id: 'c:cb', queue: 'callbacks' });
        const applied = await s.finishJobs({ outcomes: [
          { kind: 'completed', id: 'a', token: a!.leaseToken!, at: T0 + 1, result: null },
          { kind: 'failed', id: 'b', token: b!.leaseToken!, at: T0 + 1, error: { message: 'no', retryable: false } },
          { kind: 'completed', id: 'c', token: 'stale', at: T0 + 1, result: null, enqueue: [job({ id: 'stale:cb', queue: 'callbacks' })] },
          { kind: 'completed', id: 'c', token: c!.leaseToken!, at: T0 + 1, result: null, enqueue: [follow] },
          { kind: 'completed', id: 'd', token: d!.leaseToken!, at: T0 + 2, result: null },
          { kind: 'completed', id: 'e', token: e!.leaseToken!, at: T0 + 1, result: { n: 5 } },
          { kind: 'completed', id: 'f', token: f!.leaseToken!, at: T0 + 1, result: null },
        ] });
        assert.deepEqual(applied, [true, true, false, true, true, true, true]);
        const got = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((id) => s.getJob({ id })));
        assert.deepEqual(got.map((j) => [j!.state, j!.endedAt, j!.result]), [
          ['completed', T0 + 1, null], ['failed', T0 + 1, null], ['completed', T0 + 1, null],
          ['completed', T0 + 2, null], ['completed', T0 + 1, { n: 5 }], ['completed', T0 + 1, null],
        ]);
        assert.equal((await s.getJob({ id: 'c:cb' }))!.state, 'queued');
        assert.equal(await s.getJob({ id: 'stale:cb' }), null);
        assert.equal((await s.countJobs({ queue: 'q' })).q!.active, 0);
      });

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

      it('records progress and log lines for the lease holder', async () => {
        await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
        const [j] = (await claim()).jobs;
        assert.equal(await s.progressJob({ lease: { id: 'a', token: j!.leaseToken! }, progress: { pct: 50 }, now: T0 }), true);
        assert.equal(await s.progressJob({ lease: { id: 'a', token: 'stale' }, progress: { pct: 99 }, now: T0 }), false);
        assert.deepEqual((await s.getJob({ id: 'a' }))!.progress, { pct: 50 });
        await s.logJob({ id: 'a', message: 'first', now: T0 });
        await s.logJob({ id: 'a', message: 'second', now: T0 + 1 });
        assert.deepEqual((await s.jobLogs({ id: 'a' })).map((l) => l.message), ['first', 'second']);
      });
    });

    describe('recovery of expired leases', () => {
      it('requeues a job whose lease ran out, counting a stall; the old holder can no longer finish it', async () => {
        await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
        const [j] = (await claim(1, ['q'], T0, 1000)).jobs;
        assert.deepEqual((await s.recoverExpiredJobs({ now: T0 + 999 })).requeued, []);
        const res = await s.recoverExpiredJobs({ now: T0 + 1001 });
        assert.deepEqual(res.requeued, ['a']);
        const r = (await s.getJob({ id: 'a' }))!;
        assert.equal(r.state, 'queued');
        assert.equal(r.stalls, 1);
        assert.equal(r.attempts, 0);
        assert.equal(r.history[0]!.outcome, 'stalled');
        assert.deepEqual(await s.finishJobs({ outcomes: [{ kind: 'completed', id: 'a', token: j!.leaseToken!, at: T0 + 1002, result: 1 }] }), [false]);
        const [again] = (await claim(1, ['q'], T0 + 1003, 1000, 'w2')).jobs;
        assert.notEqual(again!.leaseToken, j!.leaseToken);
      });

      it('fails a job past its stall limit with a clear reason', async () => {
        await s.addJobs({ jobs: [job({ id: 'a', maxStalls: 1 })], now: T0 });
        await claim(1, ['q'], T0, 10);
        assert.deepEqual((await s.recoverExpiredJobs({ now: T0 + 11 })).requeued, ['a']);
        await claim(1, ['q'], T0 + 20, 10);
        assert.deepEqual((await s.recoverExpiredJobs({ now: T0 + 31 })).failed, ['a']);
        const f = (await s.getJob({ id: 'a' }))!;
        assert.equal(f.state, 'failed');
        assert.match(f.error!.message, /stalled 2 times/);
      });

      it('cancels rather than requeues an expired job that was asked to cancel', async () => {
        await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
        await claim(1, ['q'], T0, 10);
        const c = await s.cancelJob({ id: 'a', now: T0 + 1 });
        assert.equal(c.state, 'active');
        assert.equal(c.cancelRequested, true);
        const [hb] = await s.heartbeatJobs({ leases: [{ id: 'a', token: c.leaseToken! }], leaseMs: 10, now: T0 + 2 });
        assert.equal(hb!.cancelRequested, true);
        assert.deepEqual((await s.recoverExpiredJobs({ now: T0 + 100 })).cancelled, ['a']);
        assert.equal((await s.getJob({ id: 'a' }))!.state, 'cancelled');
      });
    });

    describe('operations', () => {
      it('lists newest first with cursor paging and filters', async () => {
        await s.addJobs({ jobs: Array.from({ length: 7 }, (_, i) => job({ id: `l${i}`, task: i % 2 ? 'odd' : 'even' })), now: T0 });
        await s.addJobs({ jobs: [job({ id: 'other', queue: 'z' })], now: T0 });
        const p1 = await s.listJobs({ queue: 'q', limit: 3 });
        assert.deepEqual(p1.items.map((j) => j.id), ['l6', 'l5', 'l4']);
        const p2 = await s.listJobs({ queue: 'q', limit: 3, cursor: p1.nextCursor! });
        assert.deepEqual(p2.items.map((j) => j.id), ['l3', 'l2', 'l1']);
        const p3 = await s.listJobs({ queue: 'q', limit: 3, cursor: p2.nextCursor! });
        assert.deepEqual(p3.items.map((j) => j.id), ['l0']);
        assert.equal(p3.nextCursor, null);
        assert.deepEqual((await s.listJobs({ task: 'odd' })).items.map((j) => j.id), ['l5', 'l3', 'l1']);
        await claim(1);
        assert.deepEqual((await s.listJobs({ queue: 'q', state: 'active' })).items.map((j) => j.id), ['l0']);
        assert.equal((await s.listJobs({})).items.length, 8);
      });

      it('lists one state in that state\'s own order, the same on every store, paging by cursor', async () => {
        // Each order differs from enqueue order, so a store that pages a state by seq fails here.
        const ids = async (state: 'queued' | 'scheduled' | 'active' | 'completed' | 'failed' | 'cancelled', queue?: string) => {
          const out: string[] = [];
          let cursor: string | undefined;
          do {
            const p = await s.listJobs({ ...(queue ? { queue } : {}), state, limit: 2, ...(cursor ? { cursor } : {}) });
            assert.ok(p.items.length <= 2);
            out.push(...p.items.map((j) => j.id));
            cursor = p.nextCursor ?? undefined;
          } while (cursor);
          return out;
        };
        // queued: run order (priority, then enqueue order).
        await s.addJobs({ jobs: [job({ id: 'r-low', priority: 'low' }), job({ id: 'r-mod1' }), job({ id: 'r-high1', priority: 'high' }), job({ id: 'r-mod2' }), job({ id: 'r-high2', priority: 'high' })], now: T0 });
        assert.deepEqual(await ids('queued', 'q'), ['r-high1', 'r-high2', 'r-mod1', 'r-mod2', 'r-low']);
        // A page that ends inside a priority band goes on inside it.
        await s.addJobs({ jobs: [job({ id: 'b-mod', queue: 'q2' }), job({ id: 'b-high1', queue: 'q2', priority: 'high' }), job({ id: 'b-high2', queue: 'q2', priority: 'high' }), job({ id: 'b-high3', queue: 'q2', priority: 'high' })], now: T0 });
        assert.deepEqual(await ids('queued', 'q2'), ['b-high1', 'b-high2', 'b-high3', 'b-mod']);
        // scheduled: due time, soonest first.
        await s.addJobs({ jobs: [job({ id: 'd-3', runAt: T0 + 3000 }), job({ id: 'd-1', runAt: T0 + 1000 }), job({ id: 'd-2', runAt: T0 + 2000 })], now: T0 });
        assert.deepEqual(await ids('scheduled', 'q'), ['d-1', 'd-2', 'd-3']);
        // active: lease expiry, soonest first (claimed one at a time with leases out of claim order).
        const taken: { id: string; token: string }[] = [];
        for (const [i, leaseMs] of [[1, 50_000], [2, 10_000], [3, 30_000], [4, 20_000], [5, 40_000]] as const) {
          const j = (await claim(1, ['q'], T0 + i, leaseMs)).jobs[0]!;
          taken.push({ id: j.id, token: j.leaseToken! });
        }
        assert.deepEqual(taken.map((t) => t.id), ['r-high1', 'r-high2', 'r-mod1', 'r-mod2', 'r-low']);
        assert.deepEqual(await ids('active', 'q'), ['r-high2', 'r-mod2', 'r-mod1', 'r-low', 'r-high1']);
        // finished: the latest to end first, not the latest enqueued.
        const end = { 'r-mod1': 10, 'r-low': 20, 'r-high1': 30, 'r-mod2': 40 } as Record<string, number>;
        for (const t of taken.filter((x) => end[x.id] !== undefined)) {
          assert.deepEqual(await s.finishJobs({ outcomes: [{ kind: 'completed', id: t.id, token: t.token, at: T0 + 100 + end[t.id]!, result: null }] }), [true]);
        }
        assert.deepEqual(await ids('completed', 'q'), ['r-mod2', 'r-high1', 'r-low', 'r-mod1']);
        assert.deepEqual(await ids('completed'), ['r-mod2', 'r-high1', 'r-low', 'r-mod1'], 'the same without a queue');
        const h2 = taken.find((x) => x.id === 'r-high2')!;
        await s.finishJobs({ outcomes: [{ kind: 'failed', id: h2.id, token: h2.token, at: T0 + 200, error: { message: 'x', retryable: false } }] });
        await s.cancelJob({ id: 'd-3', now: T0 + 300 });
        await s.cancelJob({ id: 'd-1', now: T0 + 400 });
        await s.cancelJob({ id: 'd-2', now: T0 + 350 });
        assert.deepEqual(await ids('failed', 'q'), ['r-high2']);
        assert.deepEqual(await ids('cancelled', 'q'), ['d-1', 'd-2', 'd-3']);
      });

      it('counts jobs per state per queue', async () => {
        await s.addJobs({ jobs: [job({ id: 'a' }), job({ id: 'b' }), job({ id: 'c', runAt: T0 + 10 }), job({ id: 'd', queue: 'z' })], now: T0 });
        await claim(1);
        const c = await s.countJobs();
        assert.deepEqual(c.q, { scheduled: 1, queued: 1, active: 1, completed: 0, failed: 0, cancelled: 0 });
        assert.equal(c.z!.queued, 1);
        assert.deepEqual(Object.keys(await s.countJobs({ queue: 'z' })), ['z']);
      });

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

      it('promoteDue moves every due scheduled job to queued', async () => {
        await s.addJobs({ jobs: [job({ id: 'a', runAt: T0 + 10 }), job({ id: 'b', runAt: T0 + 10, queue: 'z' }), job({ id: 'c', runAt: T0 + 99 })], now: T0 });
        assert.equal(await s.promoteDueJobs({ now: T0 + 10 }), 2);
        assert.equal((await s.getJob({ id: 'b' }))!.state, 'queued');
        assert.equal((await s.getJob({ id: 'c' }))!.state, 'scheduled');
      });

      it('reports queues with counts and the oldest queued job', async () => {
        await s.addJobs({ jobs: [job({ id: 'a' }, T0 - 50)], now: T0 });
        const q = (await s.listQueues()).find((x) => x.name === 'q')!;
        assert.equal(q.counts.queued, 1);
        assert.equal(q.oldestQueuedAt, T0 - 50);
        assert.equal(q.rateLimit, null);
      });
    });

    describe('schedules', () => {
      const rec = (id: string, nextRunAt: number | null, paused = false) => ({ id, spec: { every: 1000, id }, nextRunAt, paused });

      it('upserts, gets, lists and removes', async () => {
        const a = await s.saveSchedule({ schedule: rec('a', T0 + 10), now: T0 });
        assert.equal(a.version, 1);
        assert.equal(a.runCount, 0);
        assert.deepEqual(a.spec, { every: 1000, id: 'a' });
        const a2 = await s.saveSchedule({ schedule: { ...rec('a', T0 + 20), spec: { changed: true } }, now: T0 + 1 });
        assert.equal(a2.version, 2);
        assert.equal(a2.createdAt, T0);
        assert.deepEqual(a2.spec, { changed: true });
        await s.saveSchedule({ schedule: rec('b', null), now: T0 });
        assert.deepEqual((await s.listSchedules()).map((x) => x.id), ['a', 'b']);
        assert.equal(await s.removeSchedule({ id: 'a' }), true);
        assert.equal(await s.removeSchedule({ id: 'a' }), false);
        assert.equal(await s.getSchedule({ id: 'a' }), null);
      });

      it('finds due schedules, skipping paused and ended ones', async () => {
        await s.saveSchedule({ schedule: rec('a', T0 + 10), now: T0 });
        await s.saveSchedule({ schedule: rec('b', T0 + 5), now: T0 });
        await s.saveSchedule({ schedule: rec('p', T0, true), now: T0 });
        await s.saveSchedule({ schedule: rec('e', null), now: T0 });
        await s.saveSchedule({ schedule: rec('f', T0 + 100), now: T0 });
        assert.deepEqual((await s.dueSchedules({ now: T0 + 10, limit: 10 })).map((x) => x.id), ['b', 'a']);
        assert.equal(await s.nextScheduleAt(), T0 + 5);
      });

      it('advances a schedule and adds its jobs in one compare-and-set step', async () => {
        const a = await s.saveSchedule({ schedule: rec('a', T0), now: T0 });
        const j = job({ id: 'a@1', scheduleId: 'a' });
        assert.equal(await s.advanceSchedule({ id: 'a', expectedVersion: a.version, next: { nextRunAt: T0 + 1000, runCount: 1, lastRunAt: T0 }, jobs: [j], now: T0 }), true);
        assert.equal(await s.advanceSchedule({ id: 'a', expectedVersion: a.version, next: { nextRunAt: T0 + 1000, runCount: 1, lastRunAt: T0 }, jobs: [job({ id: 'a@dup' })], now: T0 }), false);
        assert.equal(await s.getJob({ id: 'a@dup' }), null);
        const after = (await s.getSchedule({ id: 'a' }))!;
        assert.equal(after.nextRunAt, T0 + 1000);
        assert.equal(after.runCount, 1);
        assert.equal(after.lastRunAt, T0);
        assert.equal(after.version, a.version + 1);
        assert.equal((await s.getJob({ id: 'a@1' }))!.scheduleId, 'a');
      });
    });

    describe('workers and events', () => {
      it('lists live workers and forgets expired or gone ones', async () => {
        const info = { id: 'w1', host: 'h', pid: 1, queues: ['q'], concurrency: 2, running: [], startedAt: T0, lastSeenAt: T0 };
        await s.beatWorker({ worker: info, ttlMs: 1000 });
        await s.beatWorker({ worker: { ...info, id: 'w2' }, ttlMs: 1000 });
        assert.deepEqual((await s.listWorkers({ now: T0 + 500 })).map((w) => w.id), ['w1', 'w2']);
        await s.removeWorker({ id: 'w2' });
        assert.deepEqual((await s.listWorkers({ now: T0 + 500 })).map((w) => w.id), ['w1']);
        assert.deepEqual(await s.listWorkers({ now: T0 + 2000 }), []);
      });

      it('emits an event for each state change', async () => {
        const seen: StoreEvent[] = [];
        const off = s.subscribe((e) => seen.push(e));
        // Ids travel inside the event messages: one that needs escaping in JSON must come out whole.
        const odd = 'q"uo\\te\nline';
        await s.addJobs({ jobs: [job({ id: 'a' }), job({ id: 'b', runAt: T0 + 5 }), job({ id: odd, runAt: T0 + 7 })], now: T0 });
        const [j] = (await claim(1)).jobs;
        await s.finishJobs({ outcomes: [{ kind: 'completed', id: j!.id, token: j!.leaseToken!, at: T0, result: null }] });
        await s.cancelJob({ id: 'b', now: T0 });
        const want = (type: string, id: string) =>
          waitFor(() => seen.some((e) => e.type === type && e.jobId === id && e.queue === 'q'));
        await want('queued', 'a');
        await want('scheduled', 'b');
        await want('scheduled', odd);
        assert.equal(seen.find((e) => e.type === 'scheduled' && e.jobId === odd)!.runAt, T0 + 7);
        await want('active', 'a');
        await want('completed', 'a');
        await want('cancelled', 'b');
        off();
      });

      it('dates the events of operator actions with the time it is given, not its own clock', async () => {
        const seen: StoreEvent[] = [];
        const off = s.subscribe((e) => seen.push(e));
        await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
        await s.removeJob({ id: 'a', now: T0 + 11 });
        await s.setQueueOptions({ queue: 'q', options: { concurrency: 2 }, now: T0 + 22 });
        await waitFor(() => seen.some((e) => e.type === 'removed') && seen.some((e) => e.type === 'resumed'));
        assert.equal(seen.find((e) => e.type === 'removed' && e.jobId === 'a')!.at, T0 + 11);
        assert.equal(seen.find((e) => e.type === 'resumed' && e.queue === 'q')!.at, T0 + 22);
        off();
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
        await waitFor(() => all.some((e) => e.type === 'resumed'));
        await waitFor(() => work.some((e) => e.type === 'resumed'));
        const key = (e: StoreEvent) => `${e.type}:${e.jobId ?? ''}`;
        // Every work event the full listener saw, the work-only listener saw, in the same order.
        assert.deepEqual(work.filter((e) => WORK_EVENTS.has(e.type)).map(key), all.filter((e) => WORK_EVENTS.has(e.type)).map(key));
        assert.deepEqual(all.filter((e) => WORK_EVENTS.has(e.type)).map(key), ['queued:a', 'scheduled:b', 'retrying:a', 'resumed:']);
        assert.equal(work.find((e) => e.type === 'retrying')!.runAt, T0 + 9);
        assert.ok(all.some((e) => e.type === 'active') && all.some((e) => e.type === 'paused'));
        offAll();
        offWork();
      });

      it('answers ping', async () => {
        await s.ping();
      });
    });
  });
}

/** Events may cross a network (Redis): wait for them, bounded. */
async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 5));
  }
}
