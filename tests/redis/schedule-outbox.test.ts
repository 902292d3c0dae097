// A schedule's runs go to its queues through the global outbox (src/stores/redis/schedules.ts). A
// schedule removed and created again under the same id starts at version 1 again: a run of each
// incarnation at that version keeps its own outbox entry, so the sweep delivers both when the
// processes that wrote them died before delivering.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import type { Outbox } from '../../src/stores/redis/outbox.js';
import { RedisKeys } from '../../src/stores/redis/keys.js';
import { dropPrefix, openTestStore, redisSkip, testPrefix } from '../helpers/redis.js';

const skip = await redisSkip();
const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

describe('Redis schedule outbox', { skip }, () => {
  it('keeps the undelivered runs of a removed schedule and of the one created again under its id apart', async () => {
    const prefix = testPrefix();
    const store = openTestStore(undefined, prefix);
    try {
      // Each run's delivery is left undone, as by a process that died right after the advance.
      const outbox = (store as unknown as { schedules: { outbox: Outbox } }).schedules.outbox;
      outbox.afterWrite = async () => undefined;
      const outboxKey = new RedisKeys(prefix, false).scheduleOutbox;
      const run = (createdAt: number, jobId: string, now: number) => store.advanceSchedule({
        id: 'x', expectedVersion: 1, expectedCreatedAt: createdAt, next: { nextRunAt: now + HOUR, runCount: 1, lastRunAt: now },
        jobs: [resolveSpec({ id: jobId, task: 't', queue: 'q', scheduleId: 'x' }, now)], now,
      });

      const old = await store.saveSchedule({ schedule: { id: 'x', spec: { old: true }, nextRunAt: T0 + HOUR, paused: false }, now: T0, expectedVersion: 0 });
      assert.equal(await run(old.createdAt, 'x@01:00', T0 + HOUR), true);
      await store.removeSchedule({ id: 'x' });
      const again = await store.saveSchedule({
        schedule: { id: 'x', spec: { again: true }, nextRunAt: T0 + 2 * HOUR, paused: false }, now: T0 + HOUR + 1, expectedVersion: 0,
      });
      assert.equal(again.version, 1);
      assert.equal(await run(again.createdAt, 'x@02:00', T0 + 2 * HOUR), true);
      assert.equal(await store.client.hlen(outboxKey), 2, 'one entry for each run');

      // The sweep delivers both, each once.
      delete (outbox as { afterWrite?: unknown }).afterWrite;
      await store.recoverExpiredJobs({ now: T0 + 2 * HOUR });
      assert.equal(await store.client.hlen(outboxKey), 0);
      for (const id of ['x@01:00', 'x@02:00']) assert.equal((await store.getJob({ id }))?.scheduleId, 'x', id);
    } finally {
      await dropPrefix(store.client, prefix);
      await store.close();
    }
  });
});
