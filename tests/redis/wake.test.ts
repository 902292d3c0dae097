// Idle workers wake on events, not polls: the worker here polls once a minute, so every start
// within milliseconds proves an event (cross-process pub/sub) or the store's nextWakeAt woke it.
// The median must be a few ms; the slowest of the samples (p99 of 40-60 is about the maximum) only
// far from a poll, since one pause of the shared machine lands on some sample.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { Worker } from '../../src/core/worker.js';
import { Queue } from '../../src/core/queue.js';
import { TaskRegistry } from '../../src/core/registry.js';
import type { RedisStore } from '../../src/stores/redis/store.js';
import { dropPrefix, openTestStore, redisSkip, testPrefix } from '../helpers/redis.js';
import { deferred, percentile, within } from '../helpers/await.js';

const skip = await redisSkip();
/** The bound on the slowest start: 30 times under the worker's poll of a minute. */
const SLOWEST_MS = 2000;

describe('Redis wake-up without polling', { skip }, () => {
  const prefix = testPrefix();
  let producer: RedisStore;
  let consumer: RedisStore;
  let worker: Worker;
  let onStart: (payload: { due?: number }) => void = () => {};

  before(async () => {
    // Two stores = two sets of connections, as a producer and a worker in different processes.
    producer = openTestStore(undefined, prefix);
    consumer = openTestStore(undefined, prefix);
    const reg = new TaskRegistry().register('t', async (p: { due?: number }) => onStart(p));
    worker = new Worker(consumer, reg, { queues: ['wake'], concurrency: 4, pollMs: 60_000 }).start();
    await new Promise((r) => setTimeout(r, 100));
  });

  after(async () => {
    await worker.stop(1000);
    await dropPrefix(producer.client, prefix);
    await Promise.all([producer.close(), consumer.close()]);
  });

  it('starts a job within a few ms of its enqueue on an idle queue', async () => {
    const q = new Queue(producer);
    const samples: number[] = [];
    for (let i = 0; i < 60; i++) {
      const started = deferred<number>();
      onStart = () => started.resolve(performance.now());
      const t0 = performance.now();
      await q.enqueue({ task: 't', queue: 'wake', payload: {} });
      samples.push((await within(started.promise, 5000, 'job start after enqueue')) - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
    const p50 = percentile(samples, 50);
    const p99 = percentile(samples, 99);
    console.log(`enqueue→start on an idle queue: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (n=${samples.length})`);
    assert.ok(p50 < 20, `p50 ${p50} ms`);
    assert.ok(p99 < SLOWEST_MS, `p99 ${p99} ms`);
  });

  it('starts delayed jobs within a few ms of their due time', async () => {
    const q = new Queue(producer);
    const late: number[] = [];
    const all = deferred();
    const N = 40;
    onStart = (p) => {
      late.push(Date.now() - p.due!);
      if (late.length === N) all.resolve();
    };
    // Every add lands before the first job is due, even on a slow machine (40 adds took ~20-200 ms).
    const base = Date.now() + 1000;
    for (let i = 0; i < N; i++) {
      const due = base + i * 15;
      await q.enqueue({ task: 't', queue: 'wake', payload: { due }, runAt: due });
    }
    await within(all.promise, 10_000, 'all delayed jobs started');
    const p50 = percentile(late, 50);
    const p99 = percentile(late, 99);
    console.log(`delayed job lateness: p50 ${p50} ms, p99 ${p99} ms (n=${late.length})`);
    assert.ok(late.every((x) => x >= 0), 'no job started before it was due');
    assert.ok(p50 < 20, `p50 ${p50} ms`);
    assert.ok(p99 < SLOWEST_MS, `p99 ${p99} ms`);
  });
});
