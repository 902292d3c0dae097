// Jobs across rolling deploys, on every store: workers of two versions share a queue, and a job
// whose task only the new code knows may be claimed by an old worker.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resolveSpec } from '../../src/core/queue.js';
import { Worker } from '../../src/core/worker.js';
import { TaskRegistry } from '../../src/core/registry.js';
import type { Store } from '../../src/core/store.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { redisHarness, redisSkip, openTestStore, dropPrefix } from '../helpers/redis.js';
import { pgHarness, pgSkip } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { waitForState } from '../helpers/engine.js';

const redisSkipped = await redisSkip();
const pgSkipped = await pgSkip();

export interface Shared {
  store: Store;
  /** A second connection to the same data, as another process (the API server, an operator's terminal) opens it. */
  other(): Promise<Store>;
  cleanup(): Promise<void>;
}

export const sharedStores: [string, () => Promise<Shared>, string | false][] = [
  ['sqlite', async () => {
    const t = tempDir();
    const file = join(t.dir, 'fusion.db');
    const store = new SqliteStore(file);
    const others: Store[] = [];
    return {
      store,
      other: async () => (others[others.length] = new SqliteStore(file)),
      async cleanup() {
        for (const o of others) await o.close();
        await store.close();
        t.remove();
      },
    };
  }, false],
  ['redis', async () => {
    const h = await redisHarness();
    const others: Store[] = [];
    return {
      store: h.store,
      other: async () => (others[others.length] = openTestStore(undefined, h.store.prefix)),
      async cleanup() {
        for (const o of others) await o.close();
        await dropPrefix(h.store.client, h.store.prefix);
        await h.store.close();
      },
    };
  }, redisSkipped],
  ['postgres', async () => {
    const h = await pgHarness();
    const others: Store[] = [];
    return {
      store: h.store,
      other: async () => (others[others.length] = await PostgresStore.open(h.url)),
      async cleanup() {
        for (const o of others) await o.close();
        await h.cleanup();
      },
    };
  }, pgSkipped],
];

for (const [storeName, make, skip] of sharedStores) {
  describe(`a rolling deploy on ${storeName}`, { skip }, () => {
    it('a job an old worker cannot run is retried with backoff, and a new worker runs it', async () => {
      const s = await make();
      try {
        const now = Date.now();
        await s.store.addJobs({ jobs: [resolveSpec({ task: 'new-task', queue: 'rq', id: 'x1', backoff: { type: 'fixed', delay: 300 } }, now)], now });
        // The old version knows other tasks only.
        const old = new Worker(s.store, new TaskRegistry().register('old-task', () => {}), { queues: ['rq'], concurrency: 2 }).start();
        let after;
        try {
          after = await waitForState(s.store, 'x1', ['scheduled', 'failed', 'completed']);
        } finally {
          await old.stop(1000);
        }
        assert.equal(after.state, 'scheduled', `the old worker's try is retried, not the end of the job (${after.error?.message})`);
        assert.equal(after.attempts, 1);
        assert.equal(after.error?.code, 'unknown_task');
        assert.match(after.error!.message, /no handler is registered for task "new-task"/);
        assert.equal(after.history.at(-1)?.outcome, 'retrying');
        // The new version takes over.
        const ran: string[] = [];
        const fresh = new Worker(s.store, new TaskRegistry().register('new-task', (_p, ctx) => void ran.push(ctx.job.id)), { queues: ['rq'] }).start();
        try {
          const done = await waitForState(s.store, 'x1', ['completed', 'failed']);
          assert.equal(done.state, 'completed');
          assert.deepEqual(ran, ['x1']);
        } finally {
          await fresh.stop(1000);
        }
      } finally {
        await s.cleanup();
      }
    });

    it('a task no worker knows still ends failed once its attempts are spent', async () => {
      const s = await make();
      try {
        const now = Date.now();
        await s.store.addJobs({ jobs: [resolveSpec({ task: 'nobody', queue: 'rq', id: 'n1', maxAttempts: 3, backoff: { type: 'fixed', delay: 10 } }, now)], now });
        const w = new Worker(s.store, new TaskRegistry().register('old-task', () => {}), { queues: ['rq'] }).start();
        try {
          const f = await waitForState(s.store, 'n1', ['failed', 'completed']);
          assert.equal(f.state, 'failed');
          assert.equal(f.attempts, 3, 'every attempt counted');
          assert.deepEqual(f.history.map((h) => h.outcome), ['retrying', 'retrying', 'failed']);
          assert.equal(f.error?.code, 'unknown_task');
        } finally {
          await w.stop(1000);
        }
      } finally {
        await s.cleanup();
      }
    });
  });
}
