// Scale-out on Redis against Redis Cluster: the chaos scale test's rows (N no-op jobs on one queue,
// 1/2/4 worker processes at concurrency 50, the queue paused until every worker is up), a private plain
// redis-server and a private 3-master cluster alternating, several rounds. One JSON line per row: jobs/s, CPU
// ms per 1,000 jobs of the workers and of each redis-server (/proc), and the commands each server
// (each cluster node) ran per job (INFO commandstats, top entries).
//   node dist/bench/cluster-scale.js [rounds=3] [jobs=50000] [procs=1,2,4] [stores=redis,cluster] [pollCountsMs=25] [settleMs=0] [maintenanceMs=100]
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Queue } from '../src/core/queue.js';
import { openStore } from '../src/stores/index.js';
import type { Store } from '../src/core/store.js';
import { OwnCluster, OwnRedis, clusterPorts, testPrefix } from '../tests/helpers/redis.js';
import { chaosWorker, countsOf, cpuMs, type Proc } from '../tests/helpers/chaos.js';
import { tempDir } from '../tests/helpers/tmp.js';

const [rounds = 3, N = 50_000] = process.argv.slice(2, 4).map(Number);
const PROCS = (process.argv[4] ?? '1,2,4').split(',').map(Number);
const STORES = (process.argv[5] ?? 'redis,cluster').split(',');
const POLL = Number(process.argv[6] ?? 25);
const SETTLE = Number(process.argv[7] ?? 0);
/** Each worker process's maintenance interval (the chaos worker's default is 100 ms, Fusion's 1000 ms). */
const MAINTENANCE_MS = Number(process.argv[8] ?? 100);
const cpu = (pid: number): number => cpuMs(pid) ?? 0;

async function commandStats(r: Redis): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const line of (await r.info('commandstats')).split('\n')) {
    const x = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (x) m.set(x[1]!, Number(x[2]));
  }
  return m;
}

interface Target { name: string; url: string; prefix: string; open(): Promise<Store>; serverPids(): Promise<number[]>; nodes: Redis[] }

async function main(): Promise<void> {
  const tmp = tempDir('fusion-cscale-');
  const cluster = STORES.includes('cluster') ? new OwnCluster(await clusterPorts(3)) : null;
  await cluster?.start();
  const targets: Target[] = [];
  // A private plain redis-server too (not the shared one): its CPU and commands are this bench's alone.
  const single = STORES.includes('redis') ? new OwnRedis((await clusterPorts(1))[0]!) : null;
  if (single) {
    await single.start();
    const prefix = testPrefix();
    targets.push({
      name: 'redis', url: `${single.url}?prefix=${prefix}`, prefix, open: () => openStore(single.url, { prefix }),
      serverPids: async () => [single.proc!.pid!], nodes: [new Redis(single.url)],
    });
  }
  if (cluster) {
    const prefix = testPrefix();
    const nodes = cluster.ports.map((port) => new Redis({ port, host: '127.0.0.1' }));
    targets.push({
      name: 'cluster', url: `${cluster.url}?prefix=${prefix}`, prefix, open: () => openStore(cluster.url, { prefix }),
      serverPids: async () => cluster.nodes.map((n) => n.proc!.pid!), nodes,
    });
  }
  const stores = new Map<string, Store>();
  for (const t of targets) stores.set(t.name, await t.open());
  let row = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      for (const procs of PROCS) {
        for (const t of round % 2 ? [...targets].reverse() : targets) {
          const store = stores.get(t.name)!;
          const queue = `cs-${round}-${procs}-${row++}`;
          const q = new Queue(store);
          await store.pauseQueue({ queue, now: Date.now() });
          for (let k = 0; k < N; k += 1000) {
            await q.enqueueMany(Array.from({ length: Math.min(1000, N - k) }, (_, j) => ({ task: 'chaos', queue, payload: { k: k + j } })));
          }
          const workers: Proc[] = [];
          for (let k = 0; k < procs; k++) workers.push(chaosWorker({ url: t.url, logDir: tmp.dir, queue, concurrency: 50, leaseMs: 30_000, record: false, maintenanceMs: MAINTENANCE_MS }));
          await Promise.all(workers.map((p) => p.line('READY')));
          // Optionally let the workers' start-up (connections, subscriptions, the first maintenance pass) settle.
          if (SETTLE > 0) await new Promise((r) => setTimeout(r, SETTLE));
          const spids = await t.serverPids();
          const w0 = workers.map((w) => cpu(w.pid));
          const s0 = spids.map(cpu);
          const me0 = process.cpuUsage();
          const c0 = await Promise.all(t.nodes.map(commandStats));
          const t0 = performance.now();
          await store.resumeQueue({ queue, now: Date.now() });
          let polls = 0;
          for (;;) {
            polls++;
            if ((await countsOf(store, queue)).completed === N) break;
            await new Promise((r) => setTimeout(r, POLL));
          }
          const ms = performance.now() - t0;
          const w1 = workers.map((w) => cpu(w.pid));
          const s1 = spids.map(cpu);
          const me = process.cpuUsage(me0);
          const c1 = await Promise.all(t.nodes.map(commandStats));
          const perJob = (a: number[], b: number[]) => b.map((x, i) => Math.round(((x - a[i]!) / N) * 1000 * 100) / 100);
          const cmds = c1.map((m, i) => {
            const d: [string, number][] = [...m].map(([k, v]) => [k, v - (c0[i]!.get(k) ?? 0)] as [string, number]).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
            return Object.fromEntries(d.slice(0, 8).map(([k, v]) => [k, Math.round((v / N) * 1000) / 1000]));
          });
          await Promise.all(workers.map((w) => w.term()));
          console.log(JSON.stringify({
            round, store: t.name, procs, settleMs: SETTLE, maintenanceMs: MAINTENANCE_MS, jobs: N, ms: Math.round(ms), perSecond: Math.round(N / (ms / 1000)), polls,
            workerCpuMsPer1k: Math.round(perJob(w0, w1).reduce((a, b) => a + b, 0) * 100) / 100,
            serverCpuMsPer1k: perJob(s0, s1), benchCpuMsPer1k: Math.round(((me.user + me.system) / 1000 / N) * 1000 * 100) / 100,
            ...(t.nodes.length ? { commandsPerJobByNode: cmds } : {}),
            load: readFileSync('/proc/loadavg', 'utf8').split(' ')[0],
          }));
        }
      }
    }
  } finally {
    for (const s of stores.values()) await s.close();
    for (const t of targets) for (const n of t.nodes) n.disconnect();
    await single?.stop();
    await cluster?.stop();
    tmp.remove();
  }
}

await main();
