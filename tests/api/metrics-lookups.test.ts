// The API's outcome counters for jobs another process created: their task is read from the store in
// bounded batches, never one read per completion all at once (an add sent behind thousands of
// reads on the same connection waited ten seconds), and past a cap they count under 'unknown'.
// On Redis, where every process hears every job's end.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiMetrics, TASK_LOOKUP_BATCH } from '../../src/api/metrics.js';
import { Queue } from '../../src/core/queue.js';
import { Worker } from '../../src/core/worker.js';
import { TaskRegistry } from '../../src/core/registry.js';
import type { Store } from '../../src/core/store.js';
import { interceptStore } from '../helpers/store-proxy.js';
import { openTestStore, redisHarness, redisSkip } from '../helpers/redis.js';
import { deferred, until } from '../helpers/await.js';

const skip = await redisSkip();

/** The completed counter's values by task. */
async function completedByTask(m: ApiMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await m.completed.get()).values) out[String(v.labels.task)] = v.value;
  return out;
}

describe('API metrics: tasks of jobs created elsewhere', { skip }, () => {
  let h: Awaited<ReturnType<typeof redisHarness>>;
  before(async () => {
    h = await redisHarness();
  });
  after(async () => h.cleanup());

  /** An API process's store on the same data, its getJob calls seen through `wrap`. */
  async function apiStore(getJob: (call: Store['getJob']) => Store['getJob']): Promise<{ store: Store; close(): Promise<void> }> {
    const own = openTestStore(h.url, h.opening.prefix);
    const store = interceptStore(own, (name, call) => (name === 'getJob' ? (getJob(call as Store['getJob']) as never) : undefined));
    return { store, close: () => own.close() };
  }

  async function runJobs(queue: string, n: number): Promise<void> {
    const q = new Queue(h.store);
    await q.enqueueMany(Array.from({ length: n }, (_, i) => ({ task: i % 3 === 0 ? 'a' : 'b', queue, payload: i })));
    const w = new Worker(h.store, new TaskRegistry().register('a', () => null, { queue }).register('b', () => null, { queue }), { queues: [queue], concurrency: 50 });
    w.start();
    await until(async () => (await h.store.countJobs({ queue }))[queue]!.completed === n, 30_000, 'every job completed');
    await w.stop();
  }

  it('reads them in batches of at most TASK_LOOKUP_BATCH, once per job, and counts each under its task', async () => {
    let inFlight = 0;
    let most = 0;
    let reads = 0;
    const api = await apiStore((getJob) => async (ref) => {
      reads++;
      most = Math.max(most, ++inFlight);
      try {
        return await getJob(ref);
      } finally {
        inFlight--;
      }
    });
    const metrics = new ApiMetrics(api.store, { defaultMetrics: false }).start();
    try {
      await api.store.listQueues(); // returns once the store's event subscription is in place
      const N = 600;
      await runJobs('batched', N);
      await until(async () => Object.values(await completedByTask(metrics)).reduce((a, b) => a + b, 0) === N, 20_000, 'every outcome counted');
      assert.deepEqual(await completedByTask(metrics), { a: 200, b: 400 });
      assert.equal(reads, N, 'one read per job');
      assert.ok(most <= TASK_LOOKUP_BATCH, `${most} reads in flight at once`);
      assert.ok(most > 1, 'reads of one batch go together');
    } finally {
      metrics.stop();
      await api.close();
    }
  });

  it('past the cap, outcomes count under task "unknown" instead of queueing more reads', async () => {
    const gate = deferred();
    let reads = 0;
    const api = await apiStore((getJob) => async (ref) => {
      reads++;
      await gate.promise; // the store is slow: nothing read comes back until the gate opens
      return getJob(ref);
    });
    const CAP = 10;
    const metrics = new ApiMetrics(api.store, { defaultMetrics: false, maxTaskLookups: CAP }).start();
    try {
      await api.store.listQueues();
      const N = 100;
      await runJobs('capped', N);
      // The first outcome's read is in flight; CAP more wait; the rest were counted at once.
      await until(async () => (await completedByTask(metrics)).unknown === N - 1 - CAP, 20_000, 'outcomes past the cap counted');
      assert.equal(reads, 1);
      gate.resolve();
      await until(async () => Object.values(await completedByTask(metrics)).reduce((a, b) => a + b, 0) === N, 20_000, 'the waiting outcomes counted');
      const byTask = await completedByTask(metrics);
      assert.equal(byTask.unknown, N - 1 - CAP);
      assert.equal((byTask.a ?? 0) + (byTask.b ?? 0), 1 + CAP);
      assert.equal(reads, 1 + CAP);
    } finally {
      gate.resolve();
      metrics.stop();
      await api.close();
    }
  });
});
