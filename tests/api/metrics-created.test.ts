// The API's outcome counters for jobs it created itself: their task is remembered at creation
// (ApiMetrics.created), so each outcome counts under its task without a store read, also when the
// worker that ran it reported nothing to this process but the store event.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiMetrics } from '../../src/api/metrics.js';
import { Queue } from '../../src/core/queue.js';
import { Worker } from '../../src/core/worker.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import type { Store } from '../../src/core/store.js';
import { interceptStore } from '../helpers/store-proxy.js';
import { until } from '../helpers/await.js';

async function completedByTask(m: ApiMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await m.completed.get()).values) out[String(v.labels.task)] = v.value;
  return out;
}

it('counts the outcomes of jobs created through the API under their tasks, reading none of them', async () => {
  const own = new SqliteStore(':memory:');
  let reads = 0;
  const store = interceptStore(own, (name, call) => (name === 'getJob' ? (((ref: never) => (reads++, call(ref))) as never) : undefined)) as Store;
  const metrics = new ApiMetrics(store, { defaultMetrics: false }).start();
  const queue = 'made-here';
  const registry = new TaskRegistry().register('a', () => null, { queue }).register('b', () => null, { queue });
  const worker = new Worker(own, registry, { queues: [queue], concurrency: 5 });
  try {
    const N = 30;
    const added = await new Queue(own).enqueueMany(Array.from({ length: N }, (_, i) => ({ task: i % 3 === 0 ? 'a' : 'b', queue, payload: i })));
    for (const { job } of added) metrics.created(job.queue, job.task, job.id);
    worker.start();
    await until(async () => Object.values(await completedByTask(metrics)).reduce((a, b) => a + b, 0) === N, 20_000, 'every outcome counted');
    assert.deepEqual(await completedByTask(metrics), { a: 10, b: 20 });
    assert.equal(reads, 0, 'no task read from the store');
  } finally {
    await worker.stop();
    metrics.stop();
    await own.close();
  }
});

it('forgets the task of a removed job: its id made again elsewhere counts under the new task', async () => {
  const store = new SqliteStore(':memory:');
  const metrics = new ApiMetrics(store, { defaultMetrics: false }).start();
  const queue = 'made-here';
  const registry = new TaskRegistry().register('a', () => null, { queue }).register('b', () => null, { queue });
  const worker = new Worker(store, registry, { queues: [queue], concurrency: 1 });
  const removed = new Promise<void>((resolve) => {
    const off = store.subscribe((e) => {
      if (e.type !== 'removed' || e.jobId !== 'x') return;
      off();
      resolve();
    });
  });
  try {
    const q = new Queue(store);
    const [first] = await q.enqueueMany([{ task: 'a', queue, id: 'x' }]);
    metrics.created(first!.job.queue, first!.job.task, first!.job.id);
    await store.removeJob({ id: 'x', now: Date.now() });
    await removed;
    // Made again by another process (not through this API), with another task, then run.
    await q.enqueueMany([{ task: 'b', queue, id: 'x' }]);
    worker.start();
    await until(async () => Object.keys(await completedByTask(metrics)).length > 0, 20_000, 'the outcome counted');
    assert.deepEqual(await completedByTask(metrics), { b: 1 });
  } finally {
    await worker.stop();
    metrics.stop();
    await store.close();
  }
});

it('counts a snooze as an attempt that put its job off, and an operator\'s reschedule after a release as none', async () => {
  const store = new SqliteStore(':memory:');
  const metrics = new ApiMetrics(store, { defaultMetrics: false }).start();
  const queue = 'naps';
  const now = Date.now();
  const snoozedTotal = async () => (await metrics.snoozed.get()).values.reduce((n, v) => n + v.value, 0);
  try {
    const q = new Queue(store);
    for (const id of ['released', 'snoozed']) {
      const [added] = await q.enqueueMany([{ task: 'nap', queue, id }]);
      metrics.created(added!.job.queue, added!.job.task, added!.job.id);
    }
    const { jobs } = await store.claimJobs({ queues: [queue], workerId: 'w', limit: 2, leaseMs: 30_000, now });
    const token = (id: string) => jobs.find((j) => j.id === id)!.leaseToken!;
    // Given back at shutdown, then rescheduled by an operator: no attempt ended in a snooze.
    await store.finishJobs({ outcomes: [{ kind: 'released', id: 'released', token: token('released'), at: now }] });
    await q.reschedule('released', now + 60_000);
    await store.finishJobs({ outcomes: [{ kind: 'snoozed', id: 'snoozed', token: token('snoozed'), at: now, retryAt: now + 1_000 }] });
    await until(async () => (await snoozedTotal()) >= 1, 5_000, 'the snooze counted');
    assert.deepEqual((await metrics.snoozed.get()).values.map((v) => [v.labels.task, v.value]), [['nap', 1]]);
    assert.equal((await store.getJob({ id: 'released' }))!.state, 'scheduled');
  } finally {
    metrics.stop();
    await store.close();
  }
});
