// The Redis layout across versions: a queue whose last seq was stored zero-padded (before adds took
// seqs with HINCRBY) goes on after it, in order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import { RedisKeys } from '../../src/stores/redis/keys.js';
import { redisHarness, redisSkip } from '../helpers/redis.js';
import type { RedisStore } from '../../src/stores/redis/store.js';

const skip = await redisSkip();

async function withStore(fn: (store: RedisStore, keys: RedisKeys, now: number) => Promise<void>) {
  const { store, cleanup } = await redisHarness();
  try {
    await fn(store, new RedisKeys(store.prefix, store.cluster), Date.now());
  } finally {
    await cleanup();
  }
}

describe('Redis stored layout', { skip }, () => {
  it('goes on from a seq stored zero-padded: later jobs list first and the seq is stored plain', () => withStore(async (store, keys, now) => {
    await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', id: 'first' }, now)], now });
    // Ahead of the clock (another client's clock ran fast): the next seq must still come after it.
    const legacy = now * 1000 + 5_000_000;
    const metaKey = `${keys.queueKeyBase('q')}:m`;
    await store.client.hset(metaKey, 'seq', String(legacy).padStart(17, '0'));
    await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', id: 'lone' }, now)], now });
    await store.addJobs({ jobs: ['x', 'y'].map((id) => resolveSpec({ task: 't', queue: 'q', id }, now)), now });
    assert.equal(await store.client.hget(metaKey, 'seq'), String(legacy + 3));
    assert.deepEqual(await Promise.all(['lone', 'x', 'y'].map((id) => store.client.zscore(keys.allJobs('q'), id))),
      [String(legacy + 1), String(legacy + 2), String(legacy + 3)]);
    assert.deepEqual((await store.listJobs({ queue: 'q' })).items.map((j) => j.id), ['y', 'x', 'lone', 'first']);
    const claimed = (await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 4, leaseMs: 60_000, now })).jobs;
    assert.deepEqual(claimed.map((j) => j.id), ['first', 'lone', 'x', 'y']);
  }));
});
