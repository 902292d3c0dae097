// A worker whose command connection is killed again and again (CLIENT KILL, as a flaky network or a
// proxy would) while it claims: every claim whose answer was cut off is sent again by ioredis after
// the reconnect, and the jobs its first run leased must go back at once, not wait out their lease
// (60 s here: on a loaded 2-core box the whole run has taken 18 s) and count a stall. A sweeper on
// the same store meanwhile must never leave its lock behind after a sweep that returned.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Worker } from '../../src/core/worker.js';
import { Queue } from '../../src/core/queue.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { OwnRedis, REDIS_URL, dropPrefix, hasRedisServer, openTestStore, redisSkip, testPrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/net.js';
import { deferred, until, within } from '../helpers/await.js';
import { allJobs } from '../helpers/chaos.js';
import type { ClaimResult } from '../../src/core/store.js';

const skip = await redisSkip();

/** Keeps Redis busy for ARGV[1] microseconds. */
const BUSY = `local s = redis.call('TIME')
local t0 = s[1] * 1000000 + s[2]
repeat local n = redis.call('TIME') until n[1] * 1000000 + n[2] - t0 >= tonumber(ARGV[1])
return 1`;

/**
 * Gives Redis time to read a BUSY script just sent and start it. A command sent earlier on one
 * connection is not necessarily read before one sent later on another: without this, the CLIENT
 * KILL that follows overtook the script and the claim about one time in five (an strace of Redis:
 * the admin's socket read first, the store's closed unread), and the claim then ran only once.
 * Redis answers nothing while inside a script, so there is no event to wait for; the script lasts
 * five times this.
 */
const insideScript = () => new Promise((r) => setTimeout(r, 20));

/** Connection ids of one store role (the store names its connections fusion:<prefix>:<role>). */
async function connectionIds(admin: Redis, name: string): Promise<string[]> {
  const list = (await admin.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string;
  return list.split('\n').filter((l) => l.includes(` name=${name} `)).map((l) => /id=(\d+)/.exec(l)![1]!);
}

describe('Redis: claims whose answers a dropped connection lost', { skip }, () => {
  it('puts their jobs back at once under a CLIENT KILL loop: none waits a lease, none stalls, none is lost', async () => {
    const prefix = testPrefix();
    const store = openTestStore(REDIS_URL, prefix);
    const admin = new Redis(REDIS_URL);
    // Enough jobs that the run outlasts dozens of kill rounds however fast the claims go (3,000 took 2.9 s on a fast day).
    const N = 6000;
    const LEASE = 60_000;
    const runs = new Map<string, number>();
    const allRan = deferred();
    const reg = new TaskRegistry().register('t', async (_p: unknown, ctx) => {
      const n = (runs.get(ctx.job.id) ?? 0) + 1;
      runs.set(ctx.job.id, n);
      if (n === 1 && runs.size === N) allRan.resolve();
      await new Promise((r) => setImmediate(r));
    });
    let stop = false;
    let worker: Worker | null = null;
    try {
      const q = new Queue(store);
      for (let i = 0; i < N; i += 500) {
        await q.enqueueMany(Array.from({ length: 500 }, (_, k) => ({ id: `j-${i + k}`, task: 't', queue: 'lost', payload: {}, maxStalls: 1 })));
      }
      const cmd = `fusion:${prefix}:cmd`;
      const events = `fusion:${prefix}:events`;
      let kills = 0;
      const killer = (async () => {
        for (let round = 0; !stop; round++) {
          // The command connection every round, the event connection every fifth.
          const ids = [...await connectionIds(admin, cmd), ...(round % 5 === 4 ? await connectionIds(admin, events) : [])];
          for (const id of ids) kills += Number(await admin.client('KILL', 'ID', id));
          await new Promise((r) => setTimeout(r, 2 + Math.random() * 10));
        }
      })();
      // A sweeper on the same store: after each sweep that returned, its lock must be gone.
      const lockKey = `{${prefix}}:sweep`;
      let sweeps = 0;
      let sweepErrors = 0;
      let orphaned = 0;
      const sweeper = (async () => {
        while (!stop) {
          try {
            await store.recoverExpiredJobs({ now: Date.now() });
            sweeps++;
            if (await admin.exists(lockKey)) orphaned++;
          } catch {
            sweepErrors++;
          }
        }
      })();
      const started = Date.now();
      worker = new Worker(store, reg, { queues: ['lost'], concurrency: 16, batchSize: 16, leaseMs: LEASE, pollMs: 200 }).start();
      await within(allRan.promise, LEASE - 5000, 'every job ran once, long before a lease would have run out');
      await until(async () => (await store.countJobs({ queue: 'lost' })).lost!.completed === N, 10_000, 'every outcome stored', 50);
      const elapsed = Date.now() - started;
      stop = true;
      await Promise.all([killer, sweeper]);
      await worker.stop(1000);
      worker = null;

      const jobs = await allJobs(store, 'lost');
      const stalls = jobs.reduce((s, j) => s + j.stalls, 0);
      const reruns = [...runs.values()].reduce((s, n) => s + n - 1, 0);
      const maxWait = Math.max(...jobs.map((j) => j.endedAt! - started));
      console.log(`lost claims: ${N} jobs, lease ${LEASE} ms, ${kills} CLIENT KILLs in ${elapsed} ms; ` +
        `${store.stats.lostClaims} claims answered after a drop or failed, ${store.stats.releasedJobs} jobs put back; ` +
        `${stalls} stalls, ${reruns} re-executions, max wait ${maxWait} ms; ${sweeps} sweeps (${sweepErrors} failed), ${orphaned} left their lock`);
      // The run overlapped the kill loop: connections were killed and claims cut off by it.
      assert.ok(kills >= 20, `the loop killed connections (${kills})`);
      assert.ok(store.stats.lostClaims >= 5, `kills cut claims off (${store.stats.lostClaims})`);
      assert.equal(jobs.length, N);
      assert.deepEqual((await store.countJobs({ queue: 'lost' })).lost, { scheduled: 0, queued: 0, active: 0, completed: N, failed: 0, cancelled: 0 });
      assert.equal(runs.size, N, 'every job ran');
      assert.equal(stalls, 0, 'no stall counted: no worker died');
      assert.ok(maxWait < LEASE / 2, `no job waited anywhere near a lease (max ${maxWait} ms)`);
      assert.equal(orphaned, 0, 'no returned sweep left its lock behind');
      assert.ok(sweeps > 0);
    } finally {
      stop = true;
      await worker?.stop(1000);
      await dropPrefix(admin, prefix);
      admin.disconnect();
      await store.close();
    }
  });

  it('puts back what a claim leased when its answer is lost, keeping what came back', { skip: hasRedisServer() ? false : 'redis-server not installed' }, async () => {
    // The claim's answer is lost for sure: on a Redis of the test's own, a 100 ms script runs first
    // on the store's connection; once Redis is inside it the claim is sent, then the CLIENT KILL,
    // and both wait in their sockets, so Redis runs the claim and then drops the connection with
    // its answer. ioredis sends the claim again after the reconnect, and that run takes other jobs
    // under the same token. Exactly the jobs the caller holds must stay active; the rest go back
    // untouched.
    const redis = new OwnRedis(await freePort());
    await redis.start();
    const prefix = testPrefix();
    const store = openTestStore(redis.url, prefix);
    const admin = new Redis(redis.url);
    try {
      const q = new Queue(store);
      let tries = 0;
      let putBack = 0;
      for (; tries < 15 && putBack < 30; tries++) {
        const queue = `cut-${tries}`;
        await q.enqueueMany(Array.from({ length: 40 }, (_, k) => ({ id: `k-${tries}-${k}`, task: 't', queue, payload: {} })));
        const ids = await connectionIds(admin, `fusion:${prefix}:cmd`);
        assert.equal(ids.length, 1);
        const before = store.stats.releasedJobs;
        const busy = store.client.eval(BUSY, 0, '100000');
        await insideScript();
        const claim = store.claimJobs({ queues: [queue], workerId: 'w', limit: 10, leaseMs: 30_000, now: Date.now() });
        await admin.client('KILL', 'ID', ids[0]!);
        const got = await within(claim, 10_000, 'the claim answers after the reconnect');
        await busy;
        const released = store.stats.releasedJobs - before;
        putBack += released;
        const c = (await store.countJobs({ queue }))[queue]!;
        assert.equal(got.jobs.length, 10);
        assert.equal(c.active, 10, `active ${c.active}: the ${released} jobs of the lost run went back`);
        assert.equal(c.queued, 30);
        for (const j of got.jobs) assert.equal((await store.getJob({ id: j.id }))!.state, 'active');
        // Jobs put back were never started: no attempt, no stall, no history.
        const queued = (await store.listJobs({ queue, state: 'queued', limit: 100 })).items;
        for (const j of queued) assert.deepEqual([j.attempts, j.stalls, j.history.length, j.startedAt], [0, 0, 0, null]);
        // And they are first in line again: the lost run took the oldest ten.
        if (released === 10) {
          const held = new Set(got.jobs.map((j) => j.id));
          const next = await store.claimJobs({ queues: [queue], workerId: 'w2', limit: 10, leaseMs: 30_000, now: Date.now() });
          assert.deepEqual(next.jobs.map((j) => j.id).sort(), Array.from({ length: 10 }, (_, k) => `k-${tries}-${k}`).sort());
          for (const j of next.jobs) assert.ok(!held.has(j.id));
        }
      }
      console.log(`lost answers: ${tries} claims cut off, ${store.stats.lostClaims} answered after a drop, ${putBack} jobs put back`);
      assert.ok(putBack >= 20, `the first runs' jobs were put back (${putBack} in ${tries} tries)`);
    } finally {
      admin.disconnect();
      await store.close();
      await redis.stop();
    }
  });

  // The hand-off's part of a resend (lua/lib/handoff.lua, src/stores/redis/handoff.ts). An idle
  // worker's poll claim is cut off as above. Its first run found the queue dry and registered; an
  // add then took that registration (leased its first job to the worker under the registration's
  // token, listed it under that token and published it); the resend found the add's second job
  // queued and took it, so its answer names no registration. The worker takes no message for a
  // registration its claim's answer does not name: the handed job must go back to the queue with
  // the lost run's leftovers and run at once, once, not wait out its lease (30 s) leased to a
  // worker that never got it, and it runs as a first attempt (the put-back counts none).
  it("runs at once the job an add handed to a lost run's registration when the resend took other work", { skip: hasRedisServer() ? false : 'redis-server not installed' }, async () => {
    const redis = new OwnRedis(await freePort());
    await redis.start();
    const prefix = testPrefix();
    const store = openTestStore(redis.url, prefix);
    const producer = openTestStore(redis.url, prefix);
    const admin = new Redis(redis.url);
    const spy = new Redis(redis.url);
    const LEASE = 30_000;
    const runs = new Map<string, number>();
    const warmRan = deferred();
    const bothRan = deferred();
    const reg = new TaskRegistry().register('t', async (_p: unknown, ctx) => {
      runs.set(ctx.job.id, (runs.get(ctx.job.id) ?? 0) + 1);
      if (ctx.job.id === 'warm') warmRan.resolve();
      if (runs.has('first') && runs.has('second')) bothRan.resolve();
    });
    // The worker's next claim once armed goes behind a 100 ms script on the same connection, sent
    // once Redis is inside it (as in the test above).
    const claim = store.claimJobs.bind(store);
    let arm: ((cut: { busy: Promise<unknown>; answer: Promise<ClaimResult> }) => void) | null = null;
    store.claimJobs = async (r) => {
      const armed = arm;
      arm = null;
      if (!armed) return claim(r);
      const busy = store.client.eval(BUSY, 0, '100000');
      await insideScript();
      const answer = claim(r);
      armed({ busy, answer });
      return answer;
    };
    const q = new Queue(producer);
    const worker = new Worker(store, reg, { id: 'w1', queues: ['hand'], concurrency: 1, leaseMs: LEASE, pollMs: 1000 });
    try {
      const handed = deferred<{ t: string; r: string[] }>();
      // The add's message only: the worker may register before `warm` is added and get it handed too.
      spy.on('message', (_c, m: string) => {
        const message = JSON.parse(m) as { t: string; r: string[] };
        if (!message.r.some((row) => row.endsWith('\nwarm'))) handed.resolve(message);
      });
      await spy.subscribe(`${prefix}:events:h:w1`);
      // Connections, subscriptions and scripts in place: one job runs through first.
      worker.start();
      await q.enqueue({ id: 'warm', task: 't', queue: 'hand', payload: {} });
      await within(warmRan.promise, 10_000, 'the first job ran');
      const cmdId = String(await (store.client as Redis).client('ID'));
      const cut = deferred<{ busy: Promise<unknown>; answer: Promise<ClaimResult> }>();
      arm = cut.resolve;
      const { busy, answer } = await within(cut.promise, 10_000, 'the idle worker claims again');
      // Redis runs the claim after the busy script, then the kill drops the connection with its
      // answer; the add runs at once, and ioredis sends the claim again after the reconnect (50 ms on).
      await admin.client('KILL', 'ID', cmdId);
      const added = Date.now();
      await q.enqueueMany([{ id: 'first', task: 't', queue: 'hand', payload: {} }, { id: 'second', task: 't', queue: 'hand', payload: {} }]);
      const got = await within(answer, 10_000, 'the claim answers after the reconnect');
      await busy;
      const message = await within(handed.promise, 5000, 'the add handed a job to the idle worker');
      // The sequence above happened: the add handed `first` to the registration of the cut claim's
      // token, which only its first run could leave (the resend found work), and the resend took `second`.
      assert.deepEqual(got.jobs.map((j) => j.id), ['second'], 'the resend took the queued job');
      assert.equal(message.t, `${got.jobs[0]!.leaseToken}~`, "the add took the first run's registration");
      assert.match(message.r[0]!, /\nfirst$/);
      assert.ok(store.stats.lostClaims >= 1, 'the answer came after a drop');

      await within(bothRan.promise, LEASE / 6, 'the handed job ran, well before its lease would have run out');
      const waited = Date.now() - added;
      await until(async () => (await producer.countJobs({ queue: 'hand' })).hand!.completed === 3, 10_000, 'every outcome stored');
      assert.deepEqual(Object.fromEntries(runs), { warm: 1, first: 1, second: 1 }, 'each job ran once');
      assert.equal((await producer.getJob({ id: 'first' }))!.attempts, 1, 'the put-back counted no attempt');
      assert.deepEqual((await producer.countJobs({ queue: 'hand' })).hand, { scheduled: 0, queued: 0, active: 0, completed: 3, failed: 0, cancelled: 0 });
      assert.deepEqual(await admin.keys(`{${prefix}:hand}:h:*`), [], "no registration's list left");
      console.log(`hand-off after a resend: the handed job ran ${waited} ms after its add (lease ${LEASE} ms)`);
    } finally {
      await worker.stop(1000);
      spy.disconnect();
      admin.disconnect();
      await producer.close();
      await store.close();
      await redis.stop();
    }
  });
});
