import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_JOB_LOG_LINES, MAX_LOG_LINE, MAX_PROGRESS_JSON, type Store } from '../../../src/core/store.js';
import { FusionError } from '../../../src/core/errors.js';
import { CANCELLED_WHILE_LOST, stalledTooOften } from '../../../src/core/state-rules.js';
import { T0, job, useStore, claimer, type StoreFactory } from '../harness.js';


export function claimFinishArea(make: StoreFactory): void {
  describe('claim and finish', () => {
    let s!: Store;
    useStore(make, (store) => (s = store));
    const claim = claimer(() => s);

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

    it('keeps the rate window open when the limits are saved again', async () => {
      // The dashboard saves both limits at once: changing the concurrency sends the rate limit too.
      await s.addJobs({ jobs: Array.from({ length: 10 }, (_, i) => job({ id: `r${i}` })), now: T0 });
      await s.setQueueOptions({ queue: 'q', options: { rateLimit: { max: 2, windowMs: 60_000 } }, now: T0 });
      assert.equal((await claim(10, ['q'], T0)).jobs.length, 2);
      await s.setQueueOptions({ queue: 'q', options: { rateLimit: { max: 2, windowMs: 60_000 }, concurrency: 5 }, now: T0 + 10 });
      const again = await claim(10, ['q'], T0 + 20, 30_000, 'w2');
      assert.equal(again.jobs.length, 0, 'two starts in the window already');
      assert.equal(again.nextWakeAt, T0 + 60_000);
      // A higher max lets more start in the same window, counting the starts made.
      await s.setQueueOptions({ queue: 'q', options: { rateLimit: { max: 3, windowMs: 60_000 } }, now: T0 + 30 });
      assert.equal((await claim(10, ['q'], T0 + 40)).jobs.length, 1);
      // The next window: 3 more by the rate, 2 by the concurrency of 5 (3 still active).
      assert.equal((await claim(10, ['q'], T0 + 60_000)).jobs.length, 2);
    });

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

    it('snoozed moves the job to scheduled at its time without counting the attempt, and keeps its last error', async () => {
      await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
      const [first] = (await claim()).jobs;
      const error = { message: 'provider down', retryable: true };
      await s.finishJobs({ outcomes: [{ kind: 'retry', id: 'a', token: first!.leaseToken!, at: T0 + 1, error, retryAt: T0 + 2 }] });
      const [second] = (await claim(1, ['q'], T0 + 2)).jobs;
      assert.equal(second!.attempts, 2);
      assert.deepEqual(await s.finishJobs({ outcomes: [{ kind: 'snoozed', id: 'a', token: second!.leaseToken!, at: T0 + 3, retryAt: T0 + 500 }] }), [true]);
      const j = (await s.getJob({ id: 'a' }))!;
      assert.deepEqual([j.state, j.runAt, j.attempts, j.leaseToken, j.endedAt], ['scheduled', T0 + 500, 1, null, null]);
      assert.equal(j.error!.message, 'provider down', 'the last failure stays readable');
      assert.deepEqual(j.history.map((h) => [h.attempt, h.outcome, h.endedAt, h.snoozes]), [[1, 'retrying', T0 + 1, undefined], [2, 'snoozed', T0 + 3, 1]]);
      assert.equal((await s.countJobs({ queue: 'q' })).q!.scheduled, 1);
      assert.equal((await claim(1, ['q'], T0 + 499)).jobs.length, 0, 'not before its time');
      const [third] = (await claim(1, ['q'], T0 + 500)).jobs;
      assert.equal(third!.attempts, 2, 'the snoozed attempt did not count');
      assert.deepEqual(await s.finishJobs({ outcomes: [{ kind: 'snoozed', id: 'a', token: second!.leaseToken!, at: T0 + 501, retryAt: T0 + 900 }] }), [false], 'a stale token is refused');
      assert.equal((await s.getJob({ id: 'a' }))!.state, 'active');
      // Snoozes in a row are one record, the latest, counting them; a failure between starts a new run.
      const snooze = async (token: string, at: number) => assert.deepEqual(await s.finishJobs({ outcomes: [{ kind: 'snoozed', id: 'a', token, at, retryAt: at }] }), [true]);
      await snooze(third!.leaseToken!, T0 + 510);
      const [fourth] = (await claim(1, ['q'], T0 + 510)).jobs;
      await snooze(fourth!.leaseToken!, T0 + 520);
      const history = (await s.getJob({ id: 'a' }))!.history;
      assert.deepEqual(history.map((h) => [h.attempt, h.outcome, h.endedAt, h.snoozes]), [[1, 'retrying', T0 + 1, undefined], [2, 'snoozed', T0 + 520, 3]]);
      assert.equal(history[1]!.workerId, 'w1', 'the latest snooze\'s worker');
      const [fifth] = (await claim(1, ['q'], T0 + 520)).jobs;
      await s.finishJobs({ outcomes: [{ kind: 'retry', id: 'a', token: fifth!.leaseToken!, at: T0 + 530, error, retryAt: T0 + 530 }] });
      const [sixth] = (await claim(1, ['q'], T0 + 530)).jobs;
      await snooze(sixth!.leaseToken!, T0 + 540);
      assert.deepEqual((await s.getJob({ id: 'a' }))!.history.map((h) => [h.attempt, h.outcome, h.snoozes]),
        [[1, 'retrying', undefined], [2, 'snoozed', 3], [2, 'retrying', undefined], [3, 'snoozed', 1]]);
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

    it(`keeps at most ${MAX_LOG_LINE} characters of one log line, saying how many it left out`, async () => {
      // A handler that logged a provider's whole answer stored megabytes per line, read whole by every view of the job's logs.
      await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
      const long = 'x'.repeat(MAX_LOG_LINE - 1) + '\u{1F600}' + 'y'.repeat(3_000_000);
      const exact = 'z'.repeat(MAX_LOG_LINE);
      await s.logJob({ id: 'a', message: long, now: T0 });
      await s.logJob({ id: 'a', message: exact, now: T0 + 1 });
      const [cut, whole] = (await s.jobLogs({ id: 'a' })).map((l) => l.message);
      assert.ok(cut!.length <= MAX_LOG_LINE + 40, `a line of ${long.length} characters was kept as ${cut!.length}`);
      // Never inside a surrogate pair: the emoji that straddles the bound goes whole.
      assert.equal(cut, `${'x'.repeat(MAX_LOG_LINE - 1)}… (${long.length - (MAX_LOG_LINE - 1)} more characters)`);
      assert.equal(whole, exact);
    });

    it(`refuses a progress value whose JSON is longer than ${MAX_PROGRESS_JSON} characters; the last one stays`, async () => {
      // (A value of 100,000 characters is kept.)
      // Progress is stored on the job and sent to every event viewer, on every update.
      await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
      const [j] = (await claim()).jobs;
      const lease = { id: 'a', token: j!.leaseToken! };
      const kept = { note: 'n'.repeat(100_000) };
      assert.equal(await s.progressJob({ lease, progress: kept, now: T0 }), true);
      await assert.rejects(s.progressJob({ lease, progress: { note: 'n'.repeat(MAX_PROGRESS_JSON) }, now: T0 + 1 }), (e: unknown) => {
        assert.ok(e instanceof FusionError, String(e));
        assert.equal(e.code, 'invalid_request');
        assert.equal(e.details.field, 'progress');
        return true;
      });
      assert.deepEqual((await s.getJob({ id: 'a' }))!.progress, kept);
    });

    it(`keeps a job's last ${MAX_JOB_LOG_LINES} log lines, in order`, async () => {
      await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
      const extra = 5;
      for (let i = 0; i < MAX_JOB_LOG_LINES + extra; i++) await s.logJob({ id: 'a', message: `line ${i}`, now: T0 + i });
      const lines = await s.jobLogs({ id: 'a' });
      assert.equal(lines.length, MAX_JOB_LOG_LINES);
      assert.deepEqual([lines[0]!.message, lines.at(-1)!.message], [`line ${extra}`, `line ${MAX_JOB_LOG_LINES + extra - 1}`]);
      assert.ok(lines.every((l, k) => l.message === `line ${k + extra}` && l.at === T0 + k + extra));
    });

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
      // The claim carries the stall and the stalled attempt, as the job reads back.
      assert.equal(again!.stalls, 1);
      assert.deepEqual(again, await s.getJob({ id: 'a' }));
    });

    it('fails a job past its stall limit with a clear reason', async () => {
      await s.addJobs({ jobs: [job({ id: 'a', maxStalls: 1 })], now: T0 });
      await claim(1, ['q'], T0, 10);
      assert.deepEqual((await s.recoverExpiredJobs({ now: T0 + 11 })).requeued, ['a']);
      await claim(1, ['q'], T0 + 20, 10);
      assert.deepEqual((await s.recoverExpiredJobs({ now: T0 + 31 })).failed, ['a']);
      const f = (await s.getJob({ id: 'a' }))!;
      assert.equal(f.state, 'failed');
      assert.match(f.error!.message, /stalled 2 times \(limit 1\)/);
      // The core's error, whichever store wrote it (PostgreSQL's recovery function gets it passed).
      assert.deepEqual(f.error, stalledTooOften(2, 1));
      // The attempt that ended it says why in the job's history, as every ended attempt does.
      assert.deepEqual(f.history.map((h) => [h.outcome, h.error]), [['stalled', undefined], ['stalled', stalledTooOften(2, 1).message]]);
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
      const ended = (await s.getJob({ id: 'a' }))!;
      assert.equal(ended.state, 'cancelled');
      assert.deepEqual(ended.error, CANCELLED_WHILE_LOST);
      assert.deepEqual(ended.history.map((h) => [h.outcome, h.error]), [['stalled', CANCELLED_WHILE_LOST.message]]);
    });

    it('promoteDue moves every due scheduled job to queued', async () => {
      await s.addJobs({ jobs: [job({ id: 'a', runAt: T0 + 10 }), job({ id: 'b', runAt: T0 + 10, queue: 'z' }), job({ id: 'c', runAt: T0 + 99 })], now: T0 });
      assert.equal(await s.promoteDueJobs({ now: T0 + 10 }), 2);
      assert.equal((await s.getJob({ id: 'b' }))!.state, 'queued');
      assert.equal((await s.getJob({ id: 'c' }))!.state, 'scheduled');
    });
  });
}
