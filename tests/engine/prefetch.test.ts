// Claiming ahead (WorkerOptions.prefetch): a worker leases a few jobs beyond its handler slots,
// each waiting in the worker for a slot, highest priority first. A waiting job never runs beside
// `concurrency` others, a cancel ends it unrun, and a stopping worker gives it back at once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import { Worker } from '../../src/core/worker.js';
import { TaskRegistry } from '../../src/core/registry.js';
import type { Store } from '../../src/core/store.js';
import { Redis } from 'ioredis';
import { REDIS_URL, redisHarness, redisSkip, openTestStore } from '../helpers/redis.js';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { pgHarness, pgSkip } from '../helpers/postgres.js';
import { deferred, until, within } from '../helpers/await.js';
import { interceptStore } from '../helpers/store-proxy.js';

const redisSkipped = await redisSkip();
const pgSkipped = await pgSkip();

interface Made {
  store: Store;
  /** A second connection to the same data, as another process (the API server, the dashboard) opens it. */
  other(): Promise<Store>;
  cleanup(): Promise<void>;
}
/**
 * How late the store answers a batch of outcomes. A worker claims ahead only while its handlers end
 * quicker than that round trip (executor.room: prefetch x handler time <= concurrency x rtt), and
 * stops claiming ahead while one blocks. On a loaded machine a no-op handler once measured slower
 * than a loopback round trip (CI: w1 and w2 never leased); against 100 ms it would take a 50 ms
 * stall inside a handler that does nothing.
 */
const OUTCOME_RTT_MS = 100;

/** The store's outcome batches answered OUTCOME_RTT_MS late. */
function slowOutcomes(m: Made): Made {
  const late = (call: (...args: unknown[]) => unknown) => async (...args: unknown[]) => {
    await new Promise((r) => setTimeout(r, OUTCOME_RTT_MS));
    return call(...args);
  };
  const store = interceptStore(m.store, (name, call) => (name === 'finishJobs' || name === 'capabilities.finishAndClaim' ? late(call) : undefined));
  return { ...m, store };
}

/** A harness's store, with second connections to its data that its cleanup closes. */
function withOthers(h: { store: Store; cleanup(): Promise<void> }, open: () => Store | Promise<Store>): Made {
  const others: Store[] = [];
  return {
    store: h.store,
    other: async () => (others[others.length] = await open()),
    async cleanup() {
      for (const o of others) await o.close();
      await h.cleanup();
    },
  };
}
// Redis and PostgreSQL, where workers claim ahead by default. (SQLite answers in a fraction of a
// handler's time, so the worker there may scale its claim-ahead to nothing, as it should.)
const stores: [string, () => Made | Promise<Made>, string | false][] = [
  ['redis', async () => {
    const h = await redisHarness();
    return slowOutcomes(withOthers(h, () => openTestStore(undefined, h.store.prefix)));
  }, redisSkipped],
  ['postgres', async () => {
    const h = await pgHarness();
    return slowOutcomes(withOthers(h, () => PostgresStore.open(h.url)));
  }, pgSkipped],
];

/**
 * A worker at concurrency 1 that may claim 2 ahead, brought to: blocker b running, w1 and w2 (lower
 * priority) leased and waiting for its slot. Three fast jobs go first, so the worker has seen
 * handlers end quicker than a round trip (it claims ahead only then). b waits for its gate.
 */
async function oneRunningTwoWaiting(store: Store, pipeline: number) {
  const now = Date.now();
  const spec = (id: string, priority: number) => resolveSpec({ task: 't', queue: 'pq', id, priority }, now);
  await store.addJobs({ jobs: [...['f1', 'f2', 'f3'].map((id) => spec(id, 100)), spec('b', 50), spec('w1', 0), spec('w2', 0)], now });
  const started: string[] = [];
  const bStarted = deferred();
  const bGate = deferred();
  let running = 0;
  let peak = 0;
  const reg = new TaskRegistry().register('t', async (_p: unknown, ctx) => {
    started.push(ctx.job.id);
    peak = Math.max(peak, ++running);
    try {
      if (ctx.job.id === 'b') {
        bStarted.resolve();
        await Promise.race([bGate.promise, new Promise((_r, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason)))]);
      }
    } finally {
      running--;
    }
  });
  const worker = new Worker(store, reg, { queues: ['pq'], concurrency: 1, prefetch: 2, pipeline }).start();
  const state = async (id: string) => (await store.getJob({ id }))!;
  const ready = async () => {
    await within(bStarted.promise, 10_000, 'b started');
    // Leased (active in the store) and held by the worker, not started. The store marks a job active
    // before its claim's answer reaches the worker, so both are awaited: on a loaded machine the test
    // can read the store in between.
    await until(
      async () => (await state('w1')).state === 'active' && (await state('w2')).state === 'active' && worker.active === 3,
      10_000,
      'w1 and w2 leased and held by the worker',
    );
    assert.deepEqual(started, ['f1', 'f2', 'f3', 'b']);
  };
  return { worker, ready, started, release: () => bGate.resolve(), peak: () => peak, state };
}

for (const [storeName, make, skip] of stores) {
  for (const pipeline of [1, 2]) {
    describe(`claiming ahead on ${storeName}, pipeline ${pipeline}`, { skip }, () => {
      it('a waiting job starts when the slot frees, highest priority first; a cancel ends one unrun', async () => {
        const m = await make();
        try {
          const { worker, ready, started, release, peak, state } = await oneRunningTwoWaiting(m.store, pipeline);
          try {
            await ready();
            // A later, more urgent job: w1's cancel sends an outcome batch, whose claim brings h, which waits ahead of w2.
            await m.store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'pq', id: 'h', priority: 200 }, Date.now())], now: Date.now() });
            await m.store.cancelJob({ id: 'w1', now: Date.now() });
            await until(async () => (await state('w1')).state === 'cancelled', 5000, 'w1 cancelled');
            await until(async () => (await state('h')).state === 'active', 5000, 'h leased');
            assert.deepEqual(started, ['f1', 'f2', 'f3', 'b'], 'nothing starts beside b');
            release();
            await until(async () => (await m.store.countJobs({ queue: 'pq' })).pq!.completed === 6, 5000, 'all but w1 completed');
            assert.deepEqual(started, ['f1', 'f2', 'f3', 'b', 'h', 'w2']);
            assert.equal(peak(), 1);
            assert.equal((await state('w1')).history.at(-1)?.outcome, 'cancelled');
          } finally {
            await worker.stop(1000);
          }
          const c = (await m.store.countJobs({ queue: 'pq' })).pq!;
          assert.deepEqual([c.completed, c.cancelled, c.active, c.queued], [6, 1, 0, 0]);
        } finally {
          await m.cleanup();
        }
      });

      it('a paused queue starts none of its waiting jobs: they go back first in line, their attempt not counted', async () => {
        const m = await make();
        try {
          const { worker, ready, started, release, state } = await oneRunningTwoWaiting(m.store, pipeline);
          try {
            await ready();
            // Paused from another process (the API server, the dashboard), as an operator does.
            const admin = await m.other();
            await admin.pauseQueue({ queue: 'pq', now: Date.now() });
            await until(async () => (await state('w1')).state === 'queued' && (await state('w2')).state === 'queued', 5000,
              async () => `waiting jobs given back (w1 ${(await state('w1')).state}, w2 ${(await state('w2')).state})`);
            assert.equal((await state('b')).state, 'active', 'a running job runs on');
            for (const id of ['w1', 'w2']) assert.equal((await state(id)).attempts, 0, `${id}'s attempt does not count`);
            // Added while paused, at the same priority: it queues behind the jobs given back.
            await m.store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'pq', id: 'late', priority: 0 }, Date.now())], now: Date.now() });
            release();
            await until(async () => (await state('b')).state === 'completed' && worker.active === 0, 5000, 'b completed, nothing held');
            assert.deepEqual(started, ['f1', 'f2', 'f3', 'b'], 'nothing starts while paused');
            await admin.resumeQueue({ queue: 'pq', now: Date.now() });
            await until(async () => (await m.store.countJobs({ queue: 'pq' })).pq!.completed === 7, 10_000, 'all completed after the resume');
            assert.deepEqual(started, ['f1', 'f2', 'f3', 'b', 'w1', 'w2', 'late']);
          } finally {
            release();
            await worker.stop(1000);
          }
        } finally {
          await m.cleanup();
        }
      });

      it('a stopping worker gives back its waiting jobs at once, unrun and their attempt not counted', async () => {
        const m = await make();
        try {
          const { worker, ready, started, release, state } = await oneRunningTwoWaiting(m.store, pipeline);
          try {
            await ready();
          } catch (err) {
            release();
            await worker.stop(1000);
            throw err;
          }
          // A long grace: the running blocker holds the stop, the waiting jobs must not.
          const stopped = worker.stop(60_000);
          await until(async () => (await state('w1')).state === 'queued' && (await state('w2')).state === 'queued', 5000, 'waiting jobs given back');
          assert.equal((await state('b')).state, 'active', 'a running job finishes within the grace');
          for (const id of ['w1', 'w2']) {
            const j = await state(id);
            assert.equal(j.attempts, 0, `${id}'s attempt does not count`);
          }
          release();
          await within(stopped, 10_000, 'stop');
          assert.ok(!started.includes('w1') && !started.includes('w2'), started.join());
          const c = (await m.store.countJobs({ queue: 'pq' })).pq!;
          assert.deepEqual([c.completed, c.queued, c.active], [4, 2, 0]);
        } finally {
          await m.cleanup();
        }
      });
    });
  }
}

/**
 * A worker at concurrency 2 that may claim 2 ahead, brought to: blockers b1 and b2 running, w1 and w2
 * (lower priority) leased and waiting for a slot. Fast jobs go first, as in oneRunningTwoWaiting.
 */
async function twoRunningTwoWaiting(store: Store) {
  const now = Date.now();
  const spec = (id: string, priority: number) => resolveSpec({ task: 't', queue: 'cq', id, priority }, now);
  await store.addJobs({ jobs: [...['f1', 'f2', 'f3'].map((id) => spec(id, 100)), spec('b1', 50), spec('b2', 50), spec('w1', 0), spec('w2', 0)], now });
  const started: string[] = [];
  const gates = new Map(['b1', 'b2'].map((id) => [id, deferred()]));
  const bothStarted = deferred();
  let running = 0;
  /** The most handlers running at once since the last reset. */
  let peak = 0;
  const reg = new TaskRegistry().register('t', async (_p: unknown, ctx) => {
    started.push(ctx.job.id);
    peak = Math.max(peak, ++running);
    try {
      const gate = gates.get(ctx.job.id);
      if (gate) {
        if (started.includes('b1') && started.includes('b2')) bothStarted.resolve();
        await Promise.race([gate.promise, new Promise((_r, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason)))]);
      }
    } finally {
      running--;
    }
  });
  const worker = new Worker(store, reg, { queues: ['cq'], concurrency: 2, prefetch: 2 }).start();
  const state = async (id: string) => (await store.getJob({ id }))!;
  const ready = async () => {
    await within(bothStarted.promise, 10_000, 'b1 and b2 started');
    await until(
      async () => (await state('w1')).state === 'active' && (await state('w2')).state === 'active' && worker.active === 4,
      10_000,
      'w1 and w2 leased and held by the worker',
    );
    assert.deepEqual([...started].sort(), ['b1', 'b2', 'f1', 'f2', 'f3']);
  };
  const releaseAll = () => gates.forEach((g) => g.resolve());
  return { worker, ready, started, gates, releaseAll, state, running: () => running, peak: () => peak, resetPeak: () => (peak = running) };
}

for (const [storeName, make, skip] of stores) {
  describe(`claiming ahead on ${storeName}, a queue's concurrency lowered`, { skip }, () => {
    it('jobs waiting in a worker do not start beyond the new limit: they go back and are claimed again under it', async () => {
      const m = await make();
      try {
        const w = await twoRunningTwoWaiting(m.store);
        try {
          await w.ready();
          // From another process (the dashboard), as an operator does when a provider struggles.
          const admin = await m.other();
          await admin.setQueueOptions({ queue: 'cq', options: { concurrency: 1 }, now: Date.now() });
          await until(async () => (await w.state('w1')).state === 'queued' && (await w.state('w2')).state === 'queued', 5000,
            async () => `waiting jobs given back (w1 ${(await w.state('w1')).state}, w2 ${(await w.state('w2')).state})`);
          for (const id of ['w1', 'w2']) assert.equal((await w.state(id)).attempts, 0, `${id}'s attempt does not count`);
          // b1 ends: b2 still runs, so the queue is at its new limit and nothing starts.
          w.gates.get('b1')!.resolve();
          await until(async () => (await w.state('b1')).state === 'completed' && w.worker.active === 1, 5000, 'b1 completed, b2 alone held');
          w.resetPeak(); // b2 alone runs from here
          assert.ok(!w.started.includes('w1') && !w.started.includes('w2'), w.started.join());
          w.gates.get('b2')!.resolve();
          await until(async () => (await m.store.countJobs({ queue: 'cq' })).cq!.completed === 7, 10_000, 'all completed');
          assert.equal(w.peak(), 1, 'never more than the new limit at once');
          assert.deepEqual(w.started.slice(-2), ['w1', 'w2']);
        } finally {
          w.releaseAll();
          await w.worker.stop(1000);
        }
      } finally {
        await m.cleanup();
      }
    });
  });
}

// PostgreSQL serves a worker's calls on a pool: two calls in flight may apply in one order and answer
// in the other. Were two of them to carry claims, the job of the first applied (higher priority)
// could reach the worker after the second's, and start after it. So the worker keeps one claim in
// the air there (outcome-only batches overlap it). Here every other outcome batch answers late, after
// the store applied it, which would hand the worker a later claim's jobs first.
describe('claiming ahead on postgres, answers landing out of order', { skip: pgSkipped }, () => {
  it('jobs still start in priority order, and each claim call waits for the one before', async () => {
    const m = await pgHarness();
    const now = Date.now();
    const ids = Array.from({ length: 30 }, (_, i) => `j${String(i).padStart(2, '0')}`);
    // j00 the most urgent, j29 the least: priority order is id order.
    await m.store.addJobs({ jobs: ids.map((id, i) => resolveSpec({ task: 't', queue: 'oq', id, priority: 1000 - i }, now)), now });
    let calls = 0;
    let claimsInAir = 0;
    let mostClaimsInAir = 0;
    let outcomeOnlyOverlaps = 0;
    let inAir = 0;
    const store = interceptStore(m.store, (name, call) => {
      if (name !== 'capabilities.finishAndClaim' && name !== 'finishJobs' && name !== 'claimJobs') return undefined;
      return async (...args: unknown[]) => {
        const claims = name !== 'finishJobs';
        if (claims) mostClaimsInAir = Math.max(mostClaimsInAir, ++claimsInAir);
        else if (inAir > 0) outcomeOnlyOverlaps++;
        inAir++;
        try {
          const answer = await call(...args);
          // Applied; every other answer comes back late.
          if (name !== 'claimJobs' && calls++ % 2 === 0) await new Promise((r) => setTimeout(r, 30));
          return answer;
        } finally {
          inAir--;
          if (claims) claimsInAir--;
        }
      };
    });
    const started: string[] = [];
    const reg = new TaskRegistry().register('t', async (_p: unknown, ctx) => void started.push(ctx.job.id));
    const worker = new Worker(store, reg, { queues: ['oq'], concurrency: 1 }).start();
    try {
      await until(async () => (await m.store.countJobs({ queue: 'oq' })).oq!.completed === ids.length, 20_000, 'all completed');
    } finally {
      await worker.stop(1000);
      await m.cleanup();
    }
    assert.deepEqual(started, ids);
    assert.equal(mostClaimsInAir, 1, 'one claim in the air at a time');
    // The worker did claim ahead (by default on PostgreSQL): outcomes went while a claim was in the air.
    assert.ok(outcomeOnlyOverlaps > 0, 'outcome-only batches overlapped a call in the air');
  });
});

describe('claiming ahead on redis: a lost event connection', { skip: redisSkipped }, () => {
  it('its resync gives back no waiting job, so a rate limit spent on them is not spent twice', async () => {
    const h = await redisHarness();
    const m = slowOutcomes(withOthers(h, () => openTestStore(undefined, h.store.prefix)));
    const admin = new Redis(REDIS_URL);
    const eventConnections = async () => ((await admin.client('LIST')) as string).split('\n')
      .filter((l) => l.includes(`name=fusion:${h.store.prefix}:events`)).map((l) => /id=(\d+)/.exec(l)![1]!);
    try {
      // Exactly the six claims of the setup fit the window: none left for claiming a job twice.
      await m.store.setQueueOptions({ queue: 'pq', options: { rateLimit: { max: 6, windowMs: 60_000 } }, now: Date.now() });
      const { worker, ready, started, release, state } = await oneRunningTwoWaiting(m.store, 1);
      try {
        await ready();
        const [before] = await eventConnections();
        assert.ok(before, 'an event connection');
        await admin.client('KILL', 'ID', before);
        // Subscribed again (the store then resyncs: a 'resumed' of every queue, marked missed).
        await until(async () => (await eventConnections()).some((id) => id !== before), 10_000, 'the event connection made again');
        await new Promise((r) => setTimeout(r, 1000));
        release();
        // The waiting jobs were claimed within the window's budget: they run now, not a minute later.
        await until(async () => (await state('w2')).state === 'completed', 5000,
          async () => `w1 ${(await state('w1')).state}, w2 ${(await state('w2')).state}; history of w1: ${(await state('w1')).history.map((x) => x.outcome).join(',')}`);
        assert.deepEqual(started, ['f1', 'f2', 'f3', 'b', 'w1', 'w2']);
      } finally {
        release();
        await worker.stop(1000);
      }
    } finally {
      admin.disconnect();
      await m.cleanup();
    }
  });
});
