// What every contract area shares: the store under test, a second instance on the same data, and
// small job helpers. Each area (tests/contract/areas/) takes a StoreFactory and runs on any store.
import { beforeEach, afterEach } from 'node:test';
import type { Store } from '../../src/core/store.js';
import { resolveSpec } from '../../src/core/queue.js';
import type { JobSpec, NewJob } from '../../src/core/job.js';
import type { OpenStoreOptions } from '../../src/stores/index.js';

export interface StoreHarness {
  store: Store;
  /**
   * Where the store keeps its data, as openStore takes it (with `opening`): another instance opened
   * from it, in this process or a child one, works on the same jobs over its own connection.
   */
  url: string;
  opening?: OpenStoreOptions;
  cleanup(): Promise<void>;
}
export type StoreFactory = () => Promise<StoreHarness>;

export const T0 = Date.UTC(2026, 0, 1);
export const job = (spec: Partial<JobSpec> & { id?: string }, now = T0): NewJob =>
  resolveSpec({ task: 't', queue: 'q', ...spec }, now);

/** A fresh store for each test of the describe it is called in; `use` receives it. */
export function useStore(make: StoreFactory, use: (store: Store, harness: StoreHarness) => void): void {
  let h: StoreHarness;
  beforeEach(async () => {
    h = await make();
    use(h.store, h);
  });
  afterEach(async () => {
    await h.cleanup();
  });
}

export function claimer(store: () => Store) {
  return (limit = 10, queues = ['q'], now = T0, leaseMs = 30_000, workerId = 'w1') =>
    store().claimJobs({ queues, workerId, limit, leaseMs, now });
}

/** Events may cross a network (Redis): wait for them, bounded. */
export async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 5));
  }
}
