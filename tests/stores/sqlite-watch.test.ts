// Cross-connection wake-up of the SQLite store: jobs added through another connection (as by
// another process) become events here, so a worker starts them without waiting for its poll.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { Queue } from '../../src/core/queue.js';
import { Worker } from '../../src/core/worker.js';
import { TaskRegistry } from '../../src/core/registry.js';
import type { StoreEvent } from '../../src/core/store.js';
import { tempDir } from '../helpers/tmp.js';
import { deferred, within } from '../helpers/await.js';
import { interceptStore } from '../helpers/store-proxy.js';

async function pair(watchMs?: number) {
  const t = tempDir();
  const file = join(t.dir, 'w.db');
  const here = new SqliteStore(file, { watchMs });
  const there = new SqliteStore(file);
  return {
    here, there,
    async close() {
      await here.close();
      await there.close();
      t.remove();
    },
  };
}

/** The events a store reports, and a bounded wait for a condition on them. */
function watchEvents(store: SqliteStore) {
  const seen: StoreEvent[] = [];
  let notify = () => {};
  store.subscribe((e) => {
    seen.push(e);
    notify();
  });
  const until = (what: string, cond: () => boolean) => within(new Promise<void>((r) => {
    notify = () => cond() && r();
    notify();
  }), 5000, what);
  return { seen, until };
}

/**
 * A worker on `store` that polls once a minute, settled into its long wait, so only an event can
 * start a job within a test's time. `nextStart()` resolves when the handler next runs; `idle()`
 * when the worker's next claim (alone or after its outcomes) comes back empty.
 */
async function longPollWorker(store: SqliteStore) {
  const registry = new TaskRegistry();
  let onStart = () => {};
  registry.register('t', () => onStart());
  let onIdle = () => {};
  const idle = () => new Promise<void>((r) => (onIdle = r));
  // The worker's view of the real store: the same calls, noticing claims that find nothing.
  const observed = interceptStore(store, (name, call) => {
    if (name !== 'claimJobs' && name !== 'capabilities.finishAndClaim') return call;
    return async (...args: unknown[]) => {
      const res = (await call(...args)) as { jobs?: unknown[]; claim?: { jobs: unknown[] } };
      if ((res.jobs ?? res.claim!.jobs).length === 0) onIdle();
      return res;
    };
  });
  const settled = idle();
  const worker = new Worker(observed, registry, { queues: ['q'], pollMs: 60_000 }).start();
  await settled;
  return { worker, nextStart: () => new Promise<void>((r) => (onStart = r)), idle };
}

/** The inotify watches this process holds now (Linux: /proc/self/fdinfo of each inotify descriptor). */
function inotifyWatches(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = '';
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the descriptor readdir itself used, closed by now
    }
    if (target !== 'anon_inode:inotify') continue;
    n += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
  }
  return n;
}

/** Resolves at the end of this turn of the event loop (after the setImmediate callbacks queued before it). */
const turnEnd = () => new Promise<void>((r) => setImmediate(r));

/** The watch pauses in bursts on Linux only (watch.ts), and the first test counts inotify watches in /proc. */
const linuxOnly = process.platform === 'linux' ? false : 'the watch pauses in bursts on Linux only';

describe('sqlite store: cross-connection events', () => {
  it('reports jobs another connection adds, each once, and not its own twice', async () => {
    const p = await pair();
    try {
      const { seen, until } = watchEvents(p.here);
      const now = Date.now();
      await new Queue(p.here).enqueueMany([{ task: 't', queue: 'q', id: 'own' }]);
      await new Queue(p.there).enqueueMany([
        { task: 't', queue: 'q', id: 'x1' },
        { task: 't', queue: 'q', id: 'x2', runAt: now + 60_000 },
      ]);
      await until('events of x1, x2', () => seen.length >= 3);
      // One more commit elsewhere, so a second scan runs and could repeat what it already reported.
      await new Queue(p.there).enqueueMany([{ task: 't', queue: 'q', id: 'x3' }]);
      await until('event of x3', () => seen.some((e) => e.jobId === 'x3'));
      const byId = (id: string) => seen.filter((e) => e.jobId === id);
      assert.equal(byId('own').length, 1);
      assert.deepEqual(byId('x1').map((e) => e.type), ['queued']);
      assert.deepEqual(byId('x2').map((e) => [e.type, e.runAt]), [['scheduled', now + 60_000]]);
      assert.equal(byId('x3').length, 1);
    } finally {
      await p.close();
    }
  });

  it('a worker starts a job enqueued through another connection without waiting for its poll', async () => {
    const p = await pair();
    const { worker, nextStart } = await longPollWorker(p.here);
    try {
      const ran = nextStart();
      const t0 = performance.now();
      await new Queue(p.there).enqueue({ task: 't', queue: 'q' });
      await within(ran, 5000, 'job start');
      console.log(`cross-connection enqueue → start: ${(performance.now() - t0).toFixed(2)} ms`);
    } finally {
      await worker.stop();
      await p.close();
    }
  });

  it('wakes on the other connection\'s commit itself, not on its fallback timer', async () => {
    // Fallback timer every 10 s and a poll of a minute: only the watch on the -wal file can start
    // the job within a second.
    const p = await pair(2000);
    const { worker, nextStart, idle } = await longPollWorker(p.here);
    try {
      const samples: number[] = [];
      for (let i = 0; i < 3; i++) {
        const ran = nextStart();
        const t0 = performance.now();
        await new Queue(p.there).enqueue({ task: 't', queue: 'q' });
        const settled = idle();
        await within(ran, 1000, `job ${i} start`);
        samples.push(performance.now() - t0);
        await within(settled, 1000, `idle after job ${i}`);
      }
      console.log(`cross-connection enqueue → start with only the file watch: ${samples.map((x) => x.toFixed(2)).join(', ')} ms`);
    } finally {
      await worker.stop();
      await p.close();
    }
  });

  it('a busy worker whose handler awaits still wakes on the other connection\'s commits, not on its fallback timer', async () => {
    // A handler that awaits puts each job's claim and finish in consecutive turns of the event
    // loop; that steady stream of its own commits must not keep its file watch closed, or jobs
    // another process adds wait for the fallback timer (every 10 s here, a poll of a minute).
    const p = await pair(2000);
    const registry = new TaskRegistry();
    const startedAt = new Map<number, number>();
    const JOBS = 30;
    const allStarted = deferred();
    registry.register('t', async (payload: { i: number }) => {
      startedAt.set(payload.i, performance.now());
      if (startedAt.size === JOBS) allStarted.resolve();
      await new Promise((r) => setImmediate(r));
    });
    const worker = new Worker(p.here, registry, { queues: ['q'], pollMs: 60_000 }).start();
    try {
      const addedAt: number[] = [];
      const producer = new Queue(p.there);
      for (let i = 0; i < JOBS; i++) {
        addedAt[i] = performance.now();
        await producer.enqueue({ task: 't', queue: 'q', payload: { i } });
        await new Promise((r) => setTimeout(r, 15));
      }
      await within(allStarted.promise, 8000, 'every job started');
      const waits = addedAt.map((t, i) => startedAt.get(i)! - t);
      console.log(`enqueue → start while the worker commits every turn: max ${Math.max(...waits).toFixed(1)} ms`);
      // Each start well inside the 10 s fallback: only the watch can have woken the worker.
      for (const [i, w] of waits.entries()) assert.ok(w < 2000, `job ${i} started ${w.toFixed(0)} ms after its add`);
    } finally {
      await worker.stop();
      await p.close();
    }
  });

  it('reports the work another connection\'s updates make: retry, promote, cancel request, pause, resume, new queue options', async () => {
    const p = await pair();
    try {
      const { seen, until } = watchEvents(p.here);
      const there = new Queue(p.there);
      const now = Date.now();
      await there.enqueueMany([
        { task: 't', queue: 'q', id: 'failing' },
        { task: 't', queue: 'q', id: 'later', runAt: now + 60_000 },
        { task: 't', queue: 'q', id: 'running' },
      ]);
      const claimed = await p.there.claimJobs({ queues: ['q'], workerId: 'w', limit: 2, leaseMs: 60_000, now });
      const lease = (id: string) => claimed.jobs.find((j) => j.id === id)!.leaseToken!;
      await p.there.finishJobs({ outcomes: [{ kind: 'failed', id: 'failing', token: lease('failing'), at: now, error: { message: 'no', retryable: false } }] });
      await until('the added jobs', () => seen.filter((e) => e.type === 'queued' || e.type === 'scheduled').length >= 3);
      seen.length = 0;

      await p.there.retryJob({ id: 'failing', resetAttempts: true, now: now + 1 });
      await p.there.promoteJob({ id: 'later', now: now + 2 });
      await p.there.cancelJob({ id: 'running', now: now + 3 });
      await p.there.pauseQueue({ queue: 'q', now: now + 4 });
      await p.there.resumeQueue({ queue: 'q', now: now + 5 });
      await p.there.setQueueOptions({ queue: 'q', options: { concurrency: 10 }, now: now + 6 });
      await until('the updates', () => seen.length >= 6);
      assert.deepEqual(seen.map((e) => [e.type, e.jobId]), [
        ['queued', 'failing'], ['queued', 'later'], ['cancel-requested', 'running'], ['paused', undefined], ['resumed', undefined], ['limits-changed', undefined],
      ]);
      // Its own updates it reports once, at commit, and not again from the log.
      await p.here.pauseQueue({ queue: 'q', now: now + 8 });
      await p.here.resumeQueue({ queue: 'q', now: now + 9 });
      await p.there.resumeQueue({ queue: 'q', now: now + 10 }); // a foreign commit, so the watcher reads the log past our rows
      await until('the last resume', () => seen.filter((e) => e.type === 'resumed').length >= 3);
      assert.equal(seen.filter((e) => e.type === 'resumed').length, 3);
    } finally {
      await p.close();
    }
  });

  it('a worker starts a job another connection retried without waiting for its poll', async () => {
    const p = await pair();
    const now = Date.now();
    await new Queue(p.there).enqueue({ task: 't', queue: 'q', id: 'again' });
    const [job] = (await p.there.claimJobs({ queues: ['q'], workerId: 'gone', limit: 1, leaseMs: 60_000, now })).jobs;
    await p.there.finishJobs({ outcomes: [{ kind: 'failed', id: 'again', token: job!.leaseToken!, at: now, error: { message: 'no', retryable: false } }] });
    const { worker, nextStart } = await longPollWorker(p.here);
    try {
      const ran = nextStart();
      await p.there.retryJob({ id: 'again', resetAttempts: true, now: Date.now() });
      await within(ran, 1000, 'retried job start');
    } finally {
      await worker.stop();
      await p.close();
    }
  });

  it('closes its file watch while it commits in a burst (three commits in a turn), and opens it again when the event loop turns', { skip: linuxOnly }, async () => {
    // The kernel makes an event of every write to the -wal file, this connection's own too: a busy
    // worker's many commits in one turn would each pay for events nobody reads before the turn ends.
    const p = await pair(2000);
    try {
      watchEvents(p.here);
      await turnEnd();
      const watching = inotifyWatches();
      assert.ok(watching >= 1, 'the store watches its directory');
      const now = Date.now();
      // Three commits in one turn (the store's calls run synchronously up to their answer).
      void p.here.pauseQueue({ queue: 'q', now });
      void p.here.resumeQueue({ queue: 'q', now });
      assert.equal(inotifyWatches(), watching, 'one or two commits keep the watch');
      void p.here.pauseQueue({ queue: 'q', now });
      assert.equal(inotifyWatches(), watching - 1, 'no watch during the burst');
      await turnEnd();
      await turnEnd();
      assert.equal(inotifyWatches(), watching, 'watching again after the turn');
    } finally {
      await p.close();
    }
  });

  it('reports what another connection commits while its file watch is closed for a burst', { skip: linuxOnly }, async () => {
    // Fallback timer every 10 s: only the check made when the watch opens again reports it in time.
    const p = await pair(2000);
    try {
      const { seen, until } = watchEvents(p.here);
      await turnEnd();
      const now = Date.now();
      void p.here.pauseQueue({ queue: 'other', now });
      void p.here.resumeQueue({ queue: 'other', now });
      void p.here.pauseQueue({ queue: 'other', now });
      // Committed by the other connection while this one's watch is closed.
      void new Queue(p.there).enqueueMany([{ task: 't', queue: 'q', id: 'theirs' }]);
      const t0 = performance.now();
      await until('the other connection\'s job', () => seen.some((e) => e.jobId === 'theirs'));
      assert.ok(performance.now() - t0 < 1000, 'reported at the end of the burst, not by the fallback timer');
      assert.deepEqual(seen.filter((e) => e.jobId === 'theirs').map((e) => e.type), ['queued']);
    } finally {
      await p.close();
    }
  });
});

