// Maintenance: lease recovery, promotion and retention with a moved clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { Maintenance } from '../../src/core/maintenance.js';
import { resolveSpec } from '../../src/core/queue.js';
import { withFusion } from '../helpers/engine.js';
import { Scheduler } from '../../src/core/scheduler.js';
import Database from 'better-sqlite3';
import { join } from 'node:path';

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

  it('removes schedules that ended a week ago (thousands of one-shot reminders), keeping live, paused and recently ended ones', async () => {
    const clock = new ManualClock();
    await withFusion({ clock }, async ({ fusion, store }) => {
      fusion.task('remind', async () => undefined);
      const scheduler = new Scheduler(store, { clock, registry: fusion.registry });
      const t0 = clock.now();
      const N = 2000;
      for (let i = 0; i < N; i++) await scheduler.create({ id: `once${i}`, trigger: { at: t0 + 60_000 }, template: { task: 'remind', payload: { i } } });
      await scheduler.create({ id: 'daily', trigger: { every: '1d' }, template: { task: 'remind' } });
      await scheduler.create({ id: 'held', trigger: { every: '1d' }, template: { task: 'remind' }, paused: true });
      clock.advance(60_000);
      assert.equal((await scheduler.tick()).enqueued, N, 'every one-shot fired once');
      assert.equal((await store.listSchedules()).filter((r) => r.nextRunAt === null).length, N, 'and ended');

      clock.advance(6 * 24 * 3600_000);
      await scheduler.create({ id: 'late', trigger: { at: clock.now() + 1000 }, template: { task: 'remind' } });
      clock.advance(1000);
      await scheduler.tick();
      clock.advance(24 * 3600_000);
      await new Maintenance(store, { clock }).runOnce();
      assert.deepEqual((await store.listSchedules()).map((r) => r.id).sort(), ['daily', 'held', 'late']);
      assert.ok((await store.countJobs({})).default!.queued >= N + 1, 'the jobs they made stay');
    });
  });

  it('drops the registry entries of thousands of workers killed without a clean stop, though nobody lists workers', async () => {
    const clock = new ManualClock();
    await withFusion({ clock }, async ({ store, dir }) => {
      const t0 = clock.now();
      const N = 2000;
      const info = (id: string, at: number) => ({ id, host: 'h', pid: 1, queues: ['default'], concurrency: 1, running: [], startedAt: t0, lastSeenAt: at });
      // Each a process killed (kill -9, OOM, an evicted pod): its last beat, and no removeWorker.
      for (let i = 0; i < N; i++) await store.beatWorker({ worker: info(`dead${i}`, t0), ttlMs: 15_000 });
      clock.advance(60_000);
      await store.beatWorker({ worker: info('alive', clock.now()), ttlMs: 15_000 });
      await new Maintenance(store, { clock }).runOnce();
      const db = new Database(join(dir, 'fusion.db'), { readonly: true });
      try {
        assert.deepEqual(db.prepare('SELECT id FROM workers').pluck().all(), ['alive'], 'registry rows left');
      } finally {
        db.close();
      }
    });
  });
});
