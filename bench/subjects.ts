// The systems a benchmark row can run on. Each subject hides its own API behind the same few
// calls, so the measurements in measure.ts never know which queue they drive.
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { Fusion } from '../src/fusion.js';
import { createLogger } from '../src/logging.js';
import type { StoreEvent } from '../src/core/store.js';

export interface WorkerHandle {
  /** Resolves once `n` jobs of this worker's queue have their completion stored. */
  completed(n: number): Promise<void>;
  stop(): Promise<void>;
}

export interface Subject {
  readonly name: string;
  enqueue(queue: string, payload: unknown): Promise<void>;
  enqueueBulk(queue: string, payloads: unknown[]): Promise<void>;
  /** Start a worker on `queue`; `onStart` runs first thing in each handler call. */
  work(queue: string, concurrency: number, onStart?: () => void): Promise<WorkerHandle>;
  /**
   * Something that enqueues through its own store connection, as another process would.
   * BullMQ's Queue and Worker already use separate Redis connections, so it returns itself.
   */
  producer(): Promise<Pick<Subject, 'enqueue' | 'close'>>;
  /** Remove what a row left behind in `queue`. */
  drop(queue: string): Promise<void>;
  close(): Promise<void>;
}

/** Counts stored completions and resolves waiters when a target is reached. */
class CompletionCounter {
  count = 0;
  private waiters: { n: number; resolve: () => void }[] = [];
  hit(): void {
    this.count++;
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => (this.count >= w.n ? (w.resolve(), false) : true));
  }
  until(n: number): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

/** logLevel: run with the real pino logger at that level, writing to /dev/null (default: silent). */
export async function fusionSubject(storeUrl: string, logLevel?: string): Promise<Subject> {
  const logger = logLevel ? createLogger({ level: logLevel, destination: openSync('/dev/null', 'w') }) : undefined;
  const fusion = await Fusion.open({ store: storeUrl, logger });
  let onStart: (() => void) | undefined;
  fusion.task('noop', () => {
    onStart?.();
    return null;
  });
  return {
    name: 'fusion',
    async enqueue(queue, payload) {
      await fusion.queue.enqueue({ task: 'noop', queue, payload });
    },
    async enqueueBulk(queue, payloads) {
      await fusion.queue.enqueueMany(payloads.map((payload) => ({ task: 'noop', queue, payload })));
    },
    async work(queue, concurrency, start) {
      onStart = start;
      const counter = new CompletionCounter();
      // A store event fires after the outcome's transaction commits: this is "stored", not "handler returned".
      const off = fusion.store.subscribe((e: StoreEvent) => {
        if (e.type === 'completed' && e.queue === queue) counter.hit();
      });
      const worker = fusion.worker({ queues: [queue], concurrency });
      return {
        completed: (n) => counter.until(n),
        async stop() {
          await worker.stop();
          off();
        },
      };
    },
    async producer() {
      const other = await Fusion.open({ store: storeUrl });
      return {
        enqueue: async (queue: string, payload: unknown) => void (await other.queue.enqueue({ task: 'noop', queue, payload })),
        close: () => other.close(),
      };
    },
    async drop(queue) {
      await fusion.store.cleanJobs({ queue, endedBefore: Date.now() + 1, limit: 100_000 });
    },
    close: () => fusion.close(),
  };
}

/**
 * plainjob 0.0.x: a SQLite queue (better-sqlite3, WAL, synchronous=NORMAL like Fusion's default) on
 * its own file beside Fusion's. Its worker runs one job at a time, so concurrency N is N workers
 * (as its README does). A completion counts once markJobAsDone has committed (its onCompleted runs
 * after that statement). The queue name is plainjob's job type. It polls when idle: pollIntervall
 * 1 ms here, its tightest, so the latency rows show its best.
 */
export async function plainjobSubject(file: string): Promise<Subject> {
  const { default: Database } = await import('better-sqlite3');
  const { better, defineQueue, defineWorker } = await import('plainjob');
  const quiet = { error() {}, warn() {}, info() {}, debug() {} };
  const open = () => {
    const db = new Database(file);
    // Hours, so its maintenance timer never runs inside a row.
    const queue = defineQueue({ connection: better(db), logger: quiet, maintenanceInterval: 3_600_000 });
    return { db, queue };
  };
  const main = open();
  const others: { db: InstanceType<typeof Database>; queue: ReturnType<typeof defineQueue> }[] = [];
  return {
    name: 'plainjob',
    async enqueue(queue, payload) {
      main.queue.add(queue, payload);
    },
    async enqueueBulk(queue, payloads) {
      main.queue.addMany(queue, payloads);
    },
    async work(queue, concurrency, onStart) {
      const counter = new CompletionCounter();
      const workers = Array.from({ length: concurrency }, () =>
        defineWorker(queue, () => {
          onStart?.();
        }, { queue: main.queue, logger: quiet, pollIntervall: 1, onCompleted: () => counter.hit() }),
      );
      for (const w of workers) void w.start();
      return {
        completed: (n) => counter.until(n),
        async stop() {
          await Promise.all(workers.map((w) => w.stop()));
        },
      };
    },
    async producer() {
      const other = open();
      others.push(other);
      return {
        enqueue: async (queue: string, payload: unknown) => void other.queue.add(queue, payload),
        close: async () => {
          other.queue.close();
        },
      };
    },
    async drop(queue) {
      main.db.prepare('DELETE FROM plainjob_jobs WHERE type = ?').run(queue);
    },
    async close() {
      main.queue.close();
    },
  };
}

export async function bullmqSubject(redisUrl: string): Promise<Subject> {
  const { Queue, Worker } = await import('bullmq');
  const u = new URL(redisUrl);
  const connection = {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    db: Number(u.pathname.slice(1) || 0),
    password: u.password || undefined,
    maxRetriesPerRequest: null,
  };
  // A unique prefix keeps the bench away from any real BullMQ data on that Redis.
  const prefix = `fusion-bench-${randomBytes(4).toString('hex')}`;
  const queues = new Map<string, InstanceType<typeof Queue>>();
  const queueOf = (name: string) => {
    let q = queues.get(name);
    if (!q) queues.set(name, (q = new Queue(name, { connection, prefix })));
    return q;
  };
  const drop = async (queue: string) => {
    const q = queueOf(queue);
    await q.obliterate({ force: true });
    await q.close();
    queues.delete(queue);
  };
  const enqueue = async (queue: string, payload: unknown) => {
    await queueOf(queue).add('noop', payload);
  };
  return {
    name: 'bullmq',
    enqueue,
    async enqueueBulk(queue, payloads) {
      await queueOf(queue).addBulk(payloads.map((data) => ({ name: 'noop', data })));
    },
    async work(queue, concurrency, onStart) {
      const counter = new CompletionCounter();
      const worker = new Worker(
        queue,
        async () => {
          onStart?.();
          return null;
        },
        { connection, prefix, concurrency },
      );
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
