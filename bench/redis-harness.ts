// Fusion, BullMQ and bee-queue behind one face, for the Redis benches: each on a URL, a key prefix
// of its own and one queue of no-op jobs.
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import BeeQueue from 'bee-queue';
import { Queue } from '../src/core/queue.js';
import { Worker } from '../src/core/worker.js';
import { TaskRegistry } from '../src/core/registry.js';
import { RedisStore } from '../src/stores/redis/store.js';
import { parseRedisUrl } from '../src/stores/redis/connect.js';

export interface Harness {
  enqueue(payload: unknown, runAt?: number): Promise<void>;
  enqueueBulk(payloads: unknown[]): Promise<void>;
  completed(): Promise<number>;
  /** Hold workers back while jobs go in (absent where the system has no pause: bee-queue). */
  pause?(): Promise<void>;
  resume?(): Promise<void>;
  /** Start a worker in this process; `onStart` runs at the top of each handler. */
  work(concurrency: number, onStart?: (payload: any) => void): Promise<void>;
  close(): Promise<void>;
}

/** Fusion on a Redis store under its own key prefix, one queue. */
export function fusionHarness(url: string, prefix: string, queueName: string): Harness {
  const store = new RedisStore(parseRedisUrl(url), { prefix });
  const queue = new Queue(store);
  const workers: Worker[] = [];
  return {
    async enqueue(payload, runAt) {
      await queue.enqueue({ task: 'noop', queue: queueName, payload, runAt });
    },
    async enqueueBulk(payloads) {
      await queue.enqueueMany(payloads.map((payload) => ({ task: 'noop', queue: queueName, payload })));
    },
    async completed() {
      return (await store.countJobs({ queue: queueName }))[queueName]!.completed;
    },
    pause: () => store.pauseQueue({ queue: queueName, now: Date.now() }),
    resume: () => store.resumeQueue({ queue: queueName, now: Date.now() }),
    async work(concurrency, onStart) {
      const reg = new TaskRegistry().register('noop', async (p: unknown) => {
        onStart?.(p);
      });
      workers.push(new Worker(store, reg, { queues: [queueName], concurrency }).start());
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop(1000)));
      await store.close();
    },
  };
}

/** BullMQ on the same Redis, under its own prefix, one queue. */
export function bullHarness(url: string, prefix: string, queueName: string): Harness {
  const u = new URL(url);
  const bullConnection = { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0), maxRetriesPerRequest: null };
  const queue = new BullQueue(queueName, { connection: bullConnection, prefix });
  const workers: BullWorker[] = [];
  return {
    async enqueue(payload, runAt) {
      await queue.add('noop', payload, runAt !== undefined ? { delay: Math.max(0, runAt - Date.now()) } : undefined);
    },
    async enqueueBulk(payloads) {
      await queue.addBulk(payloads.map((data) => ({ name: 'noop', data })));
    },
    async completed() {
      return (await queue.getJobCounts('completed')).completed ?? 0;
    },
    pause: () => queue.pause(),
    resume: () => queue.resume(),
    async work(concurrency, onStart) {
      const w = new BullWorker(queueName, async (job) => {
        onStart?.(job.data);
      }, { connection: bullConnection, prefix, concurrency });
      await w.waitUntilReady();
      workers.push(w);
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await queue.close();
    },
  };
}

/**
 * bee-queue 2 on the same Redis, under its own prefix, one queue, with its default settings except
 * activateDelayedJobs on the worker (without it delayed jobs never run). It has no pause: the
 * multi-process row holds its workers back until the jobs are in (redis-vs-bullmq.ts).
 */
export function beeHarness(url: string, prefix: string, queueName: string): Harness {
  const u = new URL(url);
  const redis = { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0) };
  const queue = new BeeQueue(queueName, { redis, prefix });
  const workers: BeeQueue[] = [];
  return {
    async enqueue(payload, runAt) {
      const job = queue.createJob(payload);
      if (runAt !== undefined) job.delayUntil(runAt);
      await job.save();
    },
    async enqueueBulk(payloads) {
      const errors = await queue.saveAll(payloads.map((p) => queue.createJob(p)));
      if (errors.size) throw [...errors.values()][0];
    },
    async completed() {
      return (await queue.checkHealth()).succeeded;
    },
    async work(concurrency, onStart) {
      const w = new BeeQueue(queueName, { redis, prefix, activateDelayedJobs: true });
      w.process(concurrency, async (job) => {
        onStart?.(job.data);
        return null;
      });
      await w.ready();
      workers.push(w);
    },
    async close() {
      await Promise.all(workers.map((w) => w.close(1000)));
      await queue.close(1000);
    },
  };
}
