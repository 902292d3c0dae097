// Crash test on Redis: worker processes killed with kill -9 while they run jobs lose nothing.
// Killed workers' leases expire; another process's maintenance sweep puts their jobs back.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { Queue } from '../../src/core/queue.js';
import { REDIS_URL, dropPrefix, openTestStore, redisSkip, testPrefix } from '../helpers/redis.js';
import { childReady, until } from '../helpers/await.js';

const skip = await redisSkip();
const WORKER = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'redis-crash-worker.js');

describe('Redis crash test', { skip }, () => {
  it('loses no job when worker processes are killed with SIGKILL mid-work', async () => {
    const prefix = testPrefix();
    const store = openTestStore(REDIS_URL, prefix);
    const children = new Set<ChildProcess>();
    const spawnWorker = async () => {
      const c = fork(WORKER, [REDIS_URL, prefix], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      children.add(c);
      c.once('exit', () => children.delete(c));
      // Starting one beside a loaded suite has taken seconds, so the bound is wide.
      await childReady(c, 'worker process', 60_000);
      return c;
    };
    try {
      const N = 1500;
      const q = new Queue(store);
      // Held until every first worker is up: on a loaded machine starting a process takes seconds,
      // and the first one alone could run every job before a kill lands (then no kill hits a job).
      await store.pauseQueue({ queue: 'crash', now: Date.now() });
      for (let i = 0; i < N; i += 500) {
        await q.enqueueMany(Array.from({ length: 500 }, (_, k) => ({
          id: `job-${i + k}`, task: 'work', queue: 'crash', payload: { ms: 20 + ((i + k) % 40) }, maxStalls: 20,
        })));
      }
      for (let i = 0; i < 4; i++) await spawnWorker();
      await store.resumeQueue({ queue: 'crash', now: Date.now() });
      let kills = 0;
      // Kill a random worker every 250 ms while work remains, replacing it, eight times.
      while (kills < 8) {
        await new Promise((r) => setTimeout(r, 250));
        const victims = [...children];
        const victim = victims[Math.floor(Math.random() * victims.length)]!;
        const gone = new Promise((r) => victim.once('exit', r));
        victim.kill('SIGKILL');
        await gone;
        kills++;
        await spawnWorker();
      }
      await until(async () => (await store.countJobs({ queue: 'crash' })).crash!.completed === N, 120_000,
        async () => `every job completed; counts then ${JSON.stringify((await store.countJobs({ queue: 'crash' })).crash)}, ${kills} kills`, 100);
      const c = (await store.countJobs({ queue: 'crash' })).crash!;
      assert.deepEqual(c, { scheduled: 0, queued: 0, active: 0, completed: N, failed: 0, cancelled: 0 });
      // Jobs that were running in a killed process show it: a stalled attempt in their history.
      let stalled = 0;
      for (let i = 0; i < N; i++) {
        const j = (await store.getJob({ id: `job-${i}` }))!;
        assert.equal(j.state, 'completed');
        if (j.stalls > 0) {
          stalled++;
          assert.ok(j.history.some((h) => h.outcome === 'stalled'));
          assert.equal(j.history.at(-1)!.outcome, 'completed');
        }
      }
      console.log(`crash test: ${kills} kills, ${stalled} jobs recovered from dead workers, ${N} of ${N} completed`);
      assert.ok(stalled > 0, 'the kills hit running jobs');
    } finally {
      for (const c of children) c.kill('SIGKILL');
      await dropPrefix(store.client, prefix);
      await store.close();
    }
  });
});
