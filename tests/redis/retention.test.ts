// Memory: retention removes finished jobs in bounded slices and leaves no key behind; events go
// through pub/sub, so no stream grows with traffic.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Maintenance } from '../../src/core/maintenance.js';
import { resolveSpec } from '../../src/core/queue.js';
import { ManualClock } from '../../src/core/clock.js';
import { dropPrefix, openTestStore, redisSkip } from '../helpers/redis.js';

const skip = await redisSkip();

async function keysOf(store: ReturnType<typeof openTestStore>): Promise<string[]> {
  const out: string[] = [];
  for (const match of [`{${store.prefix}:*`, `{${store.prefix}}*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await store.client.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
  }
  return out.sort();
}

describe('Redis retention and memory', { skip }, () => {
  it('cleans finished jobs in bounded slices, leaving no job key, log or index entry behind', async () => {
    const store = openTestStore();
    const clock = new ManualClock();
    const T0 = clock.now();
    try {
      const N = 2500;
      const jobs = Array.from({ length: N }, (_, i) => resolveSpec({ task: 't', queue: 'ret', id: `r${i}` }, T0));
      await store.addJobs({ jobs, now: T0 });
      await store.logJob({ id: 'r0', message: 'a log line', now: T0 });
      const claimed = (await store.claimJobs({ queues: ['ret'], workerId: 'w', limit: N, leaseMs: 60_000, now: T0 })).jobs;
      assert.equal(claimed.length, N);
      await store.finishJobs({ outcomes: claimed.map((j, i) => i % 5 === 0
        ? { kind: 'failed' as const, id: j.id, token: j.leaseToken!, at: T0 + 1, error: { message: 'x', retryable: false } }
        : { kind: 'completed' as const, id: j.id, token: j.leaseToken!, at: T0 + 1, result: { i } }) });
      assert.equal((await keysOf(store)).filter((k) => k.includes(':j:')).length, N);

      // A single call never removes more than its limit.
      assert.equal(await store.cleanJobs({ endedBefore: T0 + 2, states: ['completed'], limit: 700 }), 700);
      assert.equal((await store.countJobs({ queue: 'ret' })).ret!.completed, 2000 - 700);

      clock.set(T0 + 10 * 24 * 3600_000);
      const m = new Maintenance(store, { clock, batch: 400 });
      const pass = await m.runOnce();
      assert.equal(pass.removed, N - 700);
      const left = await keysOf(store);
      assert.deepEqual(left.filter((k) => k.includes(':j:') || k.includes(':l:')), [], 'no job hash or log list left');
      // Only the anchor that keeps the index a hash table stays (IDX_ANCHOR in the store).
      const idxFields = await store.client.hkeysBuffer(`{${store.prefix}}:ids`);
      assert.deepEqual(idxFields.map((f) => f[0]), [255], 'id index emptied');
      assert.deepEqual(await store.countJobs({ queue: 'ret' }), { ret: { scheduled: 0, queued: 0, active: 0, completed: 0, failed: 0, cancelled: 0 } });
      assert.ok(left.every((k) => !/stream|events/.test(k)), `no event stream key: ${left.join(', ')}`);
      assert.ok(left.length <= 5, `only queue metadata (and the prefix's format mark) remains: ${left.join(', ')}`);
    } finally {
      await dropPrefix(store.client, store.prefix);
      await store.close();
    }
  });
});
