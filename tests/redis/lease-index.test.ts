// The lease index (T:k) keeps an anchor member so Redis stores it as a skiplist (see ANCHOR in
// scripts.ts). Nothing a caller sees may count or list it: active counts, active lists, the
// queue concurrency limit and stall recovery read the index as if it held only leased jobs.
// The id index likewise holds one long field, so it is a hash table (IDX_ANCHOR in store.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import { redisHarness, redisSkip } from '../helpers/redis.js';

const skip = await redisSkip();

describe('Redis lease index', { skip }, () => {
  it('stays a skiplist whose anchor no count, list, limit or recovery sees', async () => {
    const { store, cleanup } = await redisHarness();
    const now = Date.now();
    const leaseKey = `{${store.prefix}:q}:k`;
    const claim = (limit: number, at = now) => store.claimJobs({ queues: ['q'], workerId: 'w', limit, leaseMs: 1000, now: at });
    try {
      await store.addJobs({ jobs: Array.from({ length: 5 }, (_, i) => resolveSpec({ task: 't', queue: 'q', id: `j${i}` }, now)), now });
      await store.setQueueOptions({ queue: 'q', options: { concurrency: 3 }, now });
      const first = (await claim(10)).jobs;
      assert.equal(first.length, 3, 'the queue limit of 3 counts leased jobs only');
      assert.equal(await store.client.object('ENCODING', leaseKey), 'skiplist');
      assert.equal((await store.countJobs({ queue: 'q' })).q!.active, 3);
      const active = await store.listJobs({ queue: 'q', state: 'active' });
      assert.deepEqual(active.items.map((j) => j.id).sort(), ['j0', 'j1', 'j2']);

      await store.finishJobs({ outcomes: first.map((j) => ({ kind: 'completed' as const, id: j.id, token: j.leaseToken!, at: now + 1, result: null })) });
      assert.equal((await store.countJobs({ queue: 'q' })).q!.active, 0);
      assert.deepEqual((await store.listJobs({ queue: 'q', state: 'active' })).items, []);
      assert.equal(await store.client.object('ENCODING', leaseKey), 'skiplist', 'emptied of jobs, still a skiplist');

      // The next claim fills the limit again; its leases expire and recovery returns exactly them.
      const second = (await claim(10, now + 2)).jobs;
      assert.deepEqual(second.map((j) => j.id).sort(), ['j3', 'j4']);
      const rec = await store.recoverExpiredJobs({ now: now + 5000 });
      assert.deepEqual([...rec.requeued].sort(), ['j3', 'j4']);
      assert.equal((await store.countJobs({ queue: 'q' })).q!.active, 0);
      assert.equal((await store.countJobs({ queue: 'q' })).q!.queued, 2);
    } finally {
      await cleanup();
    }
  });
  it('keeps the id index a hash table from its first job, and finds ids through it', async () => {
    const { store, cleanup } = await redisHarness();
    const now = Date.now();
    try {
      await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', id: 'only' }, now)], now });
      assert.equal(await store.client.object('ENCODING', `{${store.prefix}}:ids`), 'hashtable');
      assert.equal((await store.getJob({ id: 'only' }))!.queue, 'q');
      const again = await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', id: 'only' }, now)], now });
      assert.equal(again[0]!.created, false);
    } finally {
      await cleanup();
    }
  });
});
