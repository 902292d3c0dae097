// Test helpers for the engine: a fresh SQLite-backed Fusion, and waits driven by store events.
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import type { Clock } from '../../src/core/clock.js';
import type { Job, JobState } from '../../src/core/job.js';
import type { Store, StoreEvent } from '../../src/core/store.js';
import type { FusionConfig } from '../../src/channels/config-types.js';
import { tempDir } from './tmp.js';

/**
 * Tests play the outside world on loopback (callback receivers, providers), which the outgoing guard
 * refuses by default: the test Fusions allow it explicitly.
 */
export const LOOPBACK_ALLOWED: FusionConfig = { outgoing: { allow: ['127.0.0.1/32'] } };

export async function sqliteFusion(clock?: Clock, config: FusionConfig = LOOPBACK_ALLOWED): Promise<{ fusion: Fusion; store: SqliteStore; cleanup(): Promise<void> }> {
  const t = tempDir();
  const store = new SqliteStore(join(t.dir, 'fusion.db'));
  const fusion = await Fusion.open({ store, clock, config });
  return {
    fusion,
    store,
    async cleanup() {
      await fusion.close(100);
      t.remove();
    },
  };
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
