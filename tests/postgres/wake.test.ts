// Adds notify only when someone waits (wait-marks.ts, migration 006): no NOTIFY when no other store
// waits on the queue, one when a worker's store sleeps on it (delayed jobs too) or a subscriber wants
// every event; and no lost wake-up in the race "claim finds nothing, an add commits without seeing a
// mark, the worker marks and sleeps": the store claims once more after making its mark live.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { resolveSpec } from '../../src/core/queue.js';
import { Worker } from '../../src/core/worker.js';
import { TaskRegistry } from '../../src/core/registry.js';
import type { ClaimRequest } from '../../src/core/store.js';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { ApiMetrics } from '../../src/api/metrics.js';
import { JobWatcher } from '../../src/api/watcher.js';
import { pgClient, pgHarness, pgSkip, schemaUrl } from '../helpers/postgres.js';
import { deferred, within } from '../helpers/await.js';

const skip = await pgSkip();

describe('PostgreSQL wake-ups only for stores that wait', { skip }, () => {
  let h: Awaited<ReturnType<typeof pgHarness>>;
  let sleeper: PostgresStore;
  let listen: pg.Client;
  const heard: string[] = [];
  let marker = deferred();
  before(async () => {
    h = await pgHarness();
    // Another process's store on the same schema, as a worker's: it hears of adds only by NOTIFY.
    sleeper = await PostgresStore.open(schemaUrl(h.schema));
    sleeper.subscribe(() => {}, { workOnly: true });
    await sleeper.listening();
    // What goes over the channel, counted on a plain connection.
    listen = await pgClient();
    listen.on('notification', (m) => {
      if (m.payload === 'marker') return marker.resolve();
      const w = JSON.parse(m.payload!) as { t: string; q: string };
      heard.push(`${w.t}:${w.q}`);
    });
    await listen.query(`LISTEN "${h.schema}:work"`);
  });
  after(async () => {
    await listen?.end();
    await sleeper?.close();
    await h?.cleanup();
  });

  /** The notifications sent so far: a marker notified after arrives after them (commit order). */
  async function sentSoFar(): Promise<string[]> {
    marker = deferred();
    await h.store.pool.query(`SELECT pg_notify($1, 'marker')`, [`${h.schema}:work`]);
    await within(marker.promise, 5000, 'the marker notification');
    return heard.splice(0);
  }

  const add = (store: PostgresStore, queue: string, n = 1, runAt?: number) => {
    const now = Date.now();
    return store.addJobs({ jobs: Array.from({ length: n }, () => resolveSpec({ task: 't', queue, runAt }, now)), now });
  };
  /**
   * A worker of `queue` on `store` polling once a minute: `idle` resolves at its first claim that
   * finds nothing (it then sleeps until woken), `started` when it starts a job.
   */
  function sleepyWorker(store: PostgresStore, queue: string) {
    const registry = new TaskRegistry();
    const started = deferred();
    registry.register('t', () => started.resolve());
    const idle = deferred();
    // The worker's view of its store: the same calls, noticing its first claim that finds nothing.
    const observed = new Proxy(store, {
      get(target, key) {
        const v = Reflect.get(target, key);
        if (typeof v !== 'function') return v;
        if (key !== 'claimJobs') return v.bind(target);
        return async (...args: unknown[]) => {
          const res = await v.apply(target, args);
          if (res.jobs.length === 0) idle.resolve();
          return res;
        };
      },
    });
    return { worker: new Worker(observed, registry, { queues: [queue], pollMs: 60_000 }).start(), idle: idle.promise, started: started.promise };
  }

  const claimReq = (queue: string, limit = 10): ClaimRequest => ({
    queues: [queue], workerId: 'w1', limit, leaseMs: 30_000, now: Date.now(), idleMs: 60_000,
  });

  it('adds send no NOTIFY while no other store waits; a sleeping worker\'s queue gets one per add, delayed jobs too', async () => {
    await add(h.store, 'idle');
    await add(h.store, 'idle', 3);
    assert.deepEqual(await sentSoFar(), [], 'nobody waits: no notification');

    // The sleeper's claims come up short, the second empty: its worker is about to sleep on 'idle'.
    assert.equal((await sleeper.claimJobs(claimReq('idle'))).jobs.length, 4, 'the four jobs, and the claim came up short');
    assert.equal((await sleeper.claimJobs(claimReq('idle'))).jobs.length, 0);
    await add(h.store, 'idle');
    await add(h.store, 'idle', 2, Date.now() + 60_000);
    await add(h.store, 'elsewhere');
    assert.deepEqual(await sentSoFar(), ['queued:idle', 'scheduled:idle'], 'adds to the waited-on queue only');

    // The sleeper's own adds notify nobody: its own listeners hear of them in-process.
    await add(sleeper, 'idle');
    assert.deepEqual(await sentSoFar(), []);

    // A subscriber of every event (an event stream elsewhere) gets every queue's adds.
    const watcher = await PostgresStore.open(schemaUrl(h.schema));
    try {
      watcher.subscribe(() => {});
      await watcher.listening();
      await add(h.store, 'elsewhere');
      assert.deepEqual(await sentSoFar(), ['queued:elsewhere']);
    } finally {
      await watcher.close();
    }
    // Its mark left with it.
    await add(h.store, 'elsewhere');
    assert.deepEqual(await sentSoFar(), []);
  });

  it('an add that commits between a short claim and its mark is taken by the claim once more', async () => {
    const racer = await PostgresStore.open(schemaUrl(h.schema));
    racer.subscribe(() => {}, { workOnly: true });
    await racer.listening();
    // Between the racer's claim (it finds nothing) and its mark, the add commits: it sees no mark,
    // so it notifies nobody. Run in the racer's connection pool, at its mark_waiting statement.
    const query = racer.pool.query.bind(racer.pool) as (...a: unknown[]) => Promise<unknown>;
    let raced: Promise<unknown> | null = null;
    (racer.pool as unknown as { query: (...a: unknown[]) => Promise<unknown> }).query = async (...args: unknown[]) => {
      const q = args[0] as { name?: string };
      if (q?.name === 'fusion_mark_waiting' && !raced) {
        raced = add(h.store, 'race');
        await raced;
      }
      return query(...args);
    };
    try {
      const res = await racer.claimJobs(claimReq('race'));
      assert.ok(raced, 'the add ran between the claim and the mark');
      assert.deepEqual(await sentSoFar(), [], 'the add saw no mark and notified nobody');
      assert.equal(res.jobs.length, 1, 'the same claim call took the job: its worker does not sleep past it');
      assert.equal(res.jobs[0]!.queue, 'race');
    } finally {
      await racer.close();
    }
  });

  it('a short claim with jobs returns them at once; an add racing its mark wakes the worker to claim again', async () => {
    const racer = await PostgresStore.open(schemaUrl(h.schema));
    const woken = deferred();
    racer.subscribe((e) => e.type === 'queued' && e.queue === 'race2' && woken.resolve(), { workOnly: true });
    await racer.listening();
    await add(h.store, 'race2');
    const query = racer.pool.query.bind(racer.pool) as (...a: unknown[]) => Promise<unknown>;
    let raced: Promise<unknown> | null = null;
    const release = deferred();
    (racer.pool as unknown as { query: (...a: unknown[]) => Promise<unknown> }).query = async (...args: unknown[]) => {
      const q = args[0] as { name?: string };
      if (q?.name === 'fusion_mark_waiting' && !raced) {
        // The claim's answer is back before the mark is written.
        await release.promise;
        raced = add(h.store, 'race2');
        await raced;
      }
      return query(...args);
    };
    try {
      const first = await racer.claimJobs(claimReq('race2'));
      assert.equal(first.jobs.length, 1, 'the queued job, returned without waiting for the mark');
      release.resolve();
      await within(woken.promise, 5000, 'the store woke its worker once the mark was live');
      assert.ok(raced, 'the add ran between the claim and the mark');
      assert.deepEqual(await sentSoFar(), [], 'the add saw no mark and notified nobody');
      const again = await racer.claimJobs(claimReq('race2'));
      assert.equal(again.jobs.length, 1, 'the claim once more takes the raced job');
    } finally {
      await racer.close();
    }
  });

  it('a worker on another store starts a job added elsewhere without waiting for its poll', async () => {
    const { worker, idle, started } = sleepyWorker(sleeper, 'far');
    try {
      await within(idle, 5000, 'the worker settled into its long wait');
      await add(h.store, 'far');
      await within(started, 5000, 'the job started long before the worker\'s 60 s poll');
    } finally {
      await worker.stop();
    }
  });

  it('an API process (metrics, long polls) and a worker hold no every-queue mark: adds elsewhere notify nobody; a sleeping worker still wakes at once', async () => {
    await sentSoFar(); // what earlier tests sent
    // The API process's subscribers, on a store of its own.
    const api = await PostgresStore.open(schemaUrl(h.schema));
    const metrics = new ApiMetrics(api, { defaultMetrics: false }).start();
    const watcher = new JobWatcher(api);
    const stopWaiting = new AbortController();
    const polled = watcher.wait('no-such-job', 60_000, stopWaiting.signal, async () => false, 60_000);
    await api.listening();
    // A worker process's store: its worker subscribes through workEvents, and sleeps on 'wq'.
    const wstore = await PostgresStore.open(schemaUrl(h.schema));
    const { worker, idle, started } = sleepyWorker(wstore, 'wq');
    try {
      await within(idle, 5000, 'the worker settled into its long wait');
      const { rows } = await h.store.pool.query(`SELECT queue FROM "${h.schema}".waiting WHERE until > now() AND queue IN ('*', 'wq') ORDER BY queue`);
      assert.deepEqual(rows.map((r: { queue: string }) => r.queue), ['wq'], 'the sleeping worker\'s queue is marked, and no one marks every queue');
      await add(h.store, 'api-only');
      assert.deepEqual(await sentSoFar(), [], 'nobody waits on that queue: no notification');
      await add(h.store, 'wq');
      await within(started, 5000, 'the job started long before the worker\'s 60 s poll');
      assert.deepEqual(await sentSoFar(), ['queued:wq']);
    } finally {
      await worker.stop();
      stopWaiting.abort();
      await polled;
      watcher.close();
      metrics.stop();
      await wstore.close();
      await api.close();
    }
  });
});
