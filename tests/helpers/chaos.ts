// The chaos suite's shared parts: its size (short by default, long with CHAOS=full), the stores it
// runs on (a list of factories: adding a store is one entry), child processes that say when they
// are ready and running, execution logs, memory samples, and the one JSON line each test prints.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Store } from '../../src/core/store.js';
import type { AttemptRecord, Job, JobSpec } from '../../src/core/job.js';
import { openStore } from '../../src/stores/index.js';
import { Queue } from '../../src/core/queue.js';
import { OwnCluster, REDIS_URL, clusterPorts, dropPrefix, hasRedisServer, redisSkip, testPrefix } from './redis.js';
import { PG_URL, dropSchema, pgSkip, testSchema } from './postgres.js';
import { tempDir } from './tmp.js';
import { CLI } from './net.js';

/** CHAOS=full (or CHAOS_SCALE=long) runs the long form; anything else the short one `npm test` and CI run. */
export const LONG = process.env.CHAOS === 'full' || process.env.CHAOS_SCALE === 'long';
export const FORM = LONG ? 'long' : 'short';
/** One number for each form. */
export const size = <T>(short: T, long: T): T => (LONG ? long : short);

/** One store a chaos test runs on: a URL any process can open, and a cleanup. */
export interface Target {
  store: string;
  /** A URL for `fusion --store` and for Fusion.open (a Redis target carries its prefix in it). */
  url: string;
  dir: string;
  /** The Redis key prefix (its connections are named fusion:<prefix>:<role>). */
  prefix?: string;
  /** The PostgreSQL schema of the store's tables. */
  schema?: string;
  /** The application_name every PostgreSQL connection of the target's URL carries (to find and end them). */
  appName?: string;
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

export interface StoreFactory {
  name: string;
  /** false when the store can run here, else the reason (the Redis gate throws under CI=true). */
  skip(): Promise<string | false>;
  create(): Promise<Target>;
}

/** A store URL with query parameters added (a plain append: a redis+cluster:// host list is no WHATWG URL). */
function withParams(base: string, params: string): string {
  return `${base}${base.includes('?') ? '&' : '?'}${params}`;
}

/** A Redis target on a fresh prefix of the given server (the shared one by default). */
export function redisTarget(base = REDIS_URL): Target {
  const prefix = testPrefix();
  const tmp = tempDir('fusion-chaos-');
  return {
    store: 'redis',
    url: withParams(base, `prefix=${prefix}`),
    dir: tmp.dir,
    prefix,
    open: () => openStore(base, { prefix }),
    async cleanup() {
      const r = new Redis(base, { maxRetriesPerRequest: 1 });
      r.on('error', () => {});
      try {
        await dropPrefix(r, prefix);
      } finally {
        r.disconnect();
        tmp.remove();
      }
    },
  };
}

export function sqliteTarget(): Target {
  const tmp = tempDir('fusion-chaos-');
  const path = join(tmp.dir, 'fusion.db');
  return { store: 'sqlite', url: `sqlite:${path}`, dir: tmp.dir, open: () => openStore(`sqlite:${path}`), cleanup: async () => tmp.remove() };
}

/**
 * A PostgreSQL target: a fresh t_* schema on the test database (or on the server at `base`, e.g. a
 * private one), its connections named by application_name; cleanup drops the schema.
 */
export function postgresTarget(base = PG_URL): Target {
  const schema = testSchema();
  const appName = `fusion_chaos_${schema}`;
  const tmp = tempDir('fusion-chaos-');
  const url = withParams(base, `schema=${schema}&application_name=${appName}`);
  return {
    store: 'postgres',
    url,
    dir: tmp.dir,
    schema,
    appName,
    open: () => openStore(url),
    async cleanup() {
      try {
        await dropSchema(schema, base);
      } finally {
        tmp.remove();
      }
    },
  };
}

/**
 * A Redis Cluster target: a 3-master cluster of its own (private redis-server processes), stopped by
 * cleanup. `params`: more of the URL, made from the masters' ports (e.g. a natMap through proxies).
 */
export async function clusterTarget(params?: (ports: number[]) => Promise<string>): Promise<Target> {
  const cluster = new OwnCluster(await clusterPorts(3));
  let base = cluster.url;
  try {
    await cluster.start();
    if (params) base = withParams(cluster.url, await params(cluster.ports));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  const prefix = testPrefix();
  const tmp = tempDir('fusion-chaos-');
  return {
    store: 'redis-cluster',
    url: withParams(base, `prefix=${prefix}`),
    dir: tmp.dir,
    prefix,
    open: () => openStore(base, { prefix }),
    async cleanup() {
      await cluster.stop();
      tmp.remove();
    },
  };
}

/** Every store the suite runs on. */
export const STORES: StoreFactory[] = [
  { name: 'sqlite', skip: async () => false, create: async () => sqliteTarget() },
  { name: 'redis', skip: redisSkip, create: async () => redisTarget() },
  { name: 'postgres', skip: pgSkip, create: async () => postgresTarget() },
];

/** Redis Cluster, for the tests that also run on it (worker crashes, scale out): it starts servers of its own. */
export const REDIS_CLUSTER: StoreFactory = {
  name: 'redis-cluster',
  skip: async () => (await redisSkip()) || (hasRedisServer() ? false : 'redis-server is not installed: cannot start a cluster'),
  create: () => clusterTarget(),
};

/** The one line a chaos test prints, so runs can be compared over time. */
export function report(line: Record<string, unknown>): void {
  console.log(JSON.stringify({ form: FORM, ...line }));
}

/** Resident set size of a process in MB (Linux /proc); null once it is gone. */
export function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system) a process has used, in ms, from /proc (Linux; 100 ticks a second); null once it is gone. */
export function cpuMs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/**
 * No growth trend: the mean of the last third of the samples against the middle third (the first
 * third is warm-up). Returns the ratio; a test asserts it under its tolerance.
 */
export function growth(samples: number[]): number {
  const n = samples.length;
  const third = Math.max(1, Math.floor(n / 3));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const mid = mean(samples.slice(third, 2 * third));
  const last = mean(samples.slice(n - third));
  return mid > 0 ? last / mid : 1;
}

/** A child process whose stdout lines can be awaited (e.g. READY, RUNNING, a log line). */
export class Proc {
  readonly child: ChildProcess;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private out = '';
  private lines: string[] = [];
  private waiters: { match: (l: string) => boolean; resolve(l: string): void }[] = [];

  constructor(args: string[], opts: { env?: Record<string, string>; stderr?: 'inherit' | 'ignore' } = {}) {
    this.child = spawn(process.execPath, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', opts.stderr ?? 'inherit'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.out += d;
      let i: number;
      while ((i = this.out.indexOf('\n')) >= 0) {
        const line = this.out.slice(0, i);
        this.out = this.out.slice(i + 1);
        this.lines.push(line);
        if (this.lines.length > 200) this.lines.shift();
        for (const w of this.waiters.filter((x) => x.match(line))) {
          w.resolve(line);
          this.waiters.splice(this.waiters.indexOf(w), 1);
        }
      }
    });
    this.exit = new Promise((r) => this.child.once('exit', (code, signal) => r({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Resolves on the first stdout line (from now, or already seen) containing `text`; rejects if the
   * process exits first or after `ms`. Generous by default: with six test runs sharing two cores
   * (load average ~30) a node process has taken over 30 s to start.
   */
  line(text: string, ms = 120_000): Promise<string> {
    const seen = this.lines.find((l) => l.includes(text));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pid ${this.pid}: no "${text}" line within ${ms} ms; last lines: ${this.lines.slice(-5).join(' | ')}`)), ms);
      const w = { match: (l: string) => l.includes(text), resolve: (l: string) => (clearTimeout(timer), resolve(l)) };
      this.waiters.push(w);
      void this.exit.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`pid ${this.pid} exited (${code ?? signal}) before a "${text}" line; last lines: ${this.lines.slice(-5).join(' | ')}`));
      });
    });
  }

  async kill9(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exit;
  }

  /**
   * SIGTERM, and the exit. A process still there after `ms` (a shutdown that hangs) is killed and
   * answers code null, so the caller's check of a clean exit fails instead of waiting for ever.
   */
  async term(ms = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
    const exited = await Promise.race([this.exit, hung]);
    clearTimeout(timer);
    if (exited) return exited;
    await this.kill9();
    return { code: null, signal: 'SIGKILL' };
  }
}

const WORKER = fileURLToPath(new URL('./chaos-worker.js', import.meta.url));

export interface ChaosWorkerOptions {
  url: string;
  /** Where each process appends the id of every job it executes (exec-<pid>.log). */
  logDir: string;
  queue?: string;
  concurrency?: number;
  leaseMs?: number;
  /** Handler time, uniform in [min, max] ms. */
  workMs?: [number, number];
  /** Run lease recovery in this process (default true) every this many ms. */
  maintenanceMs?: number;
  /** Short retention for completed jobs (soak). */
  retentionMs?: number;
  graceMs?: number;
  /** Serve the webhook channel too, with loopback allowed by the outgoing guard. */
  webhook?: boolean;
  /** Serve the `callbacks` queue too (job callbacks; loopback allowed as for webhook). */
  callbacks?: boolean;
  /** Config merged over the process's own (which allows loopback for outgoing requests). */
  config?: Record<string, unknown>;
  /** Record executions (default true; off for throughput runs). */
  record?: boolean;
  /** Go by this machine's clock, not the store's (the clock skew test's control). */
  machineClock?: boolean;
  /** Jobs this process adds once READY, due delayMs later, with ids <tag>-<n>. */
  delayed?: { count: number; delayMs: number; tag: string };
  /** Fire due schedules in this process too. */
  scheduler?: boolean;
  /** The handler stores a progress value and a log line before it returns. */
  progress?: boolean;
}

/** A worker process: prints READY when its worker has started and RUNNING when its first job runs. */
export function chaosWorker(o: ChaosWorkerOptions, env?: Record<string, string>): Proc {
  return new Proc([WORKER, JSON.stringify(o)], { env });
}

/**
 * Worker processes under kill -9, all started with the same options: `live` holds those alive;
 * `start` starts n and resolves once each runs jobs; `killAtRandom` kills a random live one `kills`
 * times, each after a pause in [min, max) ms, and starts a replacement before the next, which waits
 * until the replacement runs jobs too (so each kill lands on a process at work). It answers the pids
 * killed (a job's worker id is host:pid:random).
 */
export function workerFleet(o: ChaosWorkerOptions) {
  const live = new Set<Proc>();
  const spawn = async () => {
    const p = chaosWorker(o);
    live.add(p);
    void p.exit.then(() => live.delete(p));
    await p.line('READY');
    return p;
  };
  return {
    live,
    async start(n: number): Promise<Proc[]> {
      const first = await Promise.all(Array.from({ length: n }, spawn));
      await Promise.all(first.map((p) => p.line('RUNNING')));
      return first;
    },
    async killAtRandom(kills: number, [min, max]: [number, number]): Promise<Set<number>> {
      const killed = new Set<number>();
      for (let k = 0; k < kills; k++) {
        await sleep(min + Math.random() * (max - min));
        const victims = [...live];
        const victim = victims[Math.floor(Math.random() * victims.length)]!;
        killed.add(victim.pid);
        await victim.kill9();
        await (await spawn()).line('RUNNING');
      }
      return killed;
    },
    killAll: () => Promise.all([...live].map((p) => p.kill9())),
  };
}

/** Every execution recorded in a directory's logs: job id, and the machine's monotonic ms at its start. */
export function executionLines(dir: string): { id: string; at: number }[] {
  const out: { id: string; at: number }[] = [];
  for (const f of readdirSync(dir).filter((x) => x.startsWith('exec-'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const [id, at] = line.split(' ');
      if (id) out.push({ id, at: Number(at) });
    }
  }
  return out;
}

/** Executions per job id, from every process's log in a directory. */
export function executions(dir: string): Map<string, number> {
  const n = new Map<string, number>();
  for (const { id } of executionLines(dir)) n.set(id, (n.get(id) ?? 0) + 1);
  return n;
}

/** The machine's monotonic ms at each job's first execution (see chaos-worker.ts). */
export function firstExecutions(dir: string): Map<string, number> {
  const first = new Map<string, number>();
  for (const { id, at } of executionLines(dir)) first.set(id, Math.min(at, first.get(id) ?? Infinity));
  return first;
}

/** Every job of a queue, page by page. */
export async function allJobs(store: Store, queue: string): Promise<Job[]> {
  const out: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listJobs({ queue, limit: 1000, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

export function fileMb(path: string): number {
  let total = 0;
  for (const p of [path, `${path}-wal`]) {
    try {
      total += statSync(p).size;
    } catch {
      /* no WAL yet */
    }
  }
  return Math.round(total / 104857.6) / 10;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The contract after a run with faults, counted for the caller to assert: acknowledged jobs not
 * completed (`lost`), completed more than once in state (more than one `completed` outcome in the
 * history), completed but never run in effect (no execution recorded), and re-executions.
 */
export function tally(jobs: Job[], acked: Set<string>, execs: Map<string, number>) {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  let lost = 0;
  let notRun = 0;
  let doubleCompleted = 0;
  let duplicateExecutions = 0;
  let stalls = 0;
  const problems: string[] = [];
  for (const id of acked) {
    const j = byId.get(id);
    if (!j || j.state !== 'completed') {
      lost++;
      if (problems.length < 5) problems.push(`${id}: ${j ? j.state : 'missing'}`);
      continue;
    }
    if (j.history.filter((h) => h.outcome === 'completed').length !== 1) doubleCompleted++;
    const n = execs.get(id) ?? 0;
    if (n < 1) notRun++;
    duplicateExecutions += Math.max(0, n - 1);
  }
  for (const j of jobs) stalls += j.stalls;
  return { lost, notRun, doubleCompleted, duplicateExecutions, stalls, problems };
}

/**
 * Adds batches of `chaos` jobs with ids <tag>-<n> (`extra(n)` over each job's spec) until stopped. `acked`: ids whose add returned;
 * `tried`: every id sent (an add whose answer a fault cut off may or may not have landed). Errors
 * are counted, not thrown: under store faults some adds fail, and those jobs were never promised.
 */
export function producer(
  store: Store, opts: { batch: number; everyMs: number; queue?: string; tag?: string; extra?: (n: number) => Partial<JobSpec> },
) {
  const acked = new Set<string>();
  const tried = new Set<string>();
  let stopped = false;
  let n = 0;
  let errors = 0;
  const q = new Queue(store);
  const done = (async () => {
    while (!stopped) {
      const specs = Array.from({ length: opts.batch }, () => {
        const k = n++;
        return { id: `${opts.tag ?? 'c'}-${k}`, task: 'chaos', queue: opts.queue ?? 'chaos', payload: {}, maxAttempts: 1, maxStalls: 100, ...opts.extra?.(k) };
      });
      for (const s of specs) tried.add(s.id);
      try {
        await q.enqueueMany(specs);
        for (const s of specs) acked.add(s.id);
      } catch {
        errors++;
      }
      await sleep(opts.everyMs);
    }
  })();
  return {
    acked,
    tried,
    get errors() {
      return errors;
    },
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** A job's snoozes: each run of them is one history record counting them. */
export function snoozesOf(history: AttemptRecord[]): number {
  return history.reduce((n, h) => n + (h.outcome === 'snoozed' ? (h.snoozes ?? 1) : 0), 0);
}

/** A queue's counts (all zero when it has none). */
export async function countsOf(store: Store, queue = 'chaos') {
  return (await store.countJobs({ queue }))[queue] ?? { scheduled: 0, queued: 0, active: 0, completed: 0, failed: 0, cancelled: 0 };
}

const TASKS = join(process.cwd(), 'dist/tests/helpers/chaos-tasks.js');

/**
 * A `fusion server` process on a target (the `chaos` task declared), resolved once it listens.
 * `cli`: another build's CLI entry (an earlier version's, in the rolling upgrade test).
 */
export async function apiServer(t: Target, port: number, extra: string[] = [], cli = CLI): Promise<Proc> {
  const p = new Proc([cli, 'server', '--port', String(port), '--store', t.url, '--tasks', TASKS, '--consent-file', join(t.dir, 'consent.jsonl'), '--log-level', 'info', ...extra], {
    env: { FUSION_API_KEYS: '', FUSION_API_KEYS_FILE: '', FUSION_CONFIG: '' },
  });
  // Generous: on a loaded 2-core box (load average ~27) a server on PostgreSQL has taken over 30 s to start.
  try {
    await p.line('fusion listening', 90_000);
  } catch (err) {
    await p.kill9(); // a server left running would keep the test file's process alive
    throw err;
  }
  return p;
}
