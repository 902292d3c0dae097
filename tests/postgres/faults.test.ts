// Connection faults: the server ends this store's connections (pg_terminate_backend, as a failover
// or an operator would) while workers run. Workers resume within seconds and nothing is lost; the
// LISTEN connection comes back and wakes idle workers (no poll to hide behind: pollMs is a minute).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { Queue } from '../../src/core/queue.js';
import { Worker } from '../../src/core/worker.js';
import { Maintenance } from '../../src/core/maintenance.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { dropSchema, pgClient, pgSkip, schemaUrl, testSchema } from '../helpers/postgres.js';
import { deferred, until, within } from '../helpers/await.js';

const skip = await pgSkip();

describe('PostgreSQL connection faults', { skip }, () => {
  it('terminated connections: workers resume within seconds, every job completes once', async () => {
    const schema = testSchema();
    const app = `fusion_faults_${schema}`;
    const store = await PostgresStore.open(schemaUrl(schema, `&application_name=${app}`));
    const producer = await PostgresStore.open(schemaUrl(schema));
    const admin = await pgClient();
    const registry = new TaskRegistry();
    const runs = new Map<string, number>();
    let lastDone = Date.now();
    const N = 3000;
    registry.register('t', async (p: { i: number }, ctx) => {
      await new Promise((r) => setTimeout(r, 1 + (p.i % 3)));
      runs.set(ctx.job.id, (runs.get(ctx.job.id) ?? 0) + 1);
      return null;
    });
    let completed = 0;
    store.subscribe((e) => {
      if (e.type !== 'completed') return;
      lastDone = Date.now();
      completed++;
    });
    const worker = new Worker(store, registry, { queues: ['q'], concurrency: 20, leaseMs: 2000, pollMs: 60_000 }).start();
    const maintenance = new Maintenance(store, { intervalMs: 200 }).start();
    const kill = async () => {
      const r = await admin.query(`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1`, [app]);
      return r.rows[0].n as number;
    };
    try {
      await store.listening();
      const q = new Queue(producer);
      const gaps: number[] = [];
      for (let b = 0; b < 6; b++) {
        await q.enqueueMany(Array.from({ length: N / 6 }, (_, k) => ({ id: `j${b}-${k}`, task: 't', queue: 'q', payload: { i: k } })));
        await until(() => completed >= ((b + 1) * N) / 6 - 200, 30_000, `batch ${b} mostly done`, 5);
        if (b % 2 === 0) {
          const killedAt = Date.now();
          assert.ok((await kill()) >= 1, 'the store had connections to end');
          const before = completed;
          await until(() => completed > before + 50, 15_000, 'work resumed after the kill', 5);
          gaps.push(Date.now() - killedAt);
        }
      }
      // By the stored states, not the events, which are a live stream: an outcome whose commit landed
      // as its connection was terminated but whose answer was lost is not announced by its retry
      // (restart.test.ts saw it there).
      await until(async () => (await producer.countJobs({ queue: 'q' })).q!.completed === N, 30_000, `all ${N} jobs completed`, 50);
      // An idle worker is woken through a LISTEN connection that was itself terminated.
      await until(() => Date.now() - lastDone > 100, 5000, 'worker idle');
      assert.ok((await kill()) >= 1);
      await new Promise((r) => setTimeout(r, 300)); // the listener reconnects (its backoff starts at 50 ms)
      const t0 = Date.now();
      const woke = deferred();
      const off = store.subscribe((e) => e.type === 'completed' && e.jobId === 'after-kill' && woke.resolve());
      await q.enqueue({ id: 'after-kill', task: 't', queue: 'q', payload: { i: 0 } });
      await within(woke.promise, 10_000, 'job added after the kill ran without a poll');
      off();
      const latency = Date.now() - t0;

      const counts = (await store.countJobs({ queue: 'q' })).q!;
      assert.deepEqual(counts, { scheduled: 0, queued: 0, active: 0, completed: N + 1, failed: 0, cancelled: 0 });
      for (let b = 0; b < 6; b++) for (let k = 0; k < N / 6; k++) assert.ok((runs.get(`j${b}-${k}`) ?? 0) >= 1, `j${b}-${k} ran`);
      console.log(`faults: 4 terminations, resumed after ${gaps.join(', ')} ms; wake after listener kill ${latency} ms`);
      for (const g of gaps) assert.ok(g < 10_000, `resumed after ${g} ms`);
      assert.ok(latency < 5000, `a job added after the listener was killed waited ${latency} ms`);
    } finally {
      await worker.stop(2000);
      await maintenance.stop();
      await admin.end();
      await producer.close();
      await store.close();
      await dropSchema(schema);
    }
  });
});
