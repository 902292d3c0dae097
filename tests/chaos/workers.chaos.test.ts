// Chaos: worker processes under kill -9 and under SIGTERM, on every store (kill -9 on Redis Cluster
// too). A producer keeps adding jobs for as long as the kills go on, so the work cannot run out
// before the kills land however slow the machine is; a process is killed only once it has said it
// runs jobs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers/await.js';
import { LONG, REDIS_CLUSTER, STORES, allJobs, chaosWorker, countsOf, executions, producer, report, rssMb, size, sleep, snoozesOf, tally, workerFleet, type Proc, type StoreFactory } from '../helpers/chaos.js';

const skips = await Promise.all(STORES.map((f) => f.skip()));
const clusterSkip = await REDIS_CLUSTER.skip();
const CRASH_TEST = 'kill -9 at random with replacements: every acknowledged job completed once in state, at least once in effect';

async function crashRun(factory: StoreFactory): Promise<void> {
  const t = await factory.create();
  const store = await t.open();
  const PROCS = size(3, 4);
  const KILLS = size(3, 30);
  const CONC = 8;
  // 50-150 ms jobs against ~300 added per second: more than 3 processes of 8 can run, so every
  // process is full all the time and each kill lands on jobs in flight.
  const fleet = workerFleet({ url: t.url, logDir: t.dir, concurrency: CONC, leaseMs: 1000, workMs: [50, 150] });
  const { live } = fleet;
  const started = Date.now();
  // One job in three snoozes twice (20-50 ms each) before it runs: a snooze is an outcome like any
  // other under the kills, and spends no attempt (each job has one).
  const SNOOZES = 2;
  const prod = producer(store, { batch: size(30, 30), everyMs: 100, extra: (k) => (k % 3 === 0 ? { payload: { snooze: SNOOZES } } : {}) });
  try {
    const first = await fleet.start(PROCS);
    const rssStart = Math.max(...first.map((p) => rssMb(p.pid) ?? 0));
    const killed = await fleet.killAtRandom(KILLS, [200, 800]);
    await prod.stop();
    const rssEnd = Math.max(...[...live].map((p) => rssMb(p.pid) ?? 0));
    const jobs = prod.acked.size;
    await until(async () => (await countsOf(store)).completed >= jobs, size(120_000, 300_000), `all ${jobs} jobs completed`, 100);
    for (const p of [...live]) assert.equal((await p.term()).code, 0, 'a surviving worker exits 0 on SIGTERM');

    const all = await allJobs(store, 'chaos');
    const execs = executions(t.dir);
    const r = tally(all, prod.acked, execs);
    let maxRecoveryMs = 0;
    // A stall on a killed process is the kill's doing; one on a live process is a lease its heartbeat
    // failed to extend in time (a starved machine; the at-least-once the lease contract allows).
    // Worker ids are host:pid:random. A job's re-executions are charged to its kill stalls first.
    let stallsOfLiveProcesses = 0;
    let duplicatesOfKills = 0;
    for (const j of all) {
      let ofKills = 0;
      for (let k = 0; k + 1 < j.history.length; k++) {
        const h = j.history[k]!;
        if (h.outcome !== 'stalled') continue;
        maxRecoveryMs = Math.max(maxRecoveryMs, j.history[k + 1]!.startedAt - h.startedAt);
        if (killed.has(Number(h.workerId.split(':').at(-2)))) ofKills++;
        else stallsOfLiveProcesses++;
      }
      duplicatesOfKills += Math.min(ofKills, Math.max(0, (execs.get(j.id) ?? 0) - 1));
    }
    const executionsTotal = [...execs.values()].reduce((a, b) => a + b, 0);
    const snoozing = all.filter((j) => (j.payload as { snooze?: number } | null)?.snooze);
    const snoozes = snoozing.reduce((n, j) => n + snoozesOf(j.history), 0);
    report({
      test: 'worker-crash', store: t.store, processes: PROCS, concurrency: CONC, kills: KILLS, jobs, acknowledged: jobs,
      completed: (await countsOf(store)).completed, lost: r.lost, executions: executionsTotal, duplicateExecutions: r.duplicateExecutions,
      stalls: r.stalls, stallsOfLiveProcesses, duplicatesOfKills, maxRecoveryMs, snoozingJobs: snoozing.length, snoozes,
      rssStartMb: rssStart, rssEndMb: rssEnd, ms: Date.now() - started,
    });
    assert.equal(r.lost, 0, `acknowledged jobs not completed: ${r.problems.join(', ')}`);
    assert.equal(all.length, jobs, 'no job beyond the acknowledged ones');
    assert.equal(r.doubleCompleted, 0, 'a job completed twice in state');
    assert.equal(r.notRun, 0, 'a job completed whose handler never ran');
    assert.deepEqual(await countsOf(store), { scheduled: 0, queued: 0, active: 0, completed: jobs, failed: 0, cancelled: 0 });
    assert.ok(r.stalls > 0, 'no kill caught a job in flight: the test proved nothing');
    // Every snoozing job snoozed its two times (more where a kill lost a snooze's lease) and ran on its one attempt.
    assert.ok(snoozing.length >= jobs / 3 - 1, `${snoozing.length} snoozing jobs of ${jobs}`);
    for (const j of snoozing) {
      assert.ok(snoozesOf(j.history) >= SNOOZES, `${j.id} snoozed ${snoozesOf(j.history)} times`);
      assert.equal(j.attempts, 1, `${j.id}: a snooze spends no attempt`);
    }
    // Each kill can repeat at most what the victim held: up to `concurrency` jobs running, plus up to
    // as many already run whose outcomes were in flight to the store (a worker claims their slots
    // again in the same store call, so both are held at once).
    assert.ok(duplicatesOfKills <= KILLS * 2 * CONC, `${duplicatesOfKills} duplicates for ${KILLS} kills`);
    // Every re-execution follows a lost lease.
    for (const j of all) assert.ok((execs.get(j.id) ?? 0) <= j.stalls + 1, `${j.id} ran ${execs.get(j.id)} times with ${j.stalls} stalls`);
  } finally {
    await prod.stop().catch(() => {});
    await fleet.killAll();
    await store.close();
    await t.cleanup();
  }
}

STORES.forEach((factory, i) => {
  describe(`chaos: worker processes on ${factory.name}`, { skip: skips[i] }, () => {
    it(CRASH_TEST, () => crashRun(factory));

    it('SIGTERM during load: every worker exits 0 and nothing is left active', async () => {
      const t = await factory.create();
      const store = await t.open();
      const live: Proc[] = [];
      // Long leases: only the graceful release, not lease expiry, can leave nothing active.
      const prod = producer(store, { batch: 20, everyMs: 100 });
      try {
        for (let k = 0; k < 3; k++) live.push(chaosWorker({ url: t.url, logDir: t.dir, concurrency: 8, leaseMs: 60_000, workMs: [20, 200], graceMs: 100, maintenanceMs: 0 }));
        await Promise.all(live.map((p) => p.line('RUNNING')));
        await sleep(size(500, 5000));
        const before = await countsOf(store);
        const exits = await Promise.all(live.map((p) => p.term()));
        await prod.stop();
        const after = await countsOf(store);
        report({
          test: 'graceful-shutdown', store: t.store, processes: live.length, jobs: prod.acked.size, acknowledged: prod.acked.size,
          completed: after.completed, activeAtSignal: before.active, activeAfter: after.active, lost: prod.acked.size - (after.completed + after.queued + after.scheduled),
        });
        for (const e of exits) assert.equal(e.code, 0);
        assert.ok(before.active > 0, 'jobs were running when the signal came');
        assert.equal(after.active, 0, 'nothing left active');
        assert.equal(after.failed, 0);
        assert.equal(after.completed + after.queued + after.scheduled, prod.acked.size, 'every acknowledged job is completed or back in the queue');
        const given = (await allJobs(store, 'chaos')).filter((j) => j.state === 'queued' && j.history.some((h) => h.outcome === 'released'));
        assert.ok(given.every((j) => j.attempts === 0 && j.stalls === 0), 'a given-back job counts no attempt and no stall');
      } finally {
        await prod.stop().catch(() => {});
        await Promise.all(live.map((p) => p.kill9()));
        await store.close();
        await t.cleanup();
      }
    });
  });
});

// Long form only: a cluster of its own plus process starts cost the short form too much time
// (scale.chaos.test.ts runs worker processes on Redis Cluster in the short form).
if (LONG) {
  describe(`chaos: worker processes on ${REDIS_CLUSTER.name}`, { skip: clusterSkip }, () => {
    it(CRASH_TEST, () => crashRun(REDIS_CLUSTER));
  });
}
