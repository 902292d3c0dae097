// Chaos: cancels under fire, on every store. Worker processes run jobs that fail and retry, snooze
// or just run, while this process cancels jobs at random through its own store connection (as an
// API or dashboard process does) and kills workers with kill -9. A cancel the store acknowledged
// is final: a job cancelled out of its queue never runs after the answer, and one asked to stop
// while it ran never starts another attempt: it ends cancelled, or completed by the attempt that
// was already running.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers/await.js';
import { monotonicMs } from '../helpers/faketime.js';
import { FusionError } from '../../src/core/errors.js';
import { CANCELLED_AT_ATTEMPT_END, CANCELLED_WHILE_LOST } from '../../src/core/state-rules.js';
import type { Job } from '../../src/core/job.js';
import type { Store } from '../../src/core/store.js';
import { LONG, REDIS_CLUSTER, STORES, allJobs, countsOf, executionLines, producer, report, size, sleep, snoozesOf, workerFleet, type StoreFactory } from '../helpers/chaos.js';

const skips = await Promise.all(STORES.map((f) => f.skip()));

/** A cancel the store acknowledged: when (monotonic ms, read after the answer) and what the job was then. */
interface Ack {
  at: number;
  /** The job was active: asked to stop (cancelRequested), not cancelled at once. */
  running: boolean;
  attempts: number;
  /** Its snoozes: a snooze gives its attempt back and records no execution, so it is counted apart. */
  snoozes: number;
}

/**
 * Every 15 ms, cancel two jobs that were running a moment ago and two among the 150 newest
 * (waiting, mostly), until stopped. Any failure but a conflict stops it and is thrown by stop().
 */
function canceller(store: Store, ids: () => string[]) {
  const acks = new Map<string, Ack>();
  let refused = 0;
  let stopped = false;
  const pick = (from: string[]) => from[Math.floor(Math.random() * from.length)];
  const done = (async () => {
    while (!stopped) {
      const running = (await store.listJobs({ queue: 'chaos', state: 'active', limit: 50 })).items.map((j) => j.id);
      const recent = ids().slice(-150);
      for (const id of [pick(running), pick(running), pick(recent), pick(recent)]) {
        if (id === undefined || acks.has(id)) continue;
        try {
          const j = await store.cancelJob({ id, now: Date.now() });
          acks.set(id, { at: monotonicMs(), running: j.state === 'active', attempts: j.attempts, snoozes: snoozesOf(j.history) });
        } catch (err) {
          // A job already completed (or cancelled) refuses: the only refusal expected.
          if (!(err instanceof FusionError && err.code === 'conflict')) throw err;
          refused++;
        }
      }
      await sleep(15);
    }
  })();
  // Caught here and thrown by stop(), so a failure is never an unhandled rejection meanwhile.
  const failure = done.then(() => null, (err: unknown) => err);
  return {
    acks,
    get refused() {
      return refused;
    },
    stop: async () => {
      stopped = true;
      const err = await failure;
      if (err) throw err;
    },
  };
}

/**
 * How a job asked to stop while it ran came to end cancelled, by its error: its worker aborted it,
 * the store ended it at its attempt's retry, snooze or release, or recovery did after a kill.
 */
function endedBy(j: Job): string {
  const message = j.error?.message;
  if (message === CANCELLED_AT_ATTEMPT_END.message) return 'atAttemptEnd';
  if (message === CANCELLED_WHILE_LOST.message) return 'whileLost';
  if (message === 'job cancelled') return 'aborted';
  if (message === 'cancelled before it started') return 'beforeStart';
  return `other: ${message}`;
}

async function cancelRun(factory: StoreFactory): Promise<void> {
  const t = await factory.create();
  let store: Store;
  try {
    store = await t.open();
  } catch (err) {
    await t.cleanup();
    throw err;
  }
  const PROCS = 3;
  const KILLS = size(3, 20);
  const CONC = 8;
  const fleet = workerFleet({ url: t.url, logDir: t.dir, concurrency: CONC, leaseMs: 1000, workMs: [30, 120] });
  const started = Date.now();
  // A job in three fails its first two attempts (retried 20 ms later), a job in three snoozes twice.
  const prod = producer(store, {
    batch: 30, everyMs: 100,
    extra: (k) => ({ maxAttempts: 4, backoff: { type: 'fixed', delay: 20 }, payload: k % 3 === 0 ? { flaky: 2 } : k % 3 === 1 ? { snooze: 2 } : {} }),
  });
  const order: string[] = [];
  const cancels = canceller(store, () => {
    // The producer's acknowledged ids, in the order added (a Set keeps insertion order).
    if (order.length < prod.acked.size) order.push(...[...prod.acked].slice(order.length));
    return order;
  });
  try {
    await fleet.start(PROCS);
    await fleet.killAtRandom(KILLS, [300, 900]);
    await cancels.stop();
    await prod.stop();
    const jobs = prod.acked.size;
    await until(async () => {
      const c = await countsOf(store);
      return c.completed + c.failed + c.cancelled >= jobs;
    }, size(120_000, 300_000), `all ${jobs} jobs ended`, 100);
    for (const p of [...fleet.live]) assert.equal((await p.term()).code, 0, 'a surviving worker exits 0 on SIGTERM');

    const all = new Map((await allJobs(store, 'chaos')).map((j) => [j.id, j]));
    // Executions stamped after the answer. A job cancelled while waiting may still show one where
    // its earlier lease lapsed on a starved worker (a stall) whose handler then started late: that
    // attempt was claimed before the answer, and its outcome is refused.
    const runsAfterAck = new Map<string, number>();
    for (const { id, at } of executionLines(t.dir)) {
      const ack = cancels.acks.get(id);
      if (ack && at > ack.at) runsAfterAck.set(id, (runsAfterAck.get(id) ?? 0) + 1);
    }
    const ends: Record<string, number> = {};
    let completedAfterRequest = 0;
    let lateRunsOfLapsedLeases = 0;
    const problems: string[] = [];
    for (const [id, ack] of cancels.acks) {
      const j = all.get(id);
      if (!j) {
        problems.push(`${id} missing`);
        continue;
      }
      const after = runsAfterAck.get(id) ?? 0;
      if (j.state === 'cancelled') {
        const how = ack.running ? endedBy(j) : 'whileWaiting';
        ends[how] = (ends[how] ?? 0) + 1;
      }
      const snoozes = snoozesOf(j.history);
      if (!ack.running) {
        // Cancelled out of its queue: it never runs again.
        if (after > 0 && j.stalls > 0) lateRunsOfLapsedLeases++;
        if (j.state !== 'cancelled' || (after > 0 && j.stalls === 0) || j.attempts !== ack.attempts || snoozes !== ack.snoozes) {
          problems.push(`${id} cancelled while waiting: ${j.state}, ${after} runs after, attempts ${ack.attempts} → ${j.attempts}, snoozes ${ack.snoozes} → ${snoozes}`);
        }
        continue;
      }
      // Asked to stop while running: the running attempt may still complete; no other attempt
      // starts, and no snooze is taken (a snooze the store let through would come back as a new
      // attempt with its count given back).
      if (j.state === 'completed') completedAfterRequest++;
      if ((j.state !== 'cancelled' && j.state !== 'completed') || after > 1 || j.attempts !== ack.attempts || snoozes !== ack.snoozes) {
        problems.push(`${id} asked to stop: ${j.state}, ${after} runs after, attempts ${ack.attempts} → ${j.attempts}, snoozes ${ack.snoozes} → ${snoozes}`);
      }
    }
    const counts = await countsOf(store);
    const waiting = [...cancels.acks.values()].filter((a) => !a.running).length;
    report({
      test: 'cancel-under-fire', store: t.store, processes: PROCS, concurrency: CONC, kills: KILLS, jobs, acknowledged: jobs,
      cancels: cancels.acks.size, cancelsWhileWaiting: waiting, cancelsWhileRunning: cancels.acks.size - waiting, refused: cancels.refused,
      cancelledBy: ends, completedAfterRequest, lateRunsOfLapsedLeases, violations: problems.length, ...counts, ms: Date.now() - started,
    });
    assert.deepEqual(problems, [], 'every acknowledged cancel is final');
    assert.equal(counts.cancelled, [...all.values()].filter((j) => cancels.acks.has(j.id) && j.state === 'cancelled').length, 'only jobs the test cancelled are cancelled');
    assert.equal(counts.failed, 0, 'no job failed (each has attempts for its two failures)');
    assert.equal(counts.completed + counts.cancelled, jobs, 'every acknowledged job ended, none lost');
    assert.ok(waiting > 0 && cancels.acks.size - waiting > 0, `cancels caught jobs waiting (${waiting}) and running (${cancels.acks.size - waiting}): else the test proved little`);
  } finally {
    await cancels.stop().catch(() => {});
    await prod.stop().catch(() => {});
    await fleet.killAll();
    try {
      await store.close();
    } finally {
      await t.cleanup();
    }
  }
}

const CANCEL_TEST = 'cancels at random under kill -9: a cancelled job never runs after the answer, one asked to stop never starts another attempt';

STORES.forEach((factory, i) => {
  describe(`chaos: cancels on ${factory.name}`, { skip: skips[i] }, () => {
    it(CANCEL_TEST, () => cancelRun(factory));
  });
});

// Long form only, as in workers.chaos.test.ts: a cluster of its own costs the short form too much time.
if (LONG) {
  const clusterSkip = await REDIS_CLUSTER.skip();
  describe(`chaos: cancels on ${REDIS_CLUSTER.name}`, { skip: clusterSkip }, () => {
    it(CANCEL_TEST, () => cancelRun(REDIS_CLUSTER));
  });
}
