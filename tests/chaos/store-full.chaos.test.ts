// Chaos: the store runs out of room under load.
// - Redis at maxmemory: a redis-server of the test's own (noeviction) gets its maxmemory lowered to
//   what it uses while a `fusion server` takes POST /v1/jobs and two worker processes run them, one
//   with jobs that outlast their lease (heartbeats must go on), and stays full for three leases.
//   While full, adds answer 503 store_full (never a 500), reads answer, and the workers end every
//   job they hold (their progress and log lines stored or dropped, never failing a job). Then the
//   limit is lifted and adds and work resume by themselves. Every job that got a 2xx completes, once
//   in state and once in effect. Also on a full Redis: retention frees it, and an outcome with a
//   follow-up job is stored while the job waits in the outbox.
// - SQLite and PostgreSQL on a disk that fills (a small tmpfs of the test's own) under a worker
//   process whose jobs outlast their lease: adds answer 503 store_full, reads answer, and work resumes
//   once space is freed. On SQLite the running jobs end once on the room the store kept (its
//   reserve); on PostgreSQL, whose server's disk Fusion cannot keep room on, most end once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Fusion } from '../../src/fusion.js';
import { Maintenance } from '../../src/core/maintenance.js';
import { openStore } from '../../src/stores/index.js';
import { resolveSpec } from '../../src/core/spec.js';
import type { Store } from '../../src/core/store.js';
import { OwnRedis, hasRedisServer } from '../helpers/redis.js';
import { diskSkip, smallDisk } from '../helpers/small-disk.js';
import { privatePgSkip, startPrivatePg, type PrivatePg } from '../helpers/pg-private.js';
import { freePort } from '../helpers/net.js';
import { until } from '../helpers/await.js';
import { allJobs, apiServer, type Target, chaosWorker, countsOf, executions, redisTarget, report, size, sleep, tally, type Proc } from '../helpers/chaos.js';

const LEASE_MS = 1000;
const privatePgSkipped = await privatePgSkip();
/**
 * Until `ms` have passed on the wall clock since `since`: a timer may fire a millisecond before
 * Date.now() says its delay is over (a full suite run measured 2,999 ms for 3,000).
 */
async function fullFor(since: number, ms: number): Promise<void> {
  while (Date.now() - since < ms) await sleep(ms - (Date.now() - since));
}

const post = (base: string, body: unknown) =>
  fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** A redis-server of the test's own (noeviction) that `fill` makes full: its maxmemory set to what it uses now. */
async function redisToFill() {
  const own = new OwnRedis(await freePort(), ['--maxmemory-policy', 'noeviction']);
  await own.start();
  const admin = new Redis(own.url);
  return {
    url: own.url,
    async fill(): Promise<void> {
      const used = Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))![1]);
      await admin.config('SET', 'maxmemory', String(used));
    },
    async free(): Promise<void> {
      await admin.config('SET', 'maxmemory', '0');
    },
    async stop(): Promise<void> {
      admin.disconnect();
      await own.stop();
    },
  };
}

describe('chaos: Redis at maxmemory', { skip: hasRedisServer() ? false : 'redis-server is not installed: cannot start one' }, () => {
  it('full for three leases under load: adds get 503 store_full, held jobs end once, everything resumes when memory is freed', async () => {
    const redis = await redisToFill();
    const t = redisTarget(redis.url);
    const store = await t.open();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const procs: Proc[] = [];
    const acked = new Set<string>();
    const statuses = new Map<string, number>();
    let phase: 'before' | 'full' | 'freed' = 'before';
    let firstAckAfterFree = 0;
    let stop = false;
    let n = 0;
    try {
      procs.push(await apiServer(t, port));
      procs.push(chaosWorker({ url: t.url, logDir: t.dir, concurrency: 8, leaseMs: LEASE_MS, workMs: [1, 10] }));
      // Jobs of 1.5-2.5 leases: only heartbeats that Redis takes while full keep them from stalling.
      // Each stores its progress and a log line at the end, which must not fail it while Redis is full.
      procs.push(chaosWorker({ url: t.url, logDir: t.dir, concurrency: 8, leaseMs: LEASE_MS, workMs: [1500, 2500], progress: true }));
      await Promise.all(procs.slice(1).map((p) => p.line('READY')));
      const pad = 'x'.repeat(400);
      const clients = Array.from({ length: 4 }, async () => {
        while (!stop) {
          const id = `f-${n++}`;
          const r = await post(base, { id, task: 'chaos', queue: 'chaos', payload: { pad }, maxAttempts: 1 });
          const body = (await r.json()) as { error?: { code: string; message: string } };
          const key = r.status >= 300 ? `${r.status} ${body.error?.code}` : String(r.status);
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
          if (r.status === 201 || r.status === 200) {
            acked.add(id);
            if (phase === 'freed' && firstAckAfterFree === 0) firstAckAfterFree = Date.now();
          }
          if (r.status === 503) await sleep(20);
        }
      });
      await until(() => acked.size >= 300, 30_000, () => `the load got answers (${JSON.stringify(Object.fromEntries(statuses))})`, 10);

      // Full: the limit at what Redis uses now, so the next adds find it spent.
      await redis.fill();
      phase = 'full';
      await until(() => (statuses.get('503 store_full') ?? 0) > 0, 30_000, 'an add was refused as store_full', 10);
      const fullSince = Date.now();
      const ackedWhenFull = acked.size;
      // Reads answer while full (the dashboard and operators need them most then).
      const queues = await fetch(`${base}/v1/queues`);
      assert.equal(queues.status, 200);
      // The workers end what they hold: nothing stays active, no lease lapses.
      await until(async () => (await countsOf(store)).active === 0, 20_000, 'every held job ended while Redis was full', 50);
      await fullFor(fullSince, 3 * LEASE_MS);
      const whileFull = await countsOf(store);
      const fullMs = Date.now() - fullSince;

      await redis.free();
      const freed = Date.now();
      phase = 'freed';
      await until(() => firstAckAfterFree > 0, 30_000, 'adds resumed after memory was freed', 10);
      const completedAtFree = whileFull.completed;
      await until(async () => (await countsOf(store)).completed > completedAtFree, 30_000, 'workers resumed', 10);
      const workResumedMs = Date.now() - freed;
      await until(() => acked.size >= ackedWhenFull + 300, 30_000, () => `the load got answers again (${JSON.stringify(Object.fromEntries(statuses))})`, 10);
      stop = true;
      await Promise.all(clients);

      let seen = {};
      await until(async () => {
        const c = await countsOf(store);
        seen = c;
        return c.queued + c.active + c.scheduled === 0;
      }, size(60_000, 180_000), () => `the backlog drained (${acked.size} acknowledged; counts ${JSON.stringify(seen)})`, 100);
      const all = await allJobs(store, 'chaos');
      const r = tally(all, acked, executions(t.dir));
      report({
        test: 'redis-maxmemory', store: 'redis', jobs: all.length, acknowledged: acked.size, completed: all.filter((j) => j.state === 'completed').length,
        lost: r.lost, duplicateExecutions: r.duplicateExecutions, stalls: r.stalls, answers: Object.fromEntries(statuses), fullMs,
        queuedWhileFull: whileFull.queued, addsResumedMs: firstAckAfterFree - freed, workResumedMs,
      });
      assert.deepEqual([...statuses.keys()].filter((s) => s !== '201' && s !== '200' && s !== '503 store_full'), [], 'no answer but 2xx and 503 store_full');
      assert.ok(fullMs >= 3 * LEASE_MS, `full for three leases (${fullMs} ms)`);
      assert.equal(whileFull.active, 0);
      assert.equal(r.lost, 0, r.problems.join(', '));
      assert.equal(r.doubleCompleted, 0);
      assert.equal(r.notRun, 0);
      assert.equal(r.duplicateExecutions, 0, 'no job ran twice');
      assert.equal(r.stalls, 0, 'no lease lapsed');
      for (const j of all) assert.equal(j.state, 'completed', `${j.id} completed`);
    } finally {
      stop = true;
      await Promise.all(procs.map((p) => p.kill9()));
      await store.close();
      await t.cleanup().catch(() => {});
      await redis.stop();
    }
  });
});

describe('Redis at maxmemory: retention frees it', { skip: hasRedisServer() ? false : 'redis-server is not installed: cannot start one' }, () => {
  it('a maintenance pass on a full Redis removes old jobs (promotions refused), and adds are taken again after it', async () => {
    const redis = await redisToFill();
    const fusion = await Fusion.open({ store: redis.url, channels: false });
    try {
      fusion.task('t', async () => ({ pad: 'y'.repeat(2000) }), { queue: 'q' });
      const ids = (await fusion.queue.enqueueMany(Array.from({ length: 200 }, (_, i) => ({ task: 't', queue: 'q', id: `r-${i}`, payload: { i } })))).map((r) => r.job.id);
      await fusion.enqueue('t', { due: 'later' }, { delay: 3_600_000 });
      const worker = fusion.worker({ queues: ['q'], concurrency: 20 });
      await until(async () => (await fusion.store.countJobs({ queue: 'q' })).q?.completed === ids.length, 20_000, 'every job completed');
      await worker.stop();
      await redis.fill();
      await assert.rejects(fusion.enqueue('t', { refused: true }), /OOM command not allowed/);
      const pass = await new Maintenance(fusion.store, { retention: { completedMs: 0 } }).runOnce();
      assert.equal(pass.removed, ids.length, 'retention removed every completed job while Redis was full');
      // What they held is free again: the next add is taken.
      assert.equal((await fusion.enqueue('t', { taken: true })).state, 'queued');
    } finally {
      await fusion.close();
      await redis.stop();
    }
  });
});

describe('Redis at maxmemory: follow-up jobs', { skip: hasRedisServer() ? false : 'redis-server is not installed: cannot start one' }, () => {
  it('an outcome with a follow-up job is stored while full, its job waits in the outbox, and sweeps go on', async () => {
    const redis = await redisToFill();
    const store = await openStore(redis.url);
    try {
      const now = Date.now();
      await store.addJobs({ jobs: [resolveSpec({ id: 'with-follow-up', task: 't', queue: 'a', payload: {} }, now)], now });
      await store.addJobs({ jobs: [resolveSpec({ id: 'lease-lapses', task: 't', queue: 'b', payload: {} }, now)], now });
      const [held] = (await store.claimJobs({ queues: ['a'], workerId: 'w1', limit: 1, leaseMs: 60_000, now })).jobs;
      await store.claimJobs({ queues: ['b'], workerId: 'w2', limit: 1, leaseMs: 1, now });
      await redis.fill();
      await assert.rejects(store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'a', payload: {} }, now)], now }), /OOM command not allowed/);

      const followUp = resolveSpec({ id: 'follow-up', task: 't', queue: 'c', payload: {} }, now);
      const applied = await store.finishJobs({ outcomes: [{ kind: 'completed', id: held!.id, token: held!.leaseToken!, at: now + 5, result: null, enqueue: [followUp] }] });
      assert.deepEqual(applied, [true], 'the outcome is stored while Redis is full');
      assert.equal((await store.getJob({ id: 'with-follow-up' }))?.state, 'completed');
      assert.equal(await store.getJob({ id: 'follow-up' }), null, 'its follow-up waits in the outbox');
      // A sweep while full: the outbox of queue a cannot be delivered, and b's lapsed lease is recovered all the same.
      const swept = await store.recoverExpiredJobs({ now: now + 10 });
      assert.deepEqual(swept.requeued, ['lease-lapses']);

      await redis.free();
      // Sweeps leave the outboxes alone for a while after a refusal (outbox.ts), then deliver it, once.
      await until(async () => {
        await store.recoverExpiredJobs({ now: Date.now() });
        return (await store.getJob({ id: 'follow-up' }))?.state === 'queued';
      }, 30_000, 'the follow-up job was delivered once Redis had room', 250);
      assert.equal((await store.countJobs({ queue: 'c' })).c?.queued, 1);
    } finally {
      await store.close();
      await redis.stop();
    }
  });
});

/**
 * `fusion server` and a worker process (leases 1 s, jobs of 1.5-2.5 s storing progress and a log
 * line) on a store kept on a small disk of the test's own (`disk`), which is filled with files for
 * three leases, then emptied. Reports one JSON line; returns the tally and what was seen while full.
 */
async function fullDiskRun(test: string, storeName: string, disk: { dir: string }, url: string) {
  // Execution logs off the full disk.
  const logDir = mkdtempSync(join(tmpdir(), 'fusion-full-logs-'));
  const t: Target = { store: storeName, url, dir: logDir, open: async () => { throw new Error('unused'); }, cleanup: async () => {} };
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const procs: Proc[] = [];
  const acked = new Set<string>();
  const answers = new Map<string, number>();
  const add = async (n: number) => {
    // A payload no store compresses away (PostgreSQL's TOAST would shrink repeated bytes to little), so the disk fills in few adds.
    const r = await post(base, { id: `d-${n}`, task: 'chaos', queue: 'chaos', payload: { pad: randomBytes(1500).toString('base64') }, maxAttempts: 1 });
    const body = (await r.json()) as { error?: { code: string } };
    const key = r.status >= 300 ? `${r.status} ${body.error?.code}` : String(r.status);
    answers.set(key, (answers.get(key) ?? 0) + 1);
    if (r.status === 201) acked.add(`d-${n}`);
    return key;
  };
  let store: Store | null = null;
  try {
    store = await openStore(url);
    const db = store;
    procs.push(await apiServer(t, port));
    // Jobs of 1.5-2.5 leases, each storing progress and a log line as it ends: only heartbeats and
    // outcomes the full disk still takes (or, past the leases, a worker's patience) keep them from running twice.
    const worker = chaosWorker({ url, logDir, concurrency: 8, leaseMs: LEASE_MS, workMs: [1500, 2500], progress: true });
    procs.push(worker);
    let n = 0;
    while (n < 40) await add(n++);
    await worker.line('RUNNING');
    // Fill the disk to its last page (64 KB files, then 4 KB ones): the next writes that need room find none.
    const fillers: string[] = [];
    for (const size of [64 * 1024, 4096]) {
      for (let k = 0; ; k++) {
        const file = join(disk.dir, `filler-${size}-${k}`);
        try {
          writeFileSync(file, Buffer.alloc(size));
          fillers.push(file);
        } catch {
          rmSync(file, { force: true });
          break;
        }
      }
    }
    const fullSince = Date.now();
    const activeAtFill = (await countsOf(db)).active;
    let refused = 0;
    for (let k = 0; k < 500 && refused < 20; k++) if ((await add(n++)) === '503 store_full') refused++;
    assert.equal(refused, 20, `adds were refused as store_full (${JSON.stringify(Object.fromEntries(answers))})`);
    const read = await fetch(`${base}/v1/jobs/d-0`);
    assert.equal(read.status, 200, 'a read answers on a full disk');
    await fullFor(fullSince, 3 * LEASE_MS);
    const whileFull = await countsOf(db);
    const fullMs = Date.now() - fullSince;
    for (const file of fillers) rmSync(file);
    const freed = Date.now();
    let resumedMs = -1;
    for (let k = 0; k < 500; k++) {
      if ((await add(n++)) === '201') {
        resumedMs = Date.now() - freed;
        break;
      }
      await sleep(20);
    }
    assert.ok(resumedMs >= 0, 'adds resumed once space was freed');
    for (let k = 0; k < 20; k++) assert.equal(await add(n++), '201');
    let seen = {};
    await until(async () => {
      const c = await countsOf(db);
      seen = c;
      return c.queued + c.active + c.scheduled === 0;
    }, 120_000, () => `the backlog drained (${acked.size} acknowledged; counts ${JSON.stringify(seen)})`, 100);
    const all = await allJobs(db, 'chaos');
    const r = tally(all, acked, executions(logDir));
    report({
      test, store: storeName, acknowledged: acked.size, completed: all.filter((j) => j.state === 'completed').length, lost: r.lost,
      duplicateExecutions: r.duplicateExecutions, stalls: r.stalls, answers: Object.fromEntries(answers), fullMs, activeAtFill,
      activeWhileFull: whileFull.active, queuedWhileFull: whileFull.queued, addsResumedMs: resumedMs,
    });
    assert.deepEqual([...answers.keys()].filter((k) => k !== '201' && k !== '503 store_full'), [], 'no answer but 201 and 503 store_full');
    assert.ok(fullMs >= 3 * LEASE_MS, `full for three leases (${fullMs} ms)`);
    assert.equal(r.lost, 0, r.problems.join(', '));
    assert.equal(r.doubleCompleted, 0);
    assert.equal(r.notRun, 0);
    for (const j of all) assert.equal(j.state, 'completed', `${j.id} completed`);
    return { r, whileFull, activeAtFill };
  } finally {
    await Promise.all(procs.map((p) => p.kill9()));
    await store?.close();
    rmSync(logDir, { recursive: true, force: true });
  }
}

describe('chaos: SQLite on a full disk', { skip: diskSkip }, () => {
  it('adds get 503 store_full, running jobs end once on the reserve, reads answer, and work resumes once space is freed', async () => {
    const disk = smallDisk(32) as { dir: string; remove(): void };
    try {
      const { r, whileFull } = await fullDiskRun('sqlite-disk-full', 'sqlite', disk, `sqlite:${join(disk.dir, 'fusion.db')}`);
      // The reserve's room let every running job end while the disk was full.
      assert.equal(whileFull.active, 0, 'no job left active while the disk was full');
      assert.equal(r.duplicateExecutions, 0, 'no job ran twice');
      assert.equal(r.stalls, 0, 'no lease lapsed');
    } finally {
      disk.remove();
    }
  });
});

describe('chaos: PostgreSQL on a full disk', { skip: diskSkip || privatePgSkipped }, () => {
  it('adds get 503 store_full, reads answer, work resumes once space is freed, and the running jobs mostly end once', async () => {
    // A private server whose data directory is the small disk (initdb takes ~40 MB of it).
    const disk = smallDisk(96) as { dir: string; remove(): void };
    chmodSync(disk.dir, 0o777);
    let pg: PrivatePg | null = null;
    try {
      pg = await startPrivatePg({ dir: disk.dir });
      const { r, activeAtFill } = await fullDiskRun('postgres-disk-full', 'postgres', disk, `${pg.url}?schema=full`);
      // Heartbeats and outcomes need room too. Where they find none (a heartbeat's new row version
      // fits in its page or not), leases lapse while the disk is full; the workers keep their
      // outcomes and try them past the leases (core/worker/completer.ts; tests/engine/outcome-retry),
      // so most land before a sweep runs those jobs again. In a script before that, every job
      // running at the fill (20 of 20) ran twice; in this test's runs the heartbeats found room.
      assert.ok(r.duplicateExecutions <= r.stalls, `every rerun is a recovered stall (${r.duplicateExecutions} reruns, ${r.stalls} stalls)`);
      assert.ok(r.duplicateExecutions < Math.max(1, activeAtFill / 2), `fewer than half of the ${activeAtFill} jobs running at the fill ran twice (${r.duplicateExecutions})`);
    } finally {
      await pg?.stop();
      disk.remove();
    }
  });
});
