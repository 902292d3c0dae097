// Crash test on PostgreSQL: worker processes killed with kill -9 while they run jobs lose nothing.
// Killed workers' leases expire; another process's maintenance puts their jobs back. A job runs
// again only after a recorded stall (at-least-once, duplicates bounded by what the dead held).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { Queue } from '../../src/core/queue.js';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { dropSchema, pgSkip, schemaUrl, testSchema } from '../helpers/postgres.js';
import { childReady, until } from '../helpers/await.js';

const skip = await pgSkip();
const WORKER = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'pg-crash-worker.js');

describe('PostgreSQL crash test', { skip }, () => {
  it('loses no job when worker processes are killed with SIGKILL mid-work', async () => {
    const schema = testSchema();
    // Small pools: five worker processes and the test share the server's 100 connections with
    // the PostgreSQL test file that runs beside this one (a full suite once ran out of them).
    const url = schemaUrl(schema, '&max=4');
    const store = await PostgresStore.open(schemaUrl(schema, '&max=3'));
    await store.pool.query(`CREATE TABLE "${schema}".executions (job_id text NOT NULL, pid integer NOT NULL)`);
    const children = new Set<ChildProcess>();
    const spawnWorker = async () => {
      const c = fork(WORKER, [url, schema], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      children.add(c);
      c.once('exit', () => children.delete(c));
      // Starting one beside a loaded suite has taken seconds, so the bound is wide.
      await childReady(c, 'worker process', 60_000);
      return c;
    };
    const KILLS = 8;
    try {
      const N = 1500;
      const q = new Queue(store);
      // Held until every first worker is up: on a loaded machine starting a process takes seconds,
      // and the first one alone could run every job before a kill lands (then no kill hits a job).
      await store.pauseQueue({ queue: 'crash', now: Date.now() });
      for (let i = 0; i < N; i += 500) {
        await q.enqueueMany(Array.from({ length: 500 }, (_, k) => ({
          id: `job-${i + k}`, task: 'work', queue: 'crash', payload: { ms: 60 + ((i + k) % 80) }, maxStalls: 20, maxAttempts: 1,
        })));
      }
      for (let i = 0; i < 4; i++) await spawnWorker();
      await store.resumeQueue({ queue: 'crash', now: Date.now() });
      let kills = 0;
      // When each was killed, on the store's clock (which stall recovery's endedAt is written on).
      const killedAt = new Map<number, number>();
      // The jobs each killed process held (leased: running, claimed ahead, or run with its outcome not
      // yet stored): only these may run again. Read just before the kill and again once it is dead
      // (before its leases can run out), so a claim in between counts too.
      const held = new Set<string>();
      const heldBy = async (pid: number) => (await store.listJobs({ queue: 'crash', state: 'active', limit: 1000 })).items
        .filter((j) => j.workerId?.includes(`:${pid}:`)).map((j) => `${pid}/${j.id}`);
      while (kills < KILLS) {
        await new Promise((r) => setTimeout(r, 250));
        const victims = [...children];
        const victim = victims[Math.floor(Math.random() * victims.length)]!;
        const gone = new Promise((r) => victim.once('exit', r));
        const before = await heldBy(victim.pid!);
        killedAt.set(victim.pid!, store.clock.now());
        victim.kill('SIGKILL');
        await gone;
        for (const key of [...before, ...(await heldBy(victim.pid!))]) held.add(key);
        kills++;
        await spawnWorker();
      }
      await until(async () => (await store.countJobs({ queue: 'crash' })).crash!.completed === N, 120_000,
        async () => `every job completed; counts then ${JSON.stringify((await store.countJobs({ queue: 'crash' })).crash)}, ${kills} kills`, 100);
      const c = (await store.countJobs({ queue: 'crash' })).crash!;
      assert.deepEqual(c, { scheduled: 0, queued: 0, active: 0, completed: N, failed: 0, cancelled: 0 });
      // Per job: its runs, and the processes they ran in.
      const execs = new Map((await store.pool.query<{ job_id: string; n: number; pids: number[] }>(
        `SELECT job_id, count(*)::int AS n, array_agg(pid) AS pids FROM "${schema}".executions GROUP BY job_id`)).rows
        .map((r) => [r.job_id, { n: r.n, pids: r.pids }]));
      let stalled = 0;
      let duplicates = 0;
      // A rerun of a job a killed process ran: a stall of that process recovered after its kill. The
      // others are reruns after a live process's lease ran out (an event loop held past the 1000 ms lease
      // on a loaded machine): allowed, each a stall, even in a process killed later.
      let duplicatesOfKills = 0;
      for (let i = 0; i < N; i++) {
        const j = (await store.getJob({ id: `job-${i}` }))!;
        assert.equal(j.state, 'completed');
        const { n, pids } = execs.get(j.id) ?? { n: 0, pids: [] };
        assert.ok(n >= 1, `${j.id} completed but never ran`);
        assert.ok(n <= j.stalls + 1, `${j.id} ran ${n} times with ${j.stalls} stalls`);
        duplicates += n - 1;
        for (const h of j.history) {
          const pid = Number(h.workerId?.split(':')[1]);
          if (h.outcome !== 'stalled' || !pids.includes(pid) || !(h.endedAt! >= (killedAt.get(pid) ?? Infinity))) continue;
          duplicatesOfKills++;
          assert.ok(held.has(`${pid}/${j.id}`), `${j.id} ran in ${pid}, and again after its kill, but ${pid} did not hold it`);
        }
        if (j.stalls > 0) {
          stalled++;
          assert.ok(j.history.some((h) => h.outcome === 'stalled'));
          assert.equal(j.history.at(-1)!.outcome, 'completed');
        }
      }
      console.log(`pg crash test: ${kills} kills, ${stalled} jobs recovered from dead workers, ${duplicates} duplicate runs (${duplicatesOfKills} of the ${held.size} jobs killed processes held), ${N} of ${N} completed`);
      assert.ok(stalled > 0, 'the kills hit running jobs');
      assert.ok(duplicatesOfKills <= held.size, `${duplicatesOfKills} reruns of killed processes' jobs, which held ${held.size}`);
    } finally {
      for (const c of children) c.kill('SIGKILL');
      await store.close();
      // Killed processes' connections end with them; the server may take a moment to notice.
      await dropSchema(schema);
    }
  });
});
