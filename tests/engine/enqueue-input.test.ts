// What a library caller may pass to fusion.enqueue, on every store. The HTTP API's schema checks a
// job's fields before they reach the enqueue funnel; the library's callers reach it directly, and a
// value the stores treat differently (one keeps it, another refuses it with its own error, another
// turns it into something else) is refused there, as invalid_job naming the field.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Fusion } from '../../src/fusion.js';
import { FusionError } from '../../src/core/errors.js';
import type { JobSpec } from '../../src/core/job.js';
import type { Store } from '../../src/core/store.js';
import { LOOPBACK_ALLOWED, waitForState } from '../helpers/engine.js';
import { storeKinds } from '../helpers/each-store.js';

const stores = await storeKinds();

/** A Fusion on a fresh store of the kind, with task `t` on queue `q`; closed and removed after. */
async function withStore(make: () => Promise<{ store: Store; cleanup(): Promise<void> }>, body: (fusion: Fusion) => Promise<void>): Promise<void> {
  const m = await make();
  const fusion = await Fusion.open({ store: m.store, config: LOOPBACK_ALLOWED, channels: false });
  fusion.task('t', (p: unknown) => p, { queue: 'q' });
  try {
    await body(fusion);
  } finally {
    await fusion.close(100).catch(() => {});
    await m.cleanup();
  }
}

/** Each spec is refused as invalid_job naming `field`, and the store holds no job afterwards. */
async function refuses(fusion: Fusion, cases: [Partial<JobSpec>, string][]): Promise<void> {
  for (const [spec, field] of cases) {
    const what = `${field}: ${String(Object.values(spec)[0])}`;
    await assert.rejects(fusion.enqueue({ task: 't', ...spec }), (err: unknown) => {
      assert.ok(err instanceof FusionError, `${what}: ${String(err)}`);
      assert.equal(err.code, 'invalid_job', what);
      assert.equal(err.details.field, field, what);
      return true;
    }, what);
  }
  assert.equal((await fusion.queue.list({ queue: 'q' })).items.length, 0);
}

for (const [name, make, skip] of stores) {
  describe(`enqueue's fields from the library (${name})`, { skip }, () => {
    it('refuses a payload without a JSON form, in one add and in a batch (each store refused or kept it its own way)', async () => {
      await withStore(make, async (fusion) => {
        const cycle: Record<string, unknown> = {};
        cycle.self = cycle;
        await refuses(fusion, [
          [{ payload: { amount: 10n } }, 'payload'],
          [{ payload: cycle }, 'payload'],
          [{ payload: () => 1 }, 'payload'],
          [{ payload: Symbol('s') }, 'payload'],
          [{ payload: { toJSON() { throw new Error('no form'); } } }, 'payload'],
        ]);
        await assert.rejects(fusion.queue.enqueueMany([{ task: 't', payload: 1 }, { task: 't', payload: 2n }]), (err: unknown) =>
          err instanceof FusionError && err.code === 'invalid_job' && err.details.field === 'payload');
        assert.equal((await fusion.queue.list({ queue: 'q' })).items.length, 0);
        // What JSON leaves out or writes as null inside a payload goes in as JSON has it, as before.
        const job = await fusion.enqueue({ task: 't', payload: { a: undefined, f() {}, n: Number.NaN, d: new Date(0) } });
        assert.deepEqual((await fusion.queue.get(job.id))!.payload, { n: null, d: '1970-01-01T00:00:00.000Z' });
      });
    });

    it('refuses text fields that are not text, a lone surrogate in a task name, and callbacks the API would refuse', async () => {
      await withStore(make, async (fusion) => {
        await refuses(fusion, [
          [{ description: 42 as never }, 'description'],
          [{ description: { a: 1 } as never }, 'description'],
          [{ scheduleId: 5 as never }, 'scheduleId'],
          [{ task: 't\ud800' }, 'task'],
          [{ callbacks: 'https://example.com/done' as never }, 'callbacks'],
          [{ callbacks: { onSuccess: 'not a url' } }, 'callbacks.onSuccess'],
          [{ callbacks: { onFailure: 5 as never } }, 'callbacks.onFailure'],
          [{ callbacks: { onSuccess: `https://example.com/${'x'.repeat(2048)}` } }, 'callbacks.onSuccess'],
          [{ callbacks: { onSuccess: 'https://example.com/done', format: 'xml' as never } }, 'callbacks.format'],
        ]);
        // What the API takes still goes in as given.
        const callbacks = { onSuccess: 'https://example.com/done', onFailure: 'http://127.0.0.1:9/failed', format: 'form' } as const;
        const job = await fusion.enqueue({ task: 't', description: 'd', callbacks, scheduleId: undefined });
        const stored = (await fusion.queue.get(job.id))!;
        assert.equal(stored.description, 'd');
        assert.deepEqual(stored.callbacks, callbacks);
      });
    });

    it('refuses numbers past what every store keeps (PostgreSQL refused them with its own error, the others kept them)', async () => {
      await withStore(make, async (fusion) => {
        await refuses(fusion, [
          [{ priority: 2 ** 31 }, 'priority'],
          [{ priority: -(2 ** 31) - 1 }, 'priority'],
          [{ priority: 1e20 }, 'priority'],
          [{ maxAttempts: 2 ** 31 }, 'maxAttempts'],
          [{ maxStalls: 2 ** 31 }, 'maxStalls'],
          [{ timeout: 2 ** 53 }, 'timeout'],
        ]);
        // The widest values every store keeps still go in, and run.
        const job = await fusion.enqueue({ task: 't', payload: 1, priority: 2 ** 31 - 1, maxAttempts: 2 ** 31 - 1, maxStalls: 2 ** 31 - 1, timeout: 2 ** 40 });
        const low = await fusion.enqueue({ task: 't', payload: 2, priority: -(2 ** 31) });
        fusion.worker({ queues: ['q'] });
        const done = await waitForState(fusion.store, job.id, 'completed');
        assert.equal(done.priority, 2 ** 31 - 1);
        assert.equal(done.maxAttempts, 2 ** 31 - 1);
        assert.equal(done.timeout, 2 ** 40);
        assert.equal((await waitForState(fusion.store, low.id, 'completed')).priority, -(2 ** 31));
      });
    });
  });
}
