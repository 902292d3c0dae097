// Lifecycle events through the Fusion facade on a real SQLite file: order and payloads for each
// way an attempt ends, worker up and down, a schedule firing; a throwing listener harms nothing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { SnoozeError } from '../../src/index.js';
import { Lifecycle, type LifecycleEventName, type LifecycleEvents } from '../../src/core/lifecycle.js';
import { occurrenceJobId } from '../../src/core/scheduler.js';
import type { Logger } from '../../src/core/logger.js';
import { ApiMetrics } from '../../src/api/metrics.js';
import { deferred, sqliteFusion, waitForState } from '../helpers/engine.js';

const NAMES: LifecycleEventName[] = [
  'job.started', 'job.completed', 'job.retrying', 'job.failed', 'job.cancelled', 'job.released', 'job.snoozed', 'job.lost',
  'worker.up', 'worker.down', 'schedule.fired',
];

type Seen = { [K in LifecycleEventName]: { name: K; e: LifecycleEvents[K] } }[LifecycleEventName];

/** Every lifecycle event, in emit order. */
function record(lifecycle: Lifecycle): { seen: Seen[]; names(): string[] } {
  const seen: Seen[] = [];
  for (const name of NAMES) lifecycle.on(name, (e: any, n: any) => seen.push({ name: n, e }));
  return { seen, names: () => seen.map((s) => s.name) };
}

function get<K extends LifecycleEventName>(seen: Seen[], name: K, nth = 0): LifecycleEvents[K] {
  const hits = seen.filter((s) => s.name === name);
  assert.ok(hits[nth], `no ${name} #${nth} among ${seen.map((s) => s.name).join(', ')}`);
  return hits[nth]!.e as LifecycleEvents[K];
}

describe('Lifecycle events', () => {
  it('a completed job: worker.up, job.started, job.completed with its result and duration, worker.down', async () => {
    const clock = new ManualClock();
    const { fusion, store, cleanup } = await sqliteFusion(clock);
    try {
      const rec = record(fusion.lifecycle);
      const release = deferred();
      fusion.task('t', async (p: { n: number }) => {
        await release.promise;
        return { doubled: p.n * 2 };
      });
      const w = fusion.worker({ queues: ['default'], id: 'w-1', concurrency: 3 });
      const started = fusion.lifecycle.next('job.started');
      const job = await fusion.enqueue('t', { n: 21 }, { id: 'job-1' });
      const s = await started;
      clock.advance(250);
      const completed = fusion.lifecycle.next('job.completed');
      release.resolve();
      const c = await completed;
      await waitForState(store, job.id, 'completed');
      await w.stop();
      assert.deepEqual(rec.names(), ['worker.up', 'job.started', 'job.completed', 'worker.down']);
      const up = get(rec.seen, 'worker.up');
      assert.deepEqual(up, { workerId: 'w-1', queues: ['default'], concurrency: 3, at: s.at });
      assert.equal(s.job.id, 'job-1');
      assert.equal(s.attempt, 1);
      assert.equal(s.workerId, 'w-1');
      assert.deepEqual(s.job.payload, { n: 21 });
      assert.equal(c.job.id, 'job-1');
      assert.equal(c.durationMs, 250);
      assert.equal(c.at, s.at + 250);
      assert.deepEqual(c.result, { doubled: 42 });
      const down = get(rec.seen, 'worker.down');
      assert.equal(down.workerId, 'w-1');
      assert.equal(down.startedAt, w.startedAt);
    } finally {
      await cleanup();
    }
  });

  it('a retried-then-failed job: started, retrying (error, retryAt), started again, failed', async () => {
    const clock = new ManualClock();
    const { fusion, cleanup } = await sqliteFusion(clock);
    try {
      const rec = record(fusion.lifecycle);
      fusion.task('always', (_p, ctx) => {
        throw new Error(`down #${ctx.attempt}`);
      });
      fusion.worker({ queues: ['default'] });
      const retrying = fusion.lifecycle.next('job.retrying');
      await fusion.enqueue('always', null, { id: 'always-1', maxAttempts: 2, backoff: { type: 'fixed', delay: 1000 } });
      const r = await retrying;
      const failed = fusion.lifecycle.next('job.failed');
      clock.advance(1000);
      const f = await failed;
      assert.deepEqual(rec.names(), ['worker.up', 'job.started', 'job.retrying', 'job.started', 'job.failed']);
      assert.equal(r.attempt, 1);
      assert.equal(r.error.message, 'down #1');
      assert.equal(r.error.retryable, true);
      assert.equal(r.retryAt, r.at + 1000);
      assert.equal(get(rec.seen, 'job.started', 1).attempt, 2);
      assert.equal(f.job.id, 'always-1');
      assert.equal(f.attempt, 2);
      assert.equal(f.error.message, 'down #2');
    } finally {
      await cleanup();
    }
  });

  it('a snoozed job: started, snoozed (runAt), started again at that time with the same attempt number, never failed for it', async () => {
    const clock = new ManualClock();
    const { fusion, store, cleanup } = await sqliteFusion(clock);
    try {
      const rec = record(fusion.lifecycle);
      let runs = 0;
      // Snoozes more times than it has attempts: none of them counts.
      fusion.task('later', () => {
        if (++runs <= 3) throw new SnoozeError(5_000, 'partner busy');
        return 'done';
      });
      fusion.worker({ queues: ['default'] });
      for (let n = 0; n < 3; n++) {
        const snoozed = fusion.lifecycle.next('job.snoozed');
        if (n === 0) await fusion.enqueue('later', null, { id: 'later-1', maxAttempts: 2 });
        else clock.advance(5_000);
        const s = await snoozed;
        assert.equal(s.attempt, 1, 'a snoozed attempt is given back');
        assert.equal(s.runAt, s.at + 5_000);
        // The lifecycle speaks at the attempt's end, before its outcome is stored: wait for the store.
        assert.equal((await waitForState(store, 'later-1', 'scheduled')).state, 'scheduled');
      }
      const completed = fusion.lifecycle.next('job.completed');
      clock.advance(5_000);
      assert.equal((await completed).attempt, 1);
      const job = await waitForState(store, 'later-1', 'completed');
      assert.deepEqual(job.history.map((h) => [h.outcome, h.snoozes]), [['snoozed', 3], ['completed', undefined]], 'a run of snoozes is one record');
      assert.deepEqual(rec.names().filter((n) => n !== 'worker.up'), ['job.started', 'job.snoozed', 'job.started', 'job.snoozed', 'job.started', 'job.snoozed', 'job.started', 'job.completed']);
      assert.throws(() => new SnoozeError(-1), TypeError);
    } finally {
      await cleanup();
    }
  });

  it('a cancelled job: started, then cancelled with the cancel error', async () => {
    const { fusion, store, cleanup } = await sqliteFusion();
    try {
      const rec = record(fusion.lifecycle);
      fusion.task('long', (_p, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))));
      fusion.worker({ queues: ['default'] });
      const started = fusion.lifecycle.next('job.started');
      const job = await fusion.enqueue('long');
      await started;
      const cancelled = fusion.lifecycle.next('job.cancelled');
      await fusion.queue.cancel(job.id);
      const c = await cancelled;
      await waitForState(store, job.id, 'cancelled');
      assert.deepEqual(rec.names(), ['worker.up', 'job.started', 'job.cancelled']);
      assert.equal(c.job.id, job.id);
      assert.equal(c.error.name, 'CancelledError');
    } finally {
      await cleanup();
    }
  });

  it('a job still running at stop is released, and the worker goes down after', async () => {
    const { fusion, cleanup } = await sqliteFusion();
    try {
      const rec = record(fusion.lifecycle);
      fusion.task('stuck', () => new Promise(() => undefined));
      const w = fusion.worker({ queues: ['default'] });
      const started = fusion.lifecycle.next('job.started');
      await fusion.enqueue('stuck');
      await started;
      await w.stop(10);
      assert.deepEqual(rec.names(), ['worker.up', 'job.started', 'job.released', 'worker.down']);
    } finally {
      await cleanup();
    }
  });

  it('a schedule firing: schedule.fired with its id, occurrence and job id, once per occurrence', async () => {
    const clock = new ManualClock();
    const { fusion, cleanup } = await sqliteFusion(clock);
    try {
      const rec = record(fusion.lifecycle);
      fusion.task('ping', () => undefined);
      const s = await fusion.schedule({ id: 'every-min', trigger: { every: '1m' }, template: { task: 'ping' } });
      const first = s.nextRunAt!;
      fusion.startScheduler();
      await fusion.scheduler.whenIdle();
      assert.deepEqual(rec.names(), [], 'nothing fires before its time');
      const fired = fusion.lifecycle.next('schedule.fired');
      clock.set(first);
      const f = await fired;
      assert.equal(f.scheduleId, 'every-min');
      assert.deepEqual(f.occurrences, [first]);
      assert.deepEqual(f.jobIds, [occurrenceJobId('every-min', first)]);
      assert.equal(f.at, first);
      assert.equal(f.dropped, 0);
      const second = fusion.lifecycle.next('schedule.fired');
      clock.set(first + 60_000);
      assert.deepEqual((await second).occurrences, [first + 60_000]);
      assert.deepEqual(rec.names(), ['schedule.fired', 'schedule.fired']);
    } finally {
      await cleanup();
    }
  });

  it('a throwing listener is logged and the job still completes; the next listener still runs', async () => {
    const { fusion, store, cleanup } = await sqliteFusion();
    try {
      const errors: { obj: object; msg?: string }[] = [];
      const logger: Logger = { debug() {}, info() {}, warn() {}, error: (obj, msg) => void errors.push({ obj, msg }) };
      const lifecycle = new Lifecycle(logger);
      const after: string[] = [];
      lifecycle.on('job.started', () => {
        throw new Error('listener bug');
      });
      lifecycle.on('job.started', (e) => void after.push(e.job.id));
      fusion.task('t', () => 'ok');
      fusion.worker({ queues: ['default'], lifecycle });
      const job = await fusion.enqueue('t');
      const done = await waitForState(store, job.id, 'completed');
      assert.equal(done.result, 'ok');
      assert.deepEqual(after, [job.id]);
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.msg, 'lifecycle listener failed');
      assert.equal((errors[0]!.obj as { event: string }).event, 'job.started');
    } finally {
      await cleanup();
    }
  });

  it('has() is false once the last listener is off, and once() fires once', () => {
    const lifecycle = new Lifecycle();
    assert.equal(lifecycle.has('job.completed'), false);
    const off = lifecycle.on('job.completed', () => undefined);
    assert.equal(lifecycle.has('job.completed'), true);
    assert.equal(lifecycle.has('job.failed'), false);
    off();
    assert.equal(lifecycle.has('job.completed'), false);
    let n = 0;
    lifecycle.once('worker.up', () => void n++);
    const up = { workerId: 'w', queues: ['q'], concurrency: 1, at: 0 };
    lifecycle.emit('worker.up', up);
    lifecycle.emit('worker.up', up);
    assert.equal(n, 1);
    assert.equal(lifecycle.has('worker.up'), false);
  });

  it('listeners: the event stream and the metrics get the attempt and its handler time from the worker', async () => {
    const clock = new ManualClock();
    const { fusion, store, cleanup } = await sqliteFusion(clock);
    const metrics = new ApiMetrics(store, { defaultMetrics: false, lifecycle: fusion.lifecycle }).start();
    const sub = fusion.events({ types: ['job.completed'] });
    try {
      const release = deferred();
      fusion.task('slow', () => release.promise, { queue: 'lc' });
      fusion.worker({ queues: ['lc'] });
      const started = fusion.lifecycle.next('job.started');
      const job = await fusion.enqueue('slow');
      await started;
      clock.advance(2500);
      release.resolve();
      const [e] = (await sub.take())!;
      assert.equal(e!.jobId, job.id);
      assert.equal(e!.attempt, 1);
      assert.equal(e!.durationMs, 2500);
      // The outcome counter is fed from the same store event; let its listener run.
      await new Promise((r) => setImmediate(r));
      const text = await metrics.registry.metrics();
      assert.match(text, /fusion_jobs_completed_total\{queue="lc",task="slow"\} 1/);
      assert.match(text, /fusion_job_attempt_duration_seconds_sum\{queue="lc",task="slow",outcome="completed"\} 2.5/);
    } finally {
      sub.close();
      metrics.stop();
      await cleanup();
    }
  });
});
