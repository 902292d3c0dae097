// Scale out on Redis: throughput of no-op jobs with 1, 2 (and in the long form 4) worker processes
// on one queue, printed as a table (one JSON line per row). The queue is paused while the jobs are
// added and the workers start, then resumed: the clock runs only while every worker is up.
// On a 2-core box shared with other work, more processes need not mean more throughput; the test
// asserts that every job ran exactly once in state and that adding processes does not collapse it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from '../../src/core/queue.js';
import { until } from '../helpers/await.js';
import { chaosWorker, countsOf, redisTarget, report, size, type Proc } from '../helpers/chaos.js';
import { redisSkip } from '../helpers/redis.js';

const skip = await redisSkip();

describe('chaos: scale out on Redis', { skip }, () => {
  it(`throughput with ${size('1 and 2', '1, 2 and 4')} worker processes`, async () => {
    const N = size(10_000, 100_000);
    const rows: { processes: number; jobs: number; ms: number; perSecond: number }[] = [];
    for (const procs of size([1, 2], [1, 2, 4])) {
      const t = redisTarget();
      const store = await t.open();
      const workers: Proc[] = [];
      try {
        const q = new Queue(store);
        await store.pauseQueue({ queue: 'chaos', now: Date.now() });
        for (let k = 0; k < N; k += 1000) {
          await q.enqueueMany(Array.from({ length: Math.min(1000, N - k) }, (_, j) => ({ task: 'chaos', queue: 'chaos', payload: { k: k + j } })));
        }
        for (let k = 0; k < procs; k++) workers.push(chaosWorker({ url: t.url, logDir: t.dir, concurrency: 50, leaseMs: 30_000, record: false }));
        await Promise.all(workers.map((p) => p.line('READY')));
        const t0 = Date.now();
        await store.resumeQueue({ queue: 'chaos', now: Date.now() });
        await until(async () => (await countsOf(store)).completed === N, size(120_000, 600_000), `${N} jobs with ${procs} processes`, 25);
        const ms = Date.now() - t0;
        for (const w of workers) assert.equal((await w.term()).code, 0);
        assert.deepEqual(await countsOf(store), { scheduled: 0, queued: 0, active: 0, completed: N, failed: 0, cancelled: 0 });
        rows.push({ processes: procs, jobs: N, ms, perSecond: Math.round(N / (ms / 1000)) });
      } finally {
        await Promise.all(workers.map((p) => p.kill9()));
        await store.close();
        await t.cleanup();
      }
    }
    for (const r of rows) report({ test: 'scale-out', store: 'redis', ...r, vsOne: Math.round((r.perSecond / rows[0]!.perSecond) * 100) / 100 });
    // Generous: the machine is shared and has two cores; more processes must not fall apart.
    for (const r of rows) assert.ok(r.perSecond >= rows[0]!.perSecond * 0.5, `${r.processes} processes: ${r.perSecond}/s against ${rows[0]!.perSecond}/s with one`);
  });
});
