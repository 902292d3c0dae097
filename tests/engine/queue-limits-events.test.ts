// A change of a queue's limits, on every store: the event stream (fusion.events(), GET /v1/events)
// shows it as queue.limits-changed, never as a resume (it used to show queue.resumed, even on a
// paused queue that stayed paused), and a worker on another connection still wakes for it at once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Fusion } from '../../src/fusion.js';
import type { HubEvent } from '../../src/core/events.js';
import { Worker } from '../../src/core/worker.js';
import { resolveSpec } from '../../src/core/queue.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { openStore } from '../../src/stores/index.js';
import { LOOPBACK_ALLOWED } from '../helpers/engine.js';
import { deferred, within } from '../helpers/await.js';
import { storeKinds } from '../helpers/each-store.js';

const stores = await storeKinds();

/** The hub's events up to and including the first that `last` picks. */
async function eventsUntil(sub: { take(): Promise<HubEvent[] | null> }, last: (e: HubEvent) => boolean): Promise<HubEvent[]> {
  const out: HubEvent[] = [];
  for (;;) {
    const batch = await within(sub.take(), 10_000, 'the events');
    if (batch === null) return out;
    for (const e of batch) {
      out.push(e);
      if (last(e)) return out;
    }
  }
}

for (const [name, make, skip] of stores) {
  describe(`a queue's limits changed (${name})`, { skip }, () => {
    it('the event stream shows the change, and no resume, on a paused queue and on one never paused', async () => {
      const m = await make();
      const fusion = await Fusion.open({ store: m.store, config: LOOPBACK_ALLOWED });
      try {
        const sub = fusion.events({ types: ['queue', 'job.queued'] });
        try {
          await fusion.queue.pause('held');
          await fusion.queue.setQueueOptions('held', { concurrency: 2 });
          await fusion.queue.setQueueOptions('open', { rateLimit: { max: 5, windowMs: 1000 } });
          // Added last: its event closes the look.
          const last = await fusion.enqueue({ task: 't', queue: 'open' });
          const seen = await eventsUntil(sub, (e) => e.jobId === last.id);
          assert.deepEqual(seen.filter((e) => e.type.startsWith('queue.')).map((e) => [e.type, e.queue]), [
            ['queue.paused', 'held'], ['queue.limits-changed', 'held'], ['queue.limits-changed', 'open'],
          ]);
        } finally {
          sub.close();
        }
        const held = (await fusion.queue.queues()).find((q) => q.name === 'held')!;
        assert.equal(held.paused, true);
        assert.equal(held.concurrency, 2);
      } finally {
        await fusion.close(100);
        await m.cleanup();
      }
    });

    it('a worker on another connection starts a job the moment the limit that held it is raised', async () => {
      const m = await make();
      const admin = await openStore(m.url, m.opening);
      let worker: Worker | null = null;
      const gate = deferred();
      try {
        const now = Date.now();
        await admin.setQueueOptions({ queue: 'lq', options: { concurrency: 1 }, now });
        await admin.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'lq', id: 'first', priority: 10 }, now), resolveSpec({ task: 't', queue: 'lq', id: 'second' }, now)], now });
        const started: Record<string, { promise: Promise<void>; resolve(): void }> = { first: deferred(), second: deferred() };
        const reg = new TaskRegistry().register('t', async (_p: unknown, ctx) => {
          started[ctx.job.id]!.resolve();
          if (ctx.job.id === 'first') await gate.promise;
        });
        await (m.store as { listening?(): Promise<void> }).listening?.();
        // Room for both, but the queue lets one run; its poll comes a minute later.
        worker = new Worker(m.store, reg, { queues: ['lq'], concurrency: 2, pollMs: 60_000 }).start();
        await within(started.first!.promise, 10_000, 'the first job started');
        await admin.setQueueOptions({ queue: 'lq', options: { concurrency: 2 }, now: Date.now() });
        await within(started.second!.promise, 5000, 'the second job started once the limit was raised, with the first still running');
      } finally {
        gate.resolve();
        await worker?.stop(1000);
        await admin.close();
        await m.store.close();
        await m.cleanup();
      }
    });
  });
}
