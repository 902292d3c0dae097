// Chaos: workers on machines whose clocks disagree. Four worker processes share one store: one on
// the machine's clock, one five minutes ahead, one five minutes behind, and one whose clock is
// stepped ten minutes ahead and back while it runs (libfaketime, tests/helpers/faketime.ts). The
// two skewed ones also add delayed jobs and fire a schedule of every 500 ms. Leases, due times and lease recovery are compared across
// processes, so on clocks of their own (the control: `clock: systemClock`) processes take jobs that
// others still run, and run delayed jobs and occurrences minutes early or late; on the store's clock (the default
// on Redis and PostgreSQL, src/core/shared-clock.ts) nothing of the kind may happen. SQLite is not
// here: its processes share one machine, and so one clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from '../../src/core/scheduler.js';
import { until } from '../helpers/await.js';
import { LONG, REDIS_CLUSTER, STORES, allJobs, chaosWorker, countsOf, executions, firstExecutions, producer, report, sleep, tally, type StoreFactory } from '../helpers/chaos.js';
import { faketimeSkip, monotonicMs, skewedClock, steppedClock } from '../helpers/faketime.js';

const SHARED = [...STORES.filter((f) => f.name !== 'sqlite'), REDIS_CLUSTER];
const skips = await Promise.all(SHARED.map((f) => f.skip()));
const faketime = faketimeSkip();
const SKEW_S = 300;
const STEP_S = 600;
const DELAYED = 20;
const DELAY_MS = 3000;
const EVERY_MS = 500;
/** What a delayed job may start before its due time: the store clock's read uncertainty, and the ms rounding. */
const EARLY_TOLERANCE_MS = 100;

const lineValue = (line: string) => Number(line.split(' ').at(-1));

async function skewRun(factory: StoreFactory, machineClock: boolean): Promise<void> {
  const t = await factory.create();
  const store = await t.open();
  const stepped = steppedClock(t.dir);
  const common = { url: t.url, logDir: t.dir, concurrency: 4, leaseMs: 10_000, workMs: [100, 300] as [number, number], maintenanceMs: 100, machineClock };
  const delayed = (tag: string) => ({ count: DELAYED, delayMs: DELAY_MS, tag });
  const procs = {
    machine: chaosWorker(common),
    ahead: chaosWorker({ ...common, delayed: delayed('ahead'), scheduler: true }, skewedClock(SKEW_S)),
    behind: chaosWorker({ ...common, delayed: delayed('behind'), scheduler: true }, skewedClock(-SKEW_S)),
    stepped: chaosWorker(common, stepped.env),
  };
  const all = Object.values(procs);
  const started = Date.now();
  try {
    const ready = await Promise.all(all.map((p) => p.line('READY')));
    // Each process's offset from the machine's clock to the store's: the skew, taken back.
    const offsets = Object.fromEntries(Object.keys(procs).map((name, i) => [name, lineValue(ready[i]!)]));
    if (!machineClock) {
      assert.ok(Math.abs(offsets.ahead! + SKEW_S * 1000) < 1000, `the process ahead runs ${SKEW_S} s behind its clock (offset ${offsets.ahead})`);
      assert.ok(Math.abs(offsets.behind! - SKEW_S * 1000) < 1000, `the process behind runs ${SKEW_S} s ahead of its clock (offset ${offsets.behind})`);
      assert.ok(Math.abs(offsets.machine!) < 1000, `a process on the machine's clock keeps it (offset ${offsets.machine})`);
    }
    const adding = {
      ahead: lineValue(await procs.ahead.line('ADDING')), behind: lineValue(await procs.behind.line('ADDING')),
    };
    await Promise.all([procs.ahead.line('ADDED'), procs.behind.line('ADDED')]);
    const prod = producer(store, { batch: 10, everyMs: 200 });
    await procs.stepped.line('RUNNING');
    // The store's server runs on this machine: the schedule's due times (its clock) are this process's too.
    const schedules = new Scheduler(store);
    await schedules.create({ id: 'tick', trigger: { every: `${EVERY_MS}ms` }, template: { task: 'chaos', queue: 'chaos' }, misfire: 'catch-up' });
    await sleep(1500);
    stepped.step(STEP_S);
    await sleep(3000);
    stepped.step(0);
    await sleep(3000);
    await schedules.remove('tick');
    await prod.stop();
    const wallMinusMonotonic = Date.now() - Math.round(monotonicMs());

    // With every process on its own clock, the delayed jobs of the one ahead are due minutes from now
    // (unless the stepped process ran them while it was ten minutes ahead).
    const expected = prod.acked.size + DELAYED * (machineClock ? 1 : 2);
    await until(async () => {
      const c = await countsOf(store);
      return c.completed >= expected && c.queued + c.active === 0;
    }, 120_000, `${expected} jobs completed`, 100);
    const firstRuns = firstExecutions(t.dir);
    const early: string[] = [];
    let maxLateMs = 0;
    let aheadRun = 0;
    for (const [tag, addedAt] of Object.entries(adding)) {
      for (let i = 0; i < DELAYED; i++) {
        const ranAt = firstRuns.get(`${tag}-${i}`);
        if (ranAt === undefined) continue;
        if (tag === 'ahead') aheadRun++;
        const lateMs = ranAt - (addedAt + DELAY_MS);
        if (lateMs < -EARLY_TOLERANCE_MS) early.push(`${tag}-${i} ${-lateMs} ms early`);
        maxLateMs = Math.max(maxLateMs, lateMs);
      }
    }
    for (const p of all) assert.equal((await p.term()).code, 0, 'a worker exits 0 on SIGTERM');
    const jobs = await allJobs(store, 'chaos');
    // The schedule's occurrences: each started at or after its due time, none skipped or fired twice.
    const ticks = jobs.filter((j) => j.scheduleId === 'tick').sort((a, b) => a.runAt - b.runAt);
    let ticksEarly = 0;
    let tickGaps = 0;
    for (const [k, j] of ticks.entries()) {
      const ranAt = firstRuns.get(j.id);
      if (ranAt !== undefined && ranAt + wallMinusMonotonic < j.runAt - EARLY_TOLERANCE_MS) ticksEarly++;
      if (k > 0 && j.runAt - ticks[k - 1]!.runAt !== EVERY_MS) tickGaps++;
    }
    const r = tally(jobs, prod.acked, executions(t.dir));
    report({
      test: 'clock-skew', store: t.store, clock: machineClock ? 'machine' : 'store', skewSeconds: SKEW_S, stepSeconds: STEP_S,
      jobs: jobs.length, acknowledged: prod.acked.size + DELAYED * 2, completed: (await countsOf(store)).completed, lost: r.lost,
      duplicateExecutions: r.duplicateExecutions, stalls: r.stalls, delayedEarly: early.length, delayedOfAheadRun: aheadRun,
      maxDelayedLateMs: maxLateMs, occurrences: ticks.length, occurrencesEarly: ticksEarly, occurrenceGaps: tickGaps, offsets, ms: Date.now() - started,
    });
    assert.equal(r.lost, 0, `no acknowledged job lost: ${r.problems.join('; ')}`);
    if (machineClock) {
      // The control: the test above would see these if the store's clock were not in use.
      assert.ok(r.stalls > 0, 'on clocks of their own, processes take leases of live workers');
      assert.ok(early.length >= DELAYED, 'on clocks of their own, the delayed jobs of the process behind run early');
      assert.ok(ticksEarly > 0, 'on clocks of their own, the scheduler ahead fires occurrences early');
    } else {
      assert.equal(r.stalls, 0, 'no lease of a live worker taken');
      assert.equal(r.duplicateExecutions, 0, 'no job run twice');
      assert.deepEqual(early, [], 'no delayed job ran before its due time');
      assert.equal(aheadRun, DELAYED, 'every delayed job ran');
      assert.ok(maxLateMs < 10_000, `delayed jobs ran on time, not minutes late (latest ${maxLateMs} ms after due)`);
      assert.equal(ticksEarly, 0, 'no schedule occurrence ran before its due time');
      assert.equal(tickGaps, 0, 'every occurrence fired once, none skipped');
      // ~7.5 s of the schedule at one per 500 ms: not the hundreds a scheduler five minutes ahead fires.
      assert.ok(ticks.length >= 8 && ticks.length <= 40, `${ticks.length} occurrences fired`);
    }
  } finally {
    await Promise.all(all.map((p) => p.kill9()));
    await store.close();
    await t.cleanup();
  }
}

describe('chaos: clocks that disagree', () => {
  SHARED.forEach((factory, i) => {
    const skip = faketime || skips[i];
    it(`${factory.name}: skewed and stepped clocks run no job twice, and no delayed job or schedule occurrence early or late`, { skip }, () => skewRun(factory, false));
    // The control (it proves the test above can fail): on Redis in the short form, on every store in the long one.
    if (LONG || factory.name === 'redis') {
      it(`${factory.name}: the control, each process on its own clock, takes live leases and runs delayed jobs and occurrences early`, { skip }, () => skewRun(factory, true));
    }
  });
});
