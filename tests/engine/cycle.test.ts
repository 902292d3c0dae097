// The worker's cycle on both stores: outcomes and the next claim in one store call (finishAndClaim),
// one or two batches in flight (pipeline), and the plain finish-then-claim path of a store without
// the combined call. Each must run every job once, within concurrency, in priority order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { Queue, resolveSpec } from '../../src/core/queue.js';
import { Worker } from '../../src/core/worker.js';
import { TaskRegistry } from '../../src/core/registry.js';
import type { Store } from '../../src/core/store.js';
import { tempDir } from '../helpers/tmp.js';
import { redisHarness, redisSkip } from '../helpers/redis.js';
import { pgHarness, pgSkip } from '../helpers/postgres.js';
import { deferred, until, within } from '../helpers/await.js';
import { interceptStore } from '../helpers/store-proxy.js';

const T0 = Date.now();
const redisSkipped = await redisSkip();
const pgSkipped = await pgSkip();

interface Made {
  store: Store;
  cleanup(): Promise<void>;
}
const stores: [string, () => Made | Promise<Made>, string | false][] = [
  ['sqlite', () => {
    const t = tempDir();
    const store = new SqliteStore(join(t.dir, 'c.db'));
    return { store, cleanup: async () => { await store.close(); t.remove(); } };
  }, false],
  ['redis', () => redisHarness(), redisSkipped],
  ['postgres', () => pgHarness(), pgSkipped],
];

// Hiding finishAndClaim makes the same real store look like one without it.
const withoutCombined = (s: Store): Store => interceptStore(s, (name, call) => (name === 'capabilities.finishAndClaim' ? undefined : call));

/** Counts the store calls a worker makes. */
function counted(store: Store, calls: { claim: number; finish: number; combined: number }): Store {
  const kinds: Record<string, keyof typeof calls> = { claimJobs: 'claim', finishJobs: 'finish', 'capabilities.finishAndClaim': 'combined' };
  return interceptStore(store, (name, call) => {
    const kind = kinds[name];
    if (kind === undefined) return call;
    return (...a: unknown[]) => {
      calls[kind]++;
      return call(...a);
    };
  });
}

for (const [storeName, make, skip] of stores) {
  describe(`worker cycle on ${storeName}`, { skip }, () => {
    const variants = [
      { name: 'with finishAndClaim', combined: true, pipeline: 1 },
      { name: 'with finishAndClaim, two batches in flight', combined: true, pipeline: 2 },
      { name: 'with finish and claim apart', combined: false, pipeline: 1 },
    ];
    for (const v of variants) {
      for (const concurrency of [1, 20]) {
        it(`${v.name}, concurrency ${concurrency}: runs every job once, never more than ${concurrency} at a time`, async () => {
          const m = await make();
          try {
            const store = v.combined ? m.store : withoutCombined(m.store);
            const N = 600;
            const registry = new TaskRegistry();
            let running = 0;
            let peak = 0;
            const runs = new Map<number, number>();
            const all = deferred();
            let done = 0;
            registry.register('t', async (p: { i: number }) => {
              running++;
              peak = Math.max(peak, running);
              runs.set(p.i, (runs.get(p.i) ?? 0) + 1);
              if (p.i % 7 === 0) await new Promise((r) => setImmediate(r));
              running--;
              if (++done === N) all.resolve();
            });
            const calls = { claim: 0, finish: 0, combined: 0 };
            await new Queue(store).enqueueMany(Array.from({ length: N }, (_, i) => ({ task: 't', queue: 'q', payload: { i } })));
            const worker = new Worker(counted(store, calls), registry, { queues: ['q'], concurrency, pipeline: v.pipeline }).start();
            try {
              await within(all.promise, 30_000, 'every job ran');
            } finally {
              await worker.stop();
            }
            assert.equal(runs.size, N);
            assert.ok([...runs.values()].every((n) => n === 1), 'a job ran twice');
            assert.ok(peak <= concurrency, `peak ${peak} above concurrency ${concurrency}`);
            assert.deepEqual((await m.store.countJobs({ queue: 'q' })).q, { scheduled: 0, queued: 0, active: 0, completed: N, failed: 0, cancelled: 0 });
            const cycles = calls.claim + calls.combined;
            // Batching: far fewer store calls than jobs once concurrency allows batches.
            if (concurrency > 1) assert.ok(cycles <= N / 5, `${cycles} claims for ${N} jobs`);
            if (v.combined) assert.ok(calls.combined > calls.claim, JSON.stringify(calls));
            else assert.equal(calls.combined, 0);
          } finally {
            await m.cleanup();
          }
        });
      }
    }

    for (const pipeline of [1, 2]) {
      it(`keeps strict priority order at concurrency 1 (pipeline ${pipeline}) and leaves nothing active`, async () => {
        const m = await make();
        try {
          const N = 300;
          const specs = Array.from({ length: N }, (_, i) => resolveSpec({ task: 't', queue: 'pf', id: `j${i}`, priority: i % 3 }, T0));
          await m.store.addJobs({ jobs: specs, now: T0 });
          const order: string[] = [];
          const all = deferred();
          const reg = new TaskRegistry().register('t', async (_p: unknown, ctx) => {
            order.push(ctx.job.id);
            if (order.length === N) all.resolve();
          });
          const w = new Worker(m.store, reg, { queues: ['pf'], concurrency: 1, pipeline }).start();
          try {
            await within(all.promise, 20_000, 'all jobs ran');
          } finally {
            await w.stop(1000);
          }
          const want = [...specs].sort((x, y) => y.priority - x.priority || Number(x.id.slice(1)) - Number(y.id.slice(1))).map((x) => x.id);
          assert.deepEqual(order, want);
          const c = (await m.store.countJobs({ queue: 'pf' })).pf!;
          assert.equal(c.completed, N);
          assert.equal(c.active, 0);
        } finally {
          await m.cleanup();
        }
      });
    }

    it('a stop while two batches are in flight stores every outcome and gives back what still runs', async () => {
      const m = await make();
      try {
        const N = 200;
        await new Queue(m.store).enqueueMany(Array.from({ length: N }, (_, i) => ({ task: 't', queue: 'q', payload: { i } })));
        let started = 0;
        const half = deferred();
        const reg = new TaskRegistry().register('t', async (p: { i: number }, ctx) => {
          if (++started === 60) half.resolve();
          // Every tenth job waits for the stop to give it back (fewer than the 20 slots).
          if (p.i % 10 === 0) await new Promise((_r, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason)));
        });
        const w = new Worker(m.store, reg, { queues: ['q'], concurrency: 20, pipeline: 2 }).start();
        try {
          await within(half.promise, 20_000, '60 jobs started');
        } finally {
          await w.stop(50);
        }
        const c = (await m.store.countJobs({ queue: 'q' })).q!;
        assert.equal(c.active, 0, 'nothing left active after stop');
        assert.equal(c.completed + c.queued, N);
        assert.ok(c.completed > 0 && c.queued > 0, JSON.stringify(c));
        const released = await m.store.listJobs({ queue: 'q', state: 'queued', limit: 1000 });
        for (const j of released.items) assert.equal(j.attempts, 0, 'a given-back attempt does not count');
      } finally {
        await m.cleanup();
      }
    });
  });
}

/**
 * finishAndClaim answered the way Redis answers: a call waits for the store's next turn (a turn
 * starts a millisecond after an idle store gets a call), a turn runs every call that came before it,
 * lasts `turnMs`, and answers them all together at its end. `served` gets each turn's call count.
 */
function turnBased(store: Store, turnMs: number, served: number[]): Store {
  type Call = { run: () => Promise<unknown>; resolve(v: unknown): void; reject(e: unknown): void };
  let waiting: Call[] = [];
  let busy = false;
  const turn = async () => {
    busy = true;
    const calls = waiting;
    waiting = [];
    served.push(calls.length);
    const answers: { ok: boolean; v: unknown }[] = [];
    for (const c of calls) answers.push(await c.run().then((v) => ({ ok: true, v }), (v: unknown) => ({ ok: false, v })));
    await new Promise((r) => setTimeout(r, turnMs));
    calls.forEach((c, i) => (answers[i]!.ok ? c.resolve(answers[i]!.v) : c.reject(answers[i]!.v)));
    busy = false;
    if (waiting.length) void turn();
  };
  return interceptStore(store, (name, call) => {
    if (name !== 'capabilities.finishAndClaim') return call;
    return (...a: unknown[]) => new Promise((resolve, reject) => {
      waiting.push({ run: () => call(...a) as Promise<unknown>, resolve, reject });
      if (!busy && waiting.length === 1) setTimeout(() => void (busy || turn()), 1);
    });
  });
}

describe('two flights in the air', () => {
  it('leave apart again after landing together, instead of sharing every store turn', async () => {
    // With answers that come back together, flights sent together land together and go out together
    // again, each waiting out the other's turn. From idle the worker sends the second half a round
    // trip after the first, and the flights alternate: most turns then serve one flight.
    const t = tempDir();
    const real = new SqliteStore(join(t.dir, 'f.db'));
    const served: number[] = [];
    const store = turnBased(real, 6, served);
    try {
      const N = 600;
      await new Queue(real).enqueueMany(Array.from({ length: N }, (_, i) => ({ task: 't', queue: 'q', payload: { i } })));
      const reg = new TaskRegistry().register('t', async () => {});
      const w = new Worker(store, reg, { queues: ['q'], concurrency: 20, pipeline: 2 }).start();
      try {
        await until(async () => (await real.countJobs({ queue: 'q' })).q!.completed === N, 30_000, 'every job completed');
      } finally {
        await w.stop(1000);
      }
      const later = served.slice(Math.floor(served.length / 2));
      const single = later.filter((n) => n === 1).length;
      assert.ok(single >= later.length * 0.7, `turns serving one flight: ${single} of ${later.length} (${served.join(',')})`);
      const c = (await real.countJobs({ queue: 'q' })).q!;
      assert.deepEqual([c.completed, c.active, c.queued], [N, 0, 0]);
    } finally {
      await real.close();
      t.remove();
    }
  });
});
