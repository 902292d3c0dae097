import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FusionError } from '../../src/core/errors.js';
import type { QueueOptions } from '../../src/core/store.js';
import { withFusion } from '../helpers/engine.js';

// The HTTP API checks a queue's limits against its schema; the library took anything, and the store
// kept it: a concurrency of NaN (a Number() of an unset variable) lifted the limit silently, 2.5
// failed every claim of the queue on SQLite (and let 3 run on Redis), a rate limit without its
// windowMs failed every claim on Redis and counted nothing on SQLite, a windowMs of 0 limited nothing.
describe('queue limits from the library', () => {
  const bad: [QueueOptions, string][] = [
    [{ concurrency: Number.NaN }, 'concurrency'],
    [{ concurrency: 2.5 }, 'concurrency'],
    [{ concurrency: 0 }, 'concurrency'],
    [{ concurrency: -1 }, 'concurrency'],
    [{ rateLimit: { max: 2 } as QueueOptions['rateLimit'] }, 'rateLimit.windowMs'],
    [{ rateLimit: { max: 5, windowMs: 0 } }, 'rateLimit.windowMs'],
    [{ rateLimit: { max: Number.NaN, windowMs: 1000 } }, 'rateLimit.max'],
    [{ rateLimit: { max: 0, windowMs: 1000 } }, 'rateLimit.max'],
    [{ rateLimit: { max: 3, windowMs: 1.5 } }, 'rateLimit.windowMs'],
  ];

  it('refuses limits that are not whole numbers from 1, naming the field, and keeps the ones set', async () => {
    await withFusion(async ({ fusion }) => {
      await fusion.queue.setQueueOptions('q', { concurrency: 4, rateLimit: { max: 10, windowMs: 1000 } });
      for (const [options, field] of bad) {
        await assert.rejects(fusion.queue.setQueueOptions('q', options), (err: unknown) => {
          assert.ok(err instanceof FusionError, `${JSON.stringify(options)}: ${String(err)}`);
          assert.equal(err.code, 'invalid_request');
          assert.equal(err.details.field, field, JSON.stringify(options));
          return true;
        });
      }
      const q = (await fusion.queue.queues()).find((x) => x.name === 'q')!;
      assert.equal(q.concurrency, 4);
      assert.deepEqual(q.rateLimit, { max: 10, windowMs: 1000 });
    });
  });

  it('takes whole numbers and null (which clears a limit)', async () => {
    await withFusion(async ({ fusion }) => {
      await fusion.queue.setQueueOptions('q', { concurrency: 1, rateLimit: { max: 1, windowMs: 1 } });
      await fusion.queue.setQueueOptions('q', { concurrency: null, rateLimit: null });
      const q = (await fusion.queue.queues()).find((x) => x.name === 'q')!;
      assert.equal(q.concurrency, null);
      assert.equal(q.rateLimit, null);
    });
  });
});
