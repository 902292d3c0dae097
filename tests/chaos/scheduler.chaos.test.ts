// Chaos: two and three `fusion scheduler` processes on one store, one of them killed with kill -9
// mid-run: every occurrence of every schedule fired exactly once (consecutive, no gap, no double),
// and the schedules' run counts agree with the jobs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Scheduler } from '../../src/core/scheduler.js';
import { CLI } from '../helpers/net.js';
import { Proc, STORES, allJobs, report, size, sleep } from '../helpers/chaos.js';

const skips = await Promise.all(STORES.map((f) => f.skip()));
const TASKS = join(process.cwd(), 'dist/tests/helpers/chaos-tasks.js');
const EVERY = 100;

STORES.forEach((factory, i) => {
  describe(`chaos: scheduler processes on ${factory.name}`, { skip: skips[i] }, () => {
    // Short form: three processes (the survivors two); long form: two and three.
    for (const n of size([3], [2, 3])) {
      it(`${n} scheduler processes, one killed mid-run: every occurrence fired once`, async () => {
        const t = await factory.create();
        const store = await t.open();
        const procs: Proc[] = [];
        try {
          const admin = new Scheduler(store);
          const ids = ['s0', 's1', 's2', 's3', 's4'];
          for (const id of ids) await admin.create({ id, trigger: { every: `${EVERY}ms` }, template: { task: 'chaos', queue: 'chaos' }, misfire: 'catch-up' });
          for (let k = 0; k < n; k++) {
            procs.push(new Proc([CLI, 'scheduler', '--store', t.url, '--tasks', TASKS, '--log-level', 'info'], { env: { FUSION_CONFIG: '' } }));
          }
          await Promise.all(procs.map((p) => p.line('scheduler running')));
          await sleep(size(1500, 20_000));
          const victim = procs[Math.floor(Math.random() * n)]!;
          await victim.kill9();
          const killedAt = Date.now();
          await sleep(size(1500, 20_000));
          const stoppingAt = Date.now();
          for (const p of procs.filter((p) => p !== victim)) assert.equal((await p.term()).code, 0);

          // A process killed between advancing a schedule and adding its job leaves the job in the
          // store's outbox (Redis); the lease sweep every worker's maintenance runs delivers it.
          const before = (await allJobs(store, 'chaos')).length;
          await store.recoverExpiredJobs({ now: Date.now() });
          const jobs = await allJobs(store, 'chaos');
          const redelivered = jobs.length - before;
          let total = 0;
          let gaps = 0;
          let doubles = 0;
          let afterKill = 0;
          for (const id of ids) {
            const sched = (await admin.get(id))!;
            const runs = jobs.filter((j) => j.scheduleId === id).map((j) => j.runAt).sort((a, b) => a - b);
            for (let k = 1; k < runs.length; k++) {
              const d = runs[k]! - runs[k - 1]!;
              if (d > EVERY) gaps++;
              if (d < EVERY) doubles++;
            }
            assert.ok(runs.at(-1)! >= stoppingAt - 1000, `${id}: the survivors fired until they stopped (last ${stoppingAt - runs.at(-1)!} ms before)`);
            afterKill += runs.filter((r) => r > killedAt).length;
            assert.equal(sched.runCount, runs.length, `${id}: run count ${sched.runCount} = jobs ${runs.length}`);
            total += runs.length;
          }
          report({ test: 'scheduler-kill', store: t.store, processes: n, killed: 1, schedules: ids.length, everyMs: EVERY, occurrences: total, firedAfterKill: afterKill, redeliveredBySweep: redelivered, gaps, duplicates: doubles, lost: gaps });
          assert.equal(gaps, 0, 'no occurrence skipped');
          assert.equal(doubles, 0, 'no occurrence fired twice');
          assert.ok(afterKill > 0, 'the survivors went on firing after the kill');
          assert.ok(total >= ids.length * 10, `enough occurrences to prove anything (${total})`);
        } finally {
          await Promise.all(procs.map((p) => p.kill9()));
          await store.close();
          await t.cleanup();
        }
      });
    }
  });
});
