// Test helpers for the engine: a fresh SQLite-backed Fusion (withFusion), and waits driven by store events.
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import type { Clock } from '../../src/core/clock.js';
import type { Job, JobState } from '../../src/core/job.js';
import type { Store, StoreEvent } from '../../src/core/store.js';
import type { FusionConfig } from '../../src/channels/config-types.js';
import type { Logger } from '../../src/core/logger.js';
import { Worker } from '../../src/core/worker.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { tempDir } from './tmp.js';
import { within } from './await.js';

/**
 * Tests play the outside world on loopback (callback receivers, providers), which the outgoing guard
 * refuses by default: the test Fusions allow it explicitly.
 */
export const LOOPBACK_ALLOWED: FusionConfig = { outgoing: { allow: ['127.0.0.1/32'] } };

export interface FusionKit {
  fusion: Fusion;
  /** The SQLite store under the Fusion (unwrapped, when `wrapStore` put something in front of it). */
  store: SqliteStore;
  /** The temp directory holding the database; removed at the end. */
  dir: string;
}

export interface WithFusionOptions {
  /** A ManualClock makes time move only when the test says so. */
  clock?: Clock;
  config?: FusionConfig;
  logger?: Logger;
  /** Put something in front of the SQLite store (e.g. one that refuses some calls); the Fusion uses what it returns. */
  wrapStore?: (store: SqliteStore) => Store;
}

/**
 * For set-ups that span hooks (before/after): a Fusion on a fresh SQLite file in a temp dir, and
 * the cleanup that closes it and removes the dir. Tests that fit in one body use withFusion.
 */
export async function sqliteFusion(clock?: Clock, config: FusionConfig = LOOPBACK_ALLOWED, opts: Omit<WithFusionOptions, 'clock' | 'config'> = {}): Promise<FusionKit & { cleanup(): Promise<void> }> {
  const t = tempDir();
  const store = new SqliteStore(join(t.dir, 'fusion.db'));
  try {
    const fusion = await Fusion.open({ store: opts.wrapStore?.(store) ?? store, clock, config, logger: opts.logger });
    return {
      fusion,
      store,
      dir: t.dir,
      async cleanup() {
        try {
          await fusion.close(100);
        } finally {
          t.remove();
        }
      },
    };
  } catch (err) {
    await store.close().catch(() => undefined);
    t.remove();
    throw err;
  }
}

/**
 * Run `body` with a Fusion on a fresh SQLite file (LOOPBACK_ALLOWED config unless told), then close
 * it, its workers and its store, and remove the file, whether the body passed or threw.
 */
export async function withFusion<T>(body: (kit: FusionKit) => Promise<T>): Promise<T>;
export async function withFusion<T>(opts: WithFusionOptions, body: (kit: FusionKit) => Promise<T>): Promise<T>;
export async function withFusion<T>(a: WithFusionOptions | ((kit: FusionKit) => Promise<T>), b?: (kit: FusionKit) => Promise<T>): Promise<T> {
  const opts = typeof a === 'function' ? {} : a;
  const body = typeof a === 'function' ? a : b!;
  const { cleanup, ...kit } = await sqliteFusion(opts.clock, opts.config ?? LOOPBACK_ALLOWED, opts);
  try {
    return await body(kit);
  } finally {
    await cleanup();
  }
}

/** Resolve with the job once it is in one of `states` (checked now, then on each of its events). */
export function waitForState(store: Store, id: string, states: JobState[] | JobState, timeoutMs = 10_000): Promise<Job> {
  const want = new Set(Array.isArray(states) ? states : [states]);
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, job?: Job) => {
      if (done) return;
      done = true;
      off();
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(job!);
    };
    const check = async () => {
      const job = await store.getJob({ id });
      if (job && want.has(job.state)) finish(null, job);
    };
    const off = store.subscribe((e) => {
      if (e.jobId === id) void check();
    });
    const timer = setTimeout(async () => {
      const job = await store.getJob({ id });
      finish(new Error(`job ${id} did not reach ${[...want].join('|')} (now ${job?.state ?? 'missing'})`));
    }, timeoutMs);
    void check();
  });
}

/** Resolve on the first store event matching `pred`. */
export function nextEvent(store: Store, pred: (e: StoreEvent) => boolean, timeoutMs = 10_000): Promise<StoreEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('timed out waiting for a store event'));
    }, timeoutMs);
    const off = store.subscribe((e) => {
      if (pred(e)) {
        clearTimeout(timer);
        off();
        resolve(e);
      }
    });
  });
}

/** A promise with its resolve exposed, for handlers that must wait on the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/**
 * A worker on `queue` of `store` for jobs of task 't' whose payload names a key, polling once a
 * minute unless told otherwise (so a job starts promptly only through the store's wake-ups), and
 * `ran(key)`: resolves when the job of that key starts. Call `ran` before adding the job.
 */
export function keyedWorker(store: Store, queue: string, opts: { concurrency?: number; pollMs?: number } = {}): { worker: Worker; ran(key: string): Promise<void> } {
  const waiting = new Map<string, () => void>();
  const registry = new TaskRegistry().register('t', async (p: { key: string }) => waiting.get(p.key)?.());
  const worker = new Worker(store, registry, { queues: [queue], concurrency: opts.concurrency ?? 2, pollMs: opts.pollMs ?? 60_000 }).start();
  const ran = (key: string) => new Promise<void>((resolve) => waiting.set(key, resolve));
  return { worker, ran };
}

/** Stop a worker, then close stores, all within `ms`: over silent connections a close with no bound would hang. */
export function stopAndCloseWithin(worker: Worker, stores: Store[], ms: number): Promise<void> {
  return within((async () => {
    await worker.stop(1000);
    await Promise.all(stores.map((store) => store.close()));
  })(), ms, 'stop and close over silent connections');
}
