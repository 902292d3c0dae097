// The sweep lock (one recoverExpired at a time across processes) on Redis: a sweeper killed while
// it holds the lock holds recovery up for the lock's short life, not a minute; a long sweep keeps
// its lock by renewing it between batches.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { Redis } from 'ioredis';
import { Worker } from '../../src/core/worker.js';
import { Maintenance } from '../../src/core/maintenance.js';
import { Queue } from '../../src/core/queue.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { REDIS_URL, dropPrefix, openTestStore, redisSkip, testPrefix } from '../helpers/redis.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { parseRedisUrl } from '../../src/stores/redis/connect.js';
import { childReady, deferred, within } from '../helpers/await.js';

const skip = await redisSkip();
const SWEEPER = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'redis-sweeper.js');
/** The store's default sweepLockMs. */
const LOCK_MS = 5000;

describe('Redis sweep lock', { skip }, () => {
  it('a sweeper killed while it holds the lock delays the dead worker\'s jobs by at most the lock\'s life', async () => {
    const prefix = testPrefix();
    const store = openTestStore(REDIS_URL, prefix);
    const admin = new Redis(REDIS_URL);
    const lockKey = `{${prefix}}:sweep`;
    const N = 50;
    const LEASE = 3000;
    let worker: Worker | null = null;
    let maint: Maintenance | null = null;
    const child = fork(SWEEPER, [REDIS_URL, prefix], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    try {
      const q = new Queue(store);
      await q.enqueueMany(Array.from({ length: N }, (_, k) => ({ id: `d-${k}`, task: 't', queue: 'sweep', payload: {} })));
      // A worker that claims and dies: nothing ever heartbeats these leases.
      const t0 = Date.now();
      const dead = await store.claimJobs({ queues: ['sweep'], workerId: 'dead', limit: N, leaseMs: LEASE, now: t0 });
      assert.equal(dead.jobs.length, N);

      await childReady(child, 'sweeper process', 10_000);
      // Freeze the sweeper; if it holds the lock, kill it there (mid-sweep), else let it go on a moment.
      let holder: string | null = null;
      for (let i = 0; i < 500 && holder === null; i++) {
        child.kill('SIGSTOP');
        holder = await admin.get(lockKey);
        if (holder === null) {
          child.kill('SIGCONT');
          await new Promise((r) => setTimeout(r, 1 + (i % 5)));
        }
      }
      assert.ok(holder !== null, 'caught the sweeper holding the lock');
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
      const killedAt = Date.now();
      const ttl = await admin.pttl(lockKey);
      assert.equal(await admin.get(lockKey), holder, 'the dead sweeper\'s lock is still there');
      assert.ok(ttl > 0 && ttl <= LOCK_MS, `the lock lapses on its own, soon (pttl ${ttl} ms)`);

      // Live processes go on: a worker and its maintenance sweep.
      const done = new Map<string, number>();
      const all = deferred();
      const reg = new TaskRegistry().register('t', async (_p: unknown, ctx) => {
        done.set(ctx.job.id, Date.now());
        if (done.size === N) all.resolve();
      });
      worker = new Worker(store, reg, { queues: ['sweep'], concurrency: 10, leaseMs: LEASE, pollMs: 100 }).start();
      maint = new Maintenance(store, { intervalMs: 100 }).start();
      await within(all.promise, LEASE + LOCK_MS + 10_000, 'every job of the dead worker ran');
      const last = Math.max(...done.values());
      console.log(`sweep lock: sweeper killed holding the lock (pttl ${ttl} ms) ${killedAt - t0} ms after the dead claim; ` +
        `the dead worker's ${N} jobs (lease ${LEASE} ms) all ran ${last - t0} ms after it`);
      assert.ok(last - t0 < LEASE + LOCK_MS + 3000, `recovered within lease + lock time (${last - t0} ms)`);
      for (let k = 0; k < N; k++) assert.equal((await store.getJob({ id: `d-${k}` }))!.stalls, 1);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await maint?.stop();
      await worker?.stop(1000);
      await dropPrefix(admin, prefix);
      admin.disconnect();
      await store.close();
    }
  });

  it('a long sweep renews its lock between batches, so no other sweeper cuts in', async () => {
    const prefix = testPrefix();
    // The sweep (~100 jobs a ms here, ~345 ms) outlasts the lock 2.3 times, renewed every 50 ms: the
    // rival gets in only if one batch or event-loop pause lasts ~100 ms (with a 60 ms lock, 40 ms
    // was enough on a busy CI).
    const LOCK = 150;
    const first = new RedisStore(parseRedisUrl(REDIS_URL), { prefix, sweepLockMs: LOCK });
    const second = new RedisStore(parseRedisUrl(REDIS_URL), { prefix, sweepLockMs: LOCK });
    const admin = new Redis(REDIS_URL);
    try {
      const N = 36_000;
      const q = new Queue(first);
      for (let i = 0; i < N; i += 2000) {
        await q.enqueueMany(Array.from({ length: 2000 }, (_, k) => ({ id: `e-${i + k}`, task: 't', queue: 'long', payload: {} })));
        await first.claimJobs({ queues: ['long'], workerId: 'dead', limit: 2000, leaseMs: 1, now: 1 });
      }
      let stop = false;
      let stolen = 0;
      let tries = 0;
      // The first sweep's lock call goes out now; the rival's right after, and again until it is over.
      const t = performance.now();
      const sweep = first.recoverExpiredJobs({ now: Date.now(), limit: N });
      const rival = (async () => {
        while (!stop) {
          const r = await second.recoverExpiredJobs({ now: Date.now(), limit: N });
          tries++;
          stolen += r.requeued.length;
        }
      })();
      const r = await sweep;
      const took = performance.now() - t;
      stop = true;
      await rival;
      console.log(`sweep lock: one sweep of ${r.requeued.length + stolen} expired leases took ${took.toFixed(0)} ms with a ${LOCK} ms lock, ` +
        `renewed ${first.stats.sweepRenewals} times; a rival sweeper tried ${tries} times and took ${stolen}`);
      assert.equal(r.requeued.length + stolen, N);
      if (r.requeued.length === N) {
        // The sweep outlived its lock only by renewing it.
        if (took > LOCK) assert.ok(first.stats.sweepRenewals > 0);
      } else {
        // The rival got in first; then it is the one that held on.
        assert.equal(stolen, N, 'one sweeper did it all');
      }
      assert.equal(await admin.exists(`{${prefix}}:sweep`), 0, 'both sweeps left no lock');
    } finally {
      await dropPrefix(admin, prefix);
      admin.disconnect();
      await Promise.all([first.close(), second.close()]);
    }
  });
});
