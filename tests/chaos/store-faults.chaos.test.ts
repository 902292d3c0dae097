// Chaos: the store under the workers fails. Connections of this test (and only this test: Redis
// connections matched by the names its prefix gives them, PostgreSQL ones by their application_name)
// are killed again and again (CLIENT KILL, pg_terminate_backend) or go silent behind a TCP proxy that
// blackholes them (no close, no bytes; on Redis Cluster a proxy in front of each master of a cluster
// of the test's own); a private redis-server with
// `appendfsync always` and a private PostgreSQL server (fsync on) are crashed and restarted mid-run.
// Nothing acknowledged is lost; the time until the workers complete jobs again is measured. A Redis
// master whose replica lags is killed and the replica promoted: with `?waitReplicas=` nothing
// acknowledged is lost, without it what the replica lacked is (the control); and a Sentinel fails a
// killed master over to its replica under load, the old master coming back as replica.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Queue } from '../../src/core/queue.js';
import type { Store } from '../../src/core/store.js';
import { openStore } from '../../src/stores/index.js';
import { OwnRedis, OwnSentinelGroup, REDIS_URL, hasRedisServer, redisSkip } from '../helpers/redis.js';
import { PG_URL, pgClient, pgSkip } from '../helpers/postgres.js';
import { BlackholeProxy, proxyTo } from '../helpers/blackhole-proxy.js';
import { privatePgSkip, startPrivatePg } from '../helpers/pg-private.js';
import { freePort } from '../helpers/net.js';
import { until } from '../helpers/await.js';
import {
  REDIS_CLUSTER, allJobs, chaosWorker, clusterTarget, countsOf, executions, postgresTarget, producer, redisTarget, report, rssMb, size, sleep, tally, type Proc, type Target,
} from '../helpers/chaos.js';

const skip = await redisSkip();
/** Blackholes: the socket timeout of the stores behind the proxy, and the time between two blackholes. */
const SILENT_AFTER_MS = 500;
const BLACKHOLE_GAP_MS: [number, number] = [1000, 2000];
const pgSkipped = await pgSkip();
const privatePgSkipped = await privatePgSkip();
const clusterSkipped = await REDIS_CLUSTER.skip();

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
  let seen = {};
  await until(async () => {
    const c = await settled(() => countsOf(store));
    seen = c;
    return c.queued + c.active + c.scheduled === 0 && c.completed >= prod.acked.size;
  }, size(120_000, 300_000), () => `the backlog drained (${prod.acked.size} acknowledged; counts ${JSON.stringify(seen)})`, 200);
  const rss = Math.max(...workers.map((p) => rssMb(p.pid) ?? 0));
  for (const p of workers) assert.equal((await p.term()).code, 0);
  const all = await allJobs(store, 'chaos');
  const r = tally(all, prod.acked, executions(t.dir));
  for (const j of all) assert.ok(prod.tried.has(j.id), `a job nobody sent: ${j.id}`);
  return { all, r, rss };
}

/**
 * Two worker processes on the target, added to `workers` at once (so the caller's cleanup kills
 * them even if they never run a job); resolves to the larger RSS of the two once both run jobs.
 */
async function startWorkers(t: Target, workers: Proc[]): Promise<number> {
  for (let k = 0; k < 2; k++) workers.push(chaosWorker({ url: t.url, logDir: t.dir, concurrency: 8, leaseMs: 2000, workMs: [1, 10] }));
  await Promise.all(workers.map((p) => p.line('RUNNING')));
  return Math.max(...workers.map((p) => rssMb(p.pid) ?? 0));
}

/**
 * Producer and workers under a loop that ends this target's connections every `gapMs` (50-300 ms)
 * for 6 s (60 s); `kill` returns how many it ended. The invariants are asserted, one JSON line printed.
 */
async function connectionKillRun(test: string, t: Target, kill: () => Promise<number>, gapMs: [number, number] = [50, 300]): Promise<void> {
  const store = await t.open();
  const prod = producer(store, { batch: 20, everyMs: 50 });
  const workers: Proc[] = [];
  try {
    const rssStart = await startWorkers(t, workers);
    const end = Date.now() + size(6000, 60_000);
    let kills = 0;
    let rounds = 0;
    while (Date.now() < end) {
      kills += await kill();
      rounds++;
      await sleep(gapMs[0] + Math.random() * (gapMs[1] - gapMs[0]));
    }
    const { all, r, rss } = await finish(t, store, workers, prod);
    report({
      test, store: t.store, jobs: all.length, acknowledged: prod.acked.size, completed: all.filter((j) => j.state === 'completed').length,
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
    await store.close();
  }
}

/**
 * Producer and workers while the target's server is crashed (`crash`), left down 1 s (3 s) and
 * started again (`start`), 1 (3) times. `recoveryMs`: from the server accepting connections again
 * until the workers complete jobs again. (A job added after the restart would wait behind the
 * backlog the outage left, so its completion measures the backlog, not the resumption.)
 */
async function serverRestartRun(test: string, t: Target, server: { crash(): Promise<void>; start(): Promise<void> }, extra: Record<string, unknown>): Promise<void> {
  const store = await t.open();
  const prod = producer(store, { batch: 20, everyMs: 50 });
  const recoveries: number[] = [];
  const workers: Proc[] = [];
  try {
    const rssStart = await startWorkers(t, workers);
    const q = new Queue(store);
    for (let round = 0; round < size(1, 3); round++) {
      await sleep(1000);
      await server.crash();
      await sleep(size(1000, 3000));
      await server.start();
      const restarted = Date.now();
      // Resumed = the workers complete jobs again (the count grows), whatever backlog the outage left.
      const before = (await settled(() => countsOf(store))).completed;
      await until(async () => (await settled(() => countsOf(store))).completed > before, 120_000, `workers resumed after restart ${round}`, 20);
      recoveries.push(Date.now() - restarted);
      // And a job added after the restart completes like any other (finish checks every acknowledged one).
      const marker = await settled(() => q.enqueue({ id: `m-${round}`, task: 'chaos', queue: 'chaos', payload: {} }));
      prod.acked.add(marker.id);
      prod.tried.add(marker.id);
    }
    await sleep(1000);
    const { all, r, rss } = await finish(t, store, workers, prod);
    report({
      test, store: t.store, ...extra, restarts: recoveries.length, jobs: all.length, acknowledged: prod.acked.size,
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
  }
}

describe('chaos: Redis faults under load', { skip }, () => {
  it('CLIENT KILL of the workers\' and producer\'s connections, again and again: nothing acknowledged lost', async () => {
    const t = redisTarget();
    const admin = new Redis(REDIS_URL);
    try {
      await connectionKillRun('redis-client-kill', t, () => killOurs(admin, t.prefix!));
    } finally {
      admin.disconnect();
      await t.cleanup();
    }
  });

  it('every connection through a proxy blackholed (silent, no close) again and again: nothing acknowledged lost', async () => {
    const proxy = await proxyTo(REDIS_URL, 6379);
    // Producer and worker processes all connect through the proxy; a silent connection is dropped after 500 ms.
    const t = redisTarget(`redis://127.0.0.1:${proxy.port}?socketTimeout=${SILENT_AFTER_MS}`);
    try {
      await connectionKillRun('redis-blackhole', t, async () => proxy.blackhole(), BLACKHOLE_GAP_MS);
    } finally {
      await t.cleanup();
      await proxy.close();
    }
  });

  it('its own redis-server (appendfsync always) killed and restarted mid-run: nothing acknowledged lost, workers resume', { skip: hasRedisServer() ? false : 'redis-server not installed' }, async () => {
    const own = new OwnRedis(await freePort(), ['--appendonly', 'yes', '--appendfsync', 'always']);
    await own.start();
    const t = redisTarget(own.url);
    try {
      // SIGKILL: what a crash or an OOM kill looks like; the append-only file brings back every write.
      await serverRestartRun('redis-restart', t, { crash: () => own.kill(), start: () => own.start() }, { appendfsync: 'always' });
    } finally {
      await t.cleanup().catch(() => {});
      await own.stop();
    }
  });
});

/**
 * Adds under load through a proxy to a master with one replica; the replica's link is cut (it is
 * told to follow an address where no master answers, and keeps its data), then the master is killed
 * and the replica promoted in its place, the proxy now leading to it (as a Sentinel-managed address
 * would). Every acknowledged add must be on the new master.
 */
async function failoverRun(waitReplicas: boolean) {
  const master = new OwnRedis(await freePort());
  const replica = new OwnRedis(await freePort());
  const proxy = new BlackholeProxy(master.port);
  let store: Store | null = null;
  try {
    await Promise.all([master.start(), replica.start(), proxy.start()]);
    const onReplica = new Redis(replica.url);
    try {
      await onReplica.call('REPLICAOF', '127.0.0.1', String(master.port));
      await until(async () => /^master_link_status:up\r?$/m.test(await onReplica.info('replication')), 10_000, 'the replica synced');
      store = await openStore(`redis://127.0.0.1:${proxy.port}?prefix=failover&socketTimeout=2000${waitReplicas ? '&waitReplicas=1&waitTimeout=300' : ''}`);
      const prod = producer(store, { batch: 10, everyMs: 2 });
      await until(() => prod.acked.size >= 300, 20_000, 'adds acknowledged before the fault');
      await onReplica.call('REPLICAOF', '127.0.0.1', String(await freePort()));
      // Counted from the cut's answer, not from before the call: a batch sent while the command was
      // on its way still reached the replica (10 such adds made a run fail, its lost 120 < 130).
      const triedAfterCut = prod.tried.size;
      await until(() => prod.tried.size >= triedAfterCut + 100, 20_000, 'adds tried while the replica lags');
      const sequence = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1));
      const ackedWhileLagging = [...prod.acked].filter((id) => sequence(id) >= triedAfterCut).length;
      proxy.retarget(replica.port);
      await master.kill();
      await onReplica.call('REPLICAOF', 'NO', 'ONE');
      await prod.stop();
      const held = new Set((await allJobs(store, 'chaos')).map((job) => job.id));
      const lost = [...prod.acked].filter((id) => !held.has(id)).length;
      return { acked: prod.acked.size, ackedWhileLagging, failedAdds: prod.errors, lost };
    } finally {
      onReplica.disconnect();
    }
  } finally {
    await store?.close().catch(() => {});
    await proxy.close();
    await replica.stop();
    await master.stop();
  }
}

describe('chaos: Redis Sentinel failover under load', { skip: skip || (hasRedisServer() ? false : 'redis-server not installed') }, () => {
  it('the master killed, the Sentinel promotes its replica, the old master comes back as replica: nothing acknowledged lost, workers resume', async () => {
    const group = new OwnSentinelGroup();
    const failovers: number[] = [];
    let killed: OwnRedis | null = null;
    let killedAt = 0;
    let t: Target | null = null;
    try {
      await group.start();
      // Adds wait for the replica: while the promoted master has none, they fail (never acknowledged).
      t = redisTarget(`${group.url}?waitReplicas=1&waitTimeout=500&socketTimeout=2000`);
      await serverRestartRun('redis-sentinel-failover', t, {
        crash: async () => {
          killed = await group.master();
          killedAt = Date.now();
          await killed.kill();
        },
        start: async () => {
          await until(async () => (await group.master().catch(() => killed)) !== killed, 30_000, 'the sentinel promoted the replica', 50);
          failovers.push(Date.now() - killedAt);
          await group.restartAsReplica(killed!);
        },
      }, { waitReplicas: 1, failoverMs: failovers });
    } finally {
      await t?.cleanup().catch(() => {});
      await group.stop();
    }
  });
});

describe('chaos: a Redis failover to a replica that lagged', { skip: skip || (hasRedisServer() ? false : 'redis-server not installed') }, () => {
  it('with waitReplicas nothing acknowledged is lost; without it, what the replica lacked is', async () => {
    const waited = await failoverRun(true);
    const unwaited = await failoverRun(false);
    report({ test: 'redis-failover', waitReplicas: waited, asynchronous: unwaited });
    assert.equal(waited.lost, 0, 'every add acknowledged under waitReplicas is on the promoted replica');
    assert.equal(waited.ackedWhileLagging, 0, 'no add was acknowledged while the replica confirmed nothing');
    assert.ok(waited.acked >= 300 && waited.failedAdds > 0, JSON.stringify(waited));
    // The control: the same run without the wait loses the adds acknowledged while the replica lagged.
    assert.ok(unwaited.ackedWhileLagging > 0 && unwaited.lost >= unwaited.ackedWhileLagging, JSON.stringify(unwaited));
  });
});

describe('chaos: Redis Cluster faults under load', { skip: clusterSkipped }, () => {
  it('every connection through a proxy in front of each master blackholed again and again: nothing acknowledged lost', async () => {
    const proxies: BlackholeProxy[] = [];
    let t: Target | null = null;
    try {
      // Producer and worker processes reach the masters through the proxies (natMap); a silent connection is dropped after 500 ms.
      t = await clusterTarget(async (ports) => {
        for (const port of ports) {
          const proxy = new BlackholeProxy(port);
          proxies.push(proxy);
          await proxy.start();
        }
        return `socketTimeout=${SILENT_AFTER_MS}&natMap=${ports.map((port, i) => `127.0.0.1:${port}>127.0.0.1:${proxies[i]!.port}`).join(',')}`;
      });
      await connectionKillRun('redis-cluster-blackhole', t, async () => proxies.reduce((n, p) => n + p.blackhole(), 0), BLACKHOLE_GAP_MS);
    } finally {
      await t?.cleanup();
      await Promise.all(proxies.map((p) => p.close()));
    }
  });
});

describe('chaos: PostgreSQL faults under load', () => {
  it('pg_terminate_backend of the workers\' and producer\'s connections, again and again: nothing acknowledged lost', { skip: pgSkipped }, async () => {
    const t = postgresTarget();
    const admin = await pgClient();
    try {
      await connectionKillRun('postgres-terminate', t, async () => {
        const r = await admin.query(`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1`, [t.appName]);
        return r.rows[0].n as number;
      });
    } finally {
      await admin.end();
      await t.cleanup();
    }
  });

  it('every connection through a proxy blackholed (silent, no close) again and again: nothing acknowledged lost', { skip: pgSkipped }, async () => {
    const proxy = await proxyTo(PG_URL, 5432);
    const target = new URL(PG_URL);
    target.host = `127.0.0.1:${proxy.port}`;
    target.searchParams.set('socketTimeout', String(SILENT_AFTER_MS));
    const t = postgresTarget(target.toString());
    try {
      await connectionKillRun('postgres-blackhole', t, async () => proxy.blackhole(), BLACKHOLE_GAP_MS);
    } finally {
      await t.cleanup();
      await proxy.close();
    }
  });

  it('its own PostgreSQL server (fsync on) crashed and restarted mid-run: nothing acknowledged lost, workers resume', { skip: privatePgSkipped }, async () => {
    // Never the shared server: a private one (initdb in a temp dir, its own port).
    const server = await startPrivatePg({ durable: true });
    const t = postgresTarget(server.url);
    try {
      // pg_ctl stop -m immediate: the postmaster and its backends quit at once, no checkpoint; the
      // start recovers from the WAL, as after a crash.
      await serverRestartRun('postgres-restart', t, server, { fsync: 'on', stop: 'immediate' });
    } finally {
      await t.cleanup().catch(() => {});
      await server.stop();
    }
  });
});
