// fusion.queue.list's limit and fusion.queue.clean's olderThanMs from the library, on every store.
// The HTTP API's schemas check them; the library passed them on, and each store did its own thing
// with a NaN or a fraction: an SQL error naming a column "NaN", a Redis error, nothing removed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Fusion } from '../../src/fusion.js';
import { FusionError } from '../../src/core/errors.js';
import { LOOPBACK_ALLOWED } from '../helpers/engine.js';
import { storeKinds } from '../helpers/each-store.js';

const stores = await storeKinds();

const refusedFor = (field: string) => (err: unknown) => {
  assert.ok(err instanceof FusionError, String(err));
  assert.equal(err.code, 'invalid_request');
  assert.equal(err.details.field, field);
  return true;
};

for (const [name, make, skip] of stores) {
  describe(`queue reads and cleaning from the library (${name})`, { skip }, () => {
    it('refuses a limit that is not a whole number and an olderThanMs that is not a number; the rest works as before', async () => {
      const m = await make();
      const fusion = await Fusion.open({ store: m.store, config: LOOPBACK_ALLOWED, channels: false });
      try {
        const job = await fusion.enqueue({ task: 't', queue: 'q' });
        await fusion.queue.cancel(job.id);
        for (const limit of [Number.NaN, 2.5]) await assert.rejects(fusion.queue.list({ limit }), refusedFor('limit'), String(limit));
        for (const olderThanMs of [Number.NaN, undefined, Number.POSITIVE_INFINITY]) {
          await assert.rejects(fusion.queue.clean({ olderThanMs: olderThanMs as number }), refusedFor('olderThanMs'), String(olderThanMs));
        }
        // clean's own limit too (docs/library.md): SQLite failed with 'datatype mismatch'.
        for (const limit of [Number.NaN, 2.5]) await assert.rejects(fusion.queue.clean({ olderThanMs: 0, limit }), refusedFor('limit'), `clean ${limit}`);
        // Limits out of range are still clamped, as before.
        for (const limit of [0, -1, 1e9]) assert.equal((await fusion.queue.list({ limit })).items.length, 1, String(limit));
        assert.equal(await fusion.queue.clean({ olderThanMs: -1 }), 1);
        assert.equal(await fusion.queue.get(job.id), null);
      } finally {
        await fusion.close(100).catch(() => {});
        await m.cleanup();
      }
    });
  });
}
