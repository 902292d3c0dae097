// Chaos: the store under the workers fails. Redis connections of this test (and only this test:
// matched by the connection names its prefix gives them) are killed again and again; a private
// redis-server with `appendfsync always` is killed with SIGKILL and restarted mid-run. Nothing
// acknowledged is lost; the time until the workers complete jobs again is measured.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Queue } from '../../src/core/queue.js';
import type { Store } from '../../src/core/store.js';
import { OwnRedis, REDIS_URL, hasRedisServer, redisSkip } from '../helpers/redis.js';
import { freePort } from '../helpers/net.js';
import { until } from '../helpers/await.js';
import { allJobs, chaosWorker, countsOf, executions, producer, redisTarget, report, rssMb, size, sleep, tally, type Proc, type Target } from '../helpers/chaos.js';

const skip = await redisSkip();

/** CLIENT KILL of this prefix's connections only (the store names them fusion:<prefix>:<role>). */
async function killOurs(admin: Redis, prefix: string): Promise<number> {
  const list = (await admin.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string;
  const ids = list.split('\n').filter((l) => l.includes(` name=fusion:${prefix}:`)).map((l) => /id=(\d+)/.exec(l)![1]!);
  let n = 0;
  for (const id of ids) n += Number(await admin.client('KILL', 'ID', id));
  return n;
}

/** Retries a store read through a fault window. */
async function settled<T>(f: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await f();
    } catch (err) {
      if (i > 50) throw err;
      await sleep(200);
    }
  }
}

async function finish(t: Target, store: Store, workers: Proc[], prod: ReturnType<typeof producer>) {
  await prod.stop();
  // Every acknowledged job, and any add whose answer was lost but landed, must complete.
  await until(async () => {
    const c = await settled(() => countsOf(store));
    return c.queued + c.active + c.scheduled === 0 && c.completed >= prod.acked.size;
  }, size(120_000, 300_000), 'the backlog drained', 200);
  const rss = Math.max(...workers.map((p) => rssMb(p.pid) ?? 0));
  for (const p of workers) assert.equal((await p.term()).code, 0);
  const all = await allJobs(store, 'chaos');
  const r = tally(all, prod.acked, executions(t.dir));
  for (const j of all) assert.ok(prod.tried.has(j.id), `a job nobody sent: ${j.id}`);
  return { all, r, rss };
}

describe('chaos: Redis faults under load', { skip }, () => {
  it('CLIENT KILL of the workers\' and producer\'s connections, again and again: nothing acknowledged lost', async () => {
    const t = redisTarget();
    const store = await t.open();
    const admin = new Redis(REDIS_URL);
    const workers: Proc[] = [];
    const prod = producer(store, { batch: 20, everyMs: 50 });
    try {
      for (let k = 0; k < 2; k++) workers.push(chaosWorker({ url: t.url, logDir: t.dir, concurrency: 8, leaseMs: 2000, workMs: [1, 10] }));
      await Promise.all(workers.map((p) => p.line('RUNNING')));
      const rssStart = Math.max(...workers.map((p) => rssMb(p.pid) ?? 0));
      const end = Date.now() + size(6000, 60_000);
      let kills = 0;
      let rounds = 0;
      while (Date.now() < end) {
        kills += await killOurs(admin, t.prefix!);
        rounds++;
        await sleep(50 + Math.random() * 250);
      }
      const { all, r, rss } = await finish(t, store, workers, prod);
      report({
        test: 'redis-client-kill', store: 'redis', jobs: all.length, acknowledged: prod.acked.size, completed: all.filter((j) => j.state === 'completed').length,
        lost: r.lost, duplicateExecutions: r.duplicateExecutions, stalls: r.stalls, connectionsKilled: kills, rounds, addErrors: prod.errors,
        rssStartMb: rssStart, rssEndMb: rss,
      });
      assert.ok(kills >= rounds, `connections were killed (${kills} in ${rounds} rounds)`);
      assert.equal(r.lost, 0, r.problems.join(', '));
      assert.equal(r.doubleCompleted, 0);
      assert.equal(r.notRun, 0);
      assert.ok(all.every((j) => j.state === 'completed'), 'every job that landed completed');
    } finally {
      await prod.stop().catch(() => {});
      await Promise.all(workers.map((p) => p.kill9()));
      admin.disconnect();
      await store.close();
      await t.cleanup();
    }
  });

  it('its own redis-server (appendfsync always) killed and restarted mid-run: nothing acknowledged lost, workers resume', { skip: hasRedisServer() ? false : 'redis-server not installed' }, async () => {
    const own = new OwnRedis(await freePort(), ['--appendonly', 'yes', '--appendfsync', 'always']);
    await own.start();
    const t = redisTarget(own.url);
    const store = await t.open();
    const workers: Proc[] = [];
    const prod = producer(store, { batch: 20, everyMs: 50 });
    const recoveries: number[] = [];
    try {
      for (let k = 0; k < 2; k++) workers.push(chaosWorker({ url: t.url, logDir: t.dir, concurrency: 8, leaseMs: 2000, workMs: [1, 10] }));
      await Promise.all(workers.map((p) => p.line('RUNNING')));
      const rssStart = Math.max(...workers.map((p) => rssMb(p.pid) ?? 0));
      const q = new Queue(store);
      for (let round = 0; round < size(1, 3); round++) {
        await sleep(1000);
        await own.kill();
        await sleep(size(1000, 3000));
        await own.start();
        const restarted = Date.now();
        // Resumed = a job added after the restart has been run and completed by a worker.
        const marker = await settled(() => q.enqueue({ id: `m-${round}`, task: 'chaos', queue: 'chaos', payload: {} }));
        await until(async () => (await settled(() => store.getJob({ id: marker.id })))?.state === 'completed', 60_000, `marker ${round} completed`, 20);
        recoveries.push(Date.now() - restarted);
        prod.acked.add(marker.id);
        prod.tried.add(marker.id);
      }
      await sleep(1000);
      const { all, r, rss } = await finish(t, store, workers, prod);
      report({
        test: 'redis-restart', store: 'redis', appendfsync: 'always', restarts: recoveries.length, jobs: all.length, acknowledged: prod.acked.size,
        completed: all.filter((j) => j.state === 'completed').length, lost: r.lost, duplicateExecutions: r.duplicateExecutions, stalls: r.stalls,
        addErrors: prod.errors, maxRecoveryMs: Math.max(...recoveries), recoveryMs: recoveries, rssStartMb: rssStart, rssEndMb: rss,
      });
      assert.equal(r.lost, 0, r.problems.join(', '));
      assert.equal(r.doubleCompleted, 0);
      assert.equal(r.notRun, 0);
      assert.ok(all.every((j) => j.state === 'completed'), 'every job that landed completed');
      assert.ok(Math.max(...recoveries) < 30_000, `workers resumed within 30 s (${recoveries.join(', ')} ms)`);
    } finally {
      await prod.stop().catch(() => {});
      await Promise.all(workers.map((p) => p.kill9()));
      await store.close();
      await t.cleanup().catch(() => {});
      await own.stop();
    }
  });
});
