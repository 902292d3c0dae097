// The server restarted under a running worker, on a private PostgreSQL (tests/helpers/pg-private.ts):
// `pg_ctl restart -m fast` (clean shutdown: connections ended, then back) and `-m immediate` (a
// crash: the server recovers from its WAL). Thousands of jobs: every one completes, none is lost or
// failed, and the worker resumes within seconds of the server being back (measured and printed).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { Queue } from '../../src/core/queue.js';
import { Worker } from '../../src/core/worker.js';
import { Maintenance } from '../../src/core/maintenance.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { privatePgSkip, startPrivatePg, type PrivatePg } from '../helpers/pg-private.js';
import { until } from '../helpers/await.js';

const skip = await privatePgSkip();

describe('PostgreSQL server restart (private server)', { skip }, () => {
  let server: PrivatePg;
  before(async () => (server = await startPrivatePg()));
  after(async () => server?.stop());

  for (const mode of ['fast', 'immediate'] as const) {
    it(`pg_ctl restart -m ${mode} mid-run: every job completes, the worker resumes within seconds`, async () => {
      const url = `${server.url}?schema=restart_${mode}`;
      const store = await PostgresStore.open(url);
      const producer = await PostgresStore.open(url);
      const registry = new TaskRegistry();
      const runs = new Map<string, number>();
      let completed = 0;
      const N = 3000;
      registry.register('t', async (p: { i: number }, ctx) => {
        await new Promise((r) => setTimeout(r, 1 + (p.i % 3)));
        runs.set(ctx.job.id, (runs.get(ctx.job.id) ?? 0) + 1);
        return null;
      });
      // Completion events pace the run; the stored states decide the end (below).
      store.subscribe((e) => {
        if (e.type === 'completed') completed++;
      });
      // A poll far longer than the test: only wake-ups and the worker's own retries move it.
      const worker = new Worker(store, registry, { queues: ['q'], concurrency: 20, leaseMs: 5000, pollMs: 60_000 }).start();
      const maintenance = new Maintenance(store, { intervalMs: 500 }).start();
      try {
        await store.listening();
        await new Queue(producer).enqueueMany(Array.from({ length: N }, (_, k) => ({ id: `j${k}`, task: 't', queue: 'q', payload: { i: k } })));
        await until(() => completed >= N / 3, 60_000, 'a third done before the restart', 5);
        const t0 = Date.now();
        await server.restart(mode);
        const up = Date.now();
        const before = completed;
        await until(() => completed > before + 20, 30_000, `work resumed after restart -m ${mode}`, 5);
        const resumed = Date.now() - up;
        // By the stored states, not the events, which are a live stream: an outcome whose commit
        // landed as the server went down but whose answer was lost is not announced by its retry.
        // (Waiting on the events timed out in 2 runs of 22 here.)
        await until(async () => (await producer.countJobs({ queue: 'q' })).q!.completed === N, 60_000, `all ${N} jobs completed`, 50);
        const counts = (await producer.countJobs({ queue: 'q' })).q!;
        assert.deepEqual(counts, { scheduled: 0, queued: 0, active: 0, completed: N, failed: 0, cancelled: 0 });
        for (let k = 0; k < N; k++) assert.ok((runs.get(`j${k}`) ?? 0) >= 1, `j${k} ran`);
        const twice = [...runs.values()].filter((n) => n > 1).length;
        console.log(`restart -m ${mode}: server down->up ${up - t0} ms, worker resumed ${resumed} ms after; ${N} jobs completed, ${twice} ran twice (at-least-once)`);
        assert.ok(resumed < 10_000, `worker resumed ${resumed} ms after the server was back`);
      } finally {
        await worker.stop(2000);
        await maintenance.stop();
        await producer.close();
        await store.close();
      }
    });
  }
});
