// A worker that stops while a claim is in the air: the jobs that claim leased reach the worker after
// the stop began. They go back to their queue unrun (no attempt counted), and stop() resolves only
// once they have: nothing is left active to wait out its lease. Both ways a claim travels: a claim
// of the worker's own, and one riding on a batch of outcomes (finishAndClaim).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Worker } from '../../src/core/worker.js';
import { Queue } from '../../src/core/queue.js';
import { TaskRegistry } from '../../src/core/registry.js';
import type { Store } from '../../src/core/store.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { interceptStore } from '../helpers/store-proxy.js';
import { tempDir } from '../helpers/tmp.js';
import { deferred, within } from '../helpers/await.js';

type Call = (...args: unknown[]) => Promise<unknown>;

/** A SQLite store whose calls named `gated` wait at a gate once `armed` says so; `held` resolves when one waits. */
function gatedStore(gated: string) {
  const t = tempDir();
  const real = new SqliteStore(join(t.dir, 'fusion.db'));
  const gate = deferred();
  const held = deferred();
  const state = { armed: false };
  const store: Store = interceptStore(real, (name, call) => name !== gated ? undefined : (async (...args: unknown[]) => {
    if (state.armed) {
      state.armed = false;
      held.resolve();
      await gate.promise;
    }
    return (call as Call)(...args);
  }) as never);
  return { store, real, gate, held, state, async cleanup() { await real.close(); t.remove(); } };
}

async function settledState(real: SqliteStore, ids: string[]) {
  return Promise.all(ids.map(async (id) => {
    const j = (await real.getJob({ id }))!;
    return { state: j.state, attempts: j.attempts };
  }));
}

describe('a worker stopping while a claim is in the air', () => {
  it('gives back what its own claim brings after the stop, unrun, before stop() resolves', async () => {
    const g = gatedStore('claimJobs');
    try {
      const ids = (await new Queue(g.real).enqueueMany(Array.from({ length: 4 }, (_, i) => ({ task: 't', queue: 'q', payload: i })))).map((r) => r.job.id);
      let ran = 0;
      const reg = new TaskRegistry().register('t', () => void ran++);
      g.state.armed = true;
      const w = new Worker(g.store, reg, { queues: ['q'], concurrency: 4 }).start();
      await within(g.held.promise, 5000, 'the first claim is in the air');
      let stopped = false;
      const stopping = w.stop(1000).then(() => (stopped = true));
      await new Promise((r) => setImmediate(r));
      assert.equal(stopped, false, 'stop waits for the claim in the air');
      g.gate.resolve();
      await within(stopping, 5000, 'stop resolves once the claim has answered');
      assert.equal(ran, 0, 'no job started after the stop');
      assert.deepEqual(await settledState(g.real, ids), ids.map(() => ({ state: 'queued', attempts: 0 })));
    } finally {
      g.gate.resolve();
      await g.cleanup();
    }
  });

  it('gives back what a claim riding on an outcome batch brings after the stop', async () => {
    const g = gatedStore('capabilities.finishAndClaim');
    try {
      const ids = (await new Queue(g.real).enqueueMany(Array.from({ length: 5 }, (_, i) => ({ task: 't', queue: 'q', payload: i })))).map((r) => r.job.id);
      const ran: number[] = [];
      const reg = new TaskRegistry().register('t', (p: number) => void ran.push(p));
      // One slot and one job per claim: the first job's outcome goes out with a claim for the next.
      g.state.armed = true;
      const w = new Worker(g.store, reg, { queues: ['q'], concurrency: 1, batchSize: 1, prefetch: 0 }).start();
      await within(g.held.promise, 5000, 'the first outcome batch (with its claim) is in the air');
      const stopping = w.stop(1000);
      g.gate.resolve();
      await within(stopping, 5000, 'stop resolves');
      assert.deepEqual(ran, [0], 'only the job that ran before the stop');
      const after = await settledState(g.real, ids);
      assert.deepEqual(after[0], { state: 'completed', attempts: 1 });
      assert.deepEqual(after.slice(1), ids.slice(1).map(() => ({ state: 'queued', attempts: 0 })), 'the rest wait in the queue, no attempt counted');
    } finally {
      g.gate.resolve();
      await g.cleanup();
    }
  });

  it('does not wait past its grace for a claim that never answers (a store gone quiet), and aborts what runs', async () => {
    const g = gatedStore('claimJobs');
    try {
      const [id] = (await new Queue(g.real).enqueueMany([{ task: 'long', queue: 'q' }])).map((r) => r.job.id);
      const started = deferred();
      let aborted = false;
      const reg = new TaskRegistry().register('long', (_p: unknown, ctx) => new Promise<void>((_r, reject) => {
        started.resolve();
        ctx.signal.addEventListener('abort', () => {
          aborted = true;
          reject(ctx.signal.reason);
        });
      }));
      // Two slots, one job: the first claim brings it; the next claim, for the free slot, never answers.
      const w = new Worker(g.store, reg, { queues: ['q'], concurrency: 2, pollMs: 50 }).start();
      await within(started.promise, 5000, 'the job runs');
      g.state.armed = true;
      await within(g.held.promise, 5000, 'the next claim is in the air');
      await within(w.stop(100), 3000, 'stop resolves within its grace and the abort, the claim still unanswered');
      assert.equal(aborted, true, 'the running job was aborted at the end of the grace');
      assert.deepEqual(await settledState(g.real, [id!]), [{ state: 'queued', attempts: 0 }], 'given back, the attempt uncounted');
    } finally {
      g.gate.resolve();
      await g.cleanup();
    }
  });
});
