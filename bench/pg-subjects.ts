// The Postgres peers as bench subjects: Graphile Worker, pg-boss and BullMQ's PostgreSQL backend,
// each in a schema of its own on the same server as Fusion-on-Postgres, with its default settings
// (Graphile: concurrency slots share a pool sized to them; pg-boss: one work() per slot, as its docs
// say for concurrency; BullMQ: a Worker with `concurrency`). Completions are counted where each
// library reports them: Graphile's and BullMQ's events, pg-boss's handler return (its completion
// write follows; so pg-boss is, if anything, flattered).
import type { Subject, WorkerHandle } from './subjects.js';

/** A subject that can also enqueue a job due at `runAt` (ms since the epoch), for the lateness row. */
export type PgSubject = Subject & { enqueueAt(queue: string, payload: unknown, runAt: number): Promise<void> };

class Counter {
  count = 0;
  private waiters: { n: number; resolve: () => void }[] = [];
  hit(): void {
    this.count++;
    if (this.waiters.length) this.waiters = this.waiters.filter((w) => (this.count >= w.n ? (w.resolve(), false) : true));
  }
  until(n: number): Promise<void> {
    return this.count >= n ? Promise.resolve() : new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

/** maxPoolSize caps the worker's pool (default: one per slot and one spare, as Graphile advises). */
export async function graphileSubject(connectionString: string, schema: string, opts: { maxPoolSize?: number } = {}): Promise<PgSubject> {
  const { makeWorkerUtils, run, Logger } = await import('graphile-worker');
  const logger = new Logger(() => () => {});
  const utils = await makeWorkerUtils({ connectionString, schema, logger });
  await utils.migrate();
  const subject: PgSubject = {
    name: 'graphile-worker',
    async enqueue(queue, payload) {
      await utils.addJob(queue, payload as object);
    },
    async enqueueAt(queue, payload, runAt) {
      await utils.addJob(queue, payload as object, { runAt: new Date(runAt) });
    },
    async enqueueBulk(queue, payloads) {
      await utils.addJobs(payloads.map((payload) => ({ identifier: queue, payload: payload as object })));
    },
    async work(queue, concurrency, onStart): Promise<WorkerHandle> {
      const counter = new Counter();
      const runner = await run({
        connectionString, schema, logger, concurrency, noHandleSignals: true, pollInterval: 1000, maxPoolSize: Math.min(concurrency + 1, opts.maxPoolSize ?? Infinity),
        taskList: { [queue]: async () => void onStart?.() },
      });
      runner.events.on('job:success', () => counter.hit());
      return { completed: (n) => counter.until(n), stop: () => runner.stop() };
    },
    async producer() {
      const other = await makeWorkerUtils({ connectionString, schema, logger });
      return {
        enqueue: async (queue: string, payload: unknown) => void (await other.addJob(queue, payload as object)),
        close: async () => void (await other.release()),
      };
    },
    async drop() {
      // Graphile deletes a job when it completes: nothing is left behind.
    },
    close: async () => void (await utils.release()),
  };
  return subject;
}

export async function pgBossSubject(connectionString: string, schema: string): Promise<PgSubject> {
  const PgBoss = (await import('pg-boss')).default;
  const boss = new PgBoss({ connectionString, schema, schedule: false, supervise: false });
  boss.on('error', () => {});
  await boss.start();
  // One createQueue per queue even when 100 enqueues race for it (the in-flight row).
  const made = new Map<string, Promise<void>>();
  const ensure = (queue: string) => {
    let p = made.get(queue);
    if (!p) made.set(queue, (p = boss.createQueue(queue)));
    return p;
  };
  return {
    name: 'pg-boss',
    async enqueue(queue, payload) {
      await ensure(queue);
      await boss.send(queue, payload as object);
    },
    async enqueueAt(queue, payload, runAt) {
      await ensure(queue);
      await boss.send(queue, payload as object, { startAfter: new Date(runAt) });
    },
    async enqueueBulk(queue, payloads) {
      await ensure(queue);
      await boss.insert(payloads.map((data) => ({ name: queue, data: data as object })));
    },
    async work(queue, concurrency, onStart) {
      await ensure(queue);
      const counter = new Counter();
      for (let i = 0; i < concurrency; i++) {
        await boss.work(queue, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async (jobs) => {
          onStart?.();
          for (let k = 0; k < jobs.length; k++) queueMicrotask(() => counter.hit());
        });
      }
      return { completed: (n) => counter.until(n), stop: () => boss.offWork(queue) };
    },
    async producer() {
      const other = new PgBoss({ connectionString, schema, schedule: false, supervise: false, migrate: false });
      other.on('error', () => {});
      await other.start();
      return { enqueue: async (queue: string, payload: unknown) => void (await other.send(queue, payload as object)), close: () => other.stop({ graceful: false }) };
    },
    async drop(queue) {
      await boss.deleteQueue(queue).catch(() => {}); // refused while its partition holds jobs; the schema goes at the end
      made.delete(queue);
    },
    close: () => boss.stop({ graceful: false }),
  };
}

export async function bullmqPgSubject(connectionString: string, schema: string): Promise<PgSubject> {
  const bull = await import('bullmq');
  const { Queue, Worker } = bull.withBackend(bull.createPostgresBackend);
  const connection = { connectionString, schema, migrate: true };
  const queues = new Map<string, InstanceType<typeof Queue>>();
  const queueOf = (name: string) => {
    let q = queues.get(name);
    if (!q) queues.set(name, (q = new Queue(name, { connection })));
    return q;
  };
  const enqueue = async (queue: string, payload: unknown) => void (await queueOf(queue).add('noop', payload));
  const drop = async (queue: string) => {
    const q = queueOf(queue);
    await q.obliterate({ force: true });
    await q.close();
    queues.delete(queue);
  };
  return {
    name: 'bullmq-pg',
    enqueue,
    async enqueueAt(queue, payload, runAt) {
      await queueOf(queue).add('noop', payload, { delay: Math.max(0, runAt - Date.now()) });
    },
    async enqueueBulk(queue, payloads) {
      await queueOf(queue).addBulk(payloads.map((data) => ({ name: 'noop', data })));
    },
    async work(queue, concurrency, onStart) {
      const counter = new Counter();
      const worker = new Worker(queue, async () => {
        onStart?.();
        return null;
      }, { connection, concurrency });
      worker.on('completed', () => counter.hit());
      await worker.waitUntilReady();
      return { completed: (n) => counter.until(n), stop: () => worker.close() };
    },
    async producer() {
      return { enqueue, close: async () => {} };
    },
    drop,
    async close() {
      for (const name of [...queues.keys()]) await drop(name);
    },
  };
}
