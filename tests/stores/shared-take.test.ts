// SharedState.take's look (maxWaitMs -1) on every store: it answers how far the next free slot is
// and books nothing. The delivery pipeline's line of snoozed messages (channels/delivery.ts) reads
// it to send a message new to a provider to the back of that line.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { SharedState } from '../../src/core/store.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';
import { redisHarness, redisSkip } from '../helpers/redis.js';
import { pgHarness, pgSkip } from '../helpers/postgres.js';

const skipRedis = await redisSkip();
const skipPg = await pgSkip();
const T = 1_000_000;

async function lookBooksNothing(shared: SharedState): Promise<void> {
  assert.equal(await shared.take('look', 4, -1, T), 0, 'no slot taken yet: free now');
  assert.equal(await shared.take('look', 4, -1, T), 0, 'and the look took none');
  assert.equal(await shared.take('look', 4, 10_000, T), 0);
  assert.equal(await shared.take('look', 4, 10_000, T), 250);
  assert.equal(await shared.take('look', 4, -1, T), -500, 'the next free slot is 500 ms away');
  assert.equal(await shared.take('look', 4, -1, T + 100), -400);
  assert.equal(await shared.take('look', 4, 10_000, T), 500, 'the looks booked nothing');
  assert.equal(await shared.take('look', 4, -1, T + 5_000), 0, 'long past: free now');
}

describe('SharedState.take with maxWaitMs -1 only looks', () => {
  it('SQLite', async () => {
    const t = tempDir();
    const store = new SqliteStore(join(t.dir, 'f.db'));
    try {
      await lookBooksNothing(store.shared!);
    } finally {
      await store.close();
      t.remove();
    }
  });

  it('Redis', { skip: skipRedis }, async () => {
    const h = await redisHarness();
    try {
      await lookBooksNothing(h.store.shared!);
    } finally {
      await h.cleanup();
    }
  });

  it('PostgreSQL', { skip: skipPg }, async () => {
    const h = await pgHarness();
    try {
      await lookBooksNothing(h.store.shared!);
    } finally {
      await h.cleanup();
    }
  });
});
