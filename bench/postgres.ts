// npm run bench:postgres -- [--url postgres://postgres@127.0.0.1:5432/fusion_bench] [--jobs N] [--runs R]
//   [--compare graphile-worker,pg-boss,bullmq-pg] [--only row,row] [--samples 300]
// Fusion on PostgreSQL against the Postgres job queues on the same server, each in a schema of its
// own (made fresh, dropped after), rows alternating between subjects within each run. Prints one
// JSON document: per row and subject the median and range over R runs, the best peer, and Fusion's
// ratio to it (above 1 is better for rates, below 1 for latencies). processed_c50 also reports the
// PostgreSQL server's CPU per job (all postgres processes' utime+stime over the row, from /proc:
// approximate on a shared server); processed_c50x4 too, over its four worker processes. Rows:
// enqueue_single, enqueue_inflight (100 calls outstanding), enqueue_batch (1000 per call),
// processed_c1, processed_c50, processed_c50x4 (four child processes of concurrency 50 each, started
// once the jobs are in), latency, latency_xconn, lateness (delayed jobs: start minus due time).
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { cpus } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Fusion } from '../src/fusion.js';
import { fusionSubject, type Subject } from './subjects.js';
import { bullmqPgSubject, graphileSubject, pgBossSubject, type PgSubject } from './pg-subjects.js';
import { enqueueBatch, enqueueInFlight, enqueueSingle, latency, processed, round, type Rate } from './measure.js';
import { pct } from './shared.js';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.PG_BENCH_URL ?? 'postgres://postgres@127.0.0.1:5432/fusion_bench' },
    jobs: { type: 'string', default: '20000' },
    runs: { type: 'string', default: '1' },
    compare: { type: 'string', default: 'graphile-worker,pg-boss,bullmq-pg' },
    only: { type: 'string' },
    samples: { type: 'string', default: '300' },
  },
});
const url = args.url!;
const jobs = Number(args.jobs);
const runs = Number(args.runs);
const samples = Number(args.samples);
const peers = args.compare ? args.compare.split(',').filter(Boolean) : [];
/**
 * Fusion as a PgSubject: delayed jobs go in through a second Fusion on the same store, as from an
 * API process (the worker learns of them by NOTIFY, carrying the due time).
 */
async function fusionPgSubject(url: string, schema: string): Promise<PgSubject> {
  const storeUrl = `${url}${url.includes('?') ? '&' : '?'}schema=${schema}`;
  const s = await fusionSubject(storeUrl);
  let at: Fusion | undefined;
  return {
    ...s,
    async enqueueAt(queue, payload, runAt) {
      at ??= await Fusion.open({ store: storeUrl });
      await at.queue.enqueue({ task: 'noop', queue, payload, runAt });
    },
    async close() {
      await at?.close();
      await s.close();
    },
  };
}

const makers: Record<string, (url: string, schema: string) => Promise<PgSubject>> = {
  fusion: fusionPgSubject,
  'graphile-worker': graphileSubject,
  'pg-boss': pgBossSubject,
  'bullmq-pg': bullmqPgSubject,
};
for (const p of peers) if (p === 'fusion' || !makers[p]) throw new Error(`--compare knows ${Object.keys(makers).slice(1).join(', ')}, not ${p}`);

/** CPU time (ms) of every postgres process now (server processes live as long as their connections). */
function postgresCpuMs(): number {
  const tick = 100; // USER_HZ on Linux
  let t = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      const f = stat.slice(close + 2).split(' ');
      t += ((Number(f[11]) + Number(f[12])) * 1000) / tick;
    } catch {
      // gone meanwhile
    }
  }
  return t;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * n jobs bulk-enqueued, then `procs` child processes (this script, PG_BENCH_CHILD set), each with a
 * subject of its own on the same schema, start a worker of `concurrency` on 'go'. Timed from 'go' to
 * the n-th completion the children report (each counts its own, as its library reports them).
 * Postgres CPU is taken over the row (fill included) up to then, before the children's connections
 * close and their server processes exit with their CPU time.
 */
async function processedProcs(
  s: Subject, schema: string, queue: string, n: number, procs: number, concurrency: number,
): Promise<{ rate: number; pgCpuMs: number }> {
  const cpu0 = postgresCpuMs();
  await enqueueBatch(s, queue, n);
  let done = 0;
  let reached!: () => void;
  let failed!: (err: Error) => void;
  const all = new Promise<void>((r, f) => ((reached = r), (failed = f)));
  all.catch(() => {}); // observed below; a failure before 'go' rejects the start instead
  const children: ChildProcess[] = [];
  try {
    await Promise.all(Array.from({ length: procs }, () => new Promise<void>((resolve, reject) => {
      const env = { ...process.env, PG_BENCH_CHILD: JSON.stringify({ name: s.name, url, schema, queue, concurrency }) };
      const c = fork(fileURLToPath(import.meta.url), [], { env, stdio: 'inherit' });
      children.push(c);
      c.on('message', (m: { ready?: true; done?: number }) => {
        if (m.ready) resolve();
        if (m.done && (done += m.done) >= n) reached();
      });
      c.once('error', reject);
      c.once('exit', (code) => {
        const err = new Error(`${s.name}: a bench worker process exited (${code}) mid-row`);
        reject(err);
        failed(err);
      });
    })));
    const t0 = performance.now();
    for (const c of children) c.send('go');
    await all;
    const rate = n / ((performance.now() - t0) / 1000);
    return { rate, pgCpuMs: postgresCpuMs() - cpu0 };
  } finally {
    await Promise.all(children.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const kill = setTimeout(() => c.kill('SIGKILL'), 10_000);
      c.once('exit', () => (clearTimeout(kill), resolve()));
      c.send('stop');
    })));
  }
}

/** A worker process for processedProcs: reports its completions in batches of whatever came in since the last report. */
async function child(spec: { name: string; url: string; schema: string; queue: string; concurrency: number }): Promise<void> {
  // Graphile's default pool (a connection per slot) times four processes would pass the server's
  // max_connections (100 here, shared): 12 each, a little above Fusion's default pool of 10.
  const s = spec.name === 'graphile-worker'
    ? await graphileSubject(spec.url, spec.schema, { maxPoolSize: 12 })
    : await makers[spec.name]!(spec.url, spec.schema);
  let w: Awaited<ReturnType<Subject['work']>> | undefined;
  let unsent = 0;
  let flushing = false;
  process.on('message', async (m: string) => {
    if (m === 'go') {
      w = await s.work(spec.queue, spec.concurrency);
      for (let k = 1; ; k++) {
        await w.completed(k);
        unsent++;
        if (!flushing) {
          flushing = true;
          setImmediate(() => {
            process.send!({ done: unsent });
            unsent = 0;
            flushing = false;
          });
        }
      }
    }
    if (m === 'stop') {
      await w?.stop().catch(() => {});
      await s.close().catch(() => {});
      process.exit(0);
    }
  });
  process.send!({ ready: true });
}

/**
 * Delayed jobs due every `spacing` ms from 1 s ahead, an idle worker of concurrency 10: how late
 * each starts. Handlers do not see their payload here, so the k-th start is matched with the k-th
 * due time (exact while jobs start in due order, which all four claim by due time).
 */
async function lateness(s: PgSubject, queue: string, n: number, spacing = 10): Promise<{ p50: number; p99: number }> {
  const starts: number[] = [];
  let all!: () => void;
  const finished = new Promise<void>((r) => (all = r));
  const w = await s.work(queue, 10, () => {
    starts.push(Date.now());
    if (starts.length === n) all();
  });
  await sleep(200);
  const base = Date.now() + 1000;
  const dues = Array.from({ length: n }, (_, i) => base + i * spacing);
  for (let i = 0; i < n; i++) await s.enqueueAt(queue, { i }, dues[i]!);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${s.name}: ${starts.length} of ${n} delayed jobs started`)), base + n * spacing + 60_000 - Date.now());
  });
  try {
    await Promise.race([finished, timeout]);
  } finally {
    clearTimeout(timer);
    await w.stop();
  }
  const late = [...starts].sort((a, b) => a - b).map((t, k) => t - dues[k]!);
  return { p50: round(pct(late, 50), 3), p99: round(pct(late, 99), 3) };
}

type Measure = (s: PgSubject, queue: string, schema: string) => Promise<Record<string, number>>;
/** A rate row as the engine bench reports it: the rate, and this process's CPU per job beside it. */
const withCpu = (name: string, r: Rate): Record<string, number> => ({ [name]: r.rate, [`${name}_cpu_us`]: r.cpuUs });
const single = Math.min(jobs, 5000);
const c1 = Math.min(jobs, 3000);
// pg-boss's worker waits its polling interval (0.5 s at least) after every fetch, so a slot runs
// ~2 jobs/s: its processing and latency rows use fewer jobs, or one row would take most of an hour.
const SLOW = 'pg-boss';
const cap = (s: Subject, n: number, slow: number) => (s.name === SLOW ? Math.min(n, slow) : n);
const rows: { name: string; unit: string; n: number; run: Measure }[] = [
  { name: 'enqueue_single', unit: 'jobs/s', n: single, run: async (s, q) => withCpu('enqueue_single', await enqueueSingle(s, q, single)) },
  { name: 'enqueue_inflight', unit: 'jobs/s', n: single, run: async (s, q) => withCpu('enqueue_inflight', await enqueueInFlight(s, q, single, 100)) },
  { name: 'enqueue_batch', unit: 'jobs/s', n: jobs, run: async (s, q) => withCpu('enqueue_batch', await enqueueBatch(s, q, jobs)) },
  { name: 'processed_c1', unit: 'jobs/s', n: c1, run: async (s, q) => withCpu('processed_c1', await processed(s, q, cap(s, c1, 20), 1)) },
  {
    name: 'processed_c50', unit: 'jobs/s', n: jobs,
    run: async (s, q) => {
      // CPU over the whole row (the fill included): what the server spends per job, end to end.
      const cpu0 = postgresCpuMs();
      const n = cap(s, jobs, 1000);
      const rate = await processed(s, q, n, 50);
      const cpu = postgresCpuMs() - cpu0;
      // Server processes that exit during the row take their CPU time with them: no figure then.
      const out = withCpu('processed_c50', rate);
      if (cpu >= 0) out.pg_cpu_ms_per_job = cpu / n;
      return out;
    },
  },
  {
    name: 'processed_c50x4', unit: 'jobs/s', n: jobs,
    run: async (s, q, schema) => {
      const n = cap(s, jobs, 1000);
      const { rate, pgCpuMs } = await processedProcs(s, schema, q, n, 4, 50);
      const out: Record<string, number> = { processed_c50x4: rate };
      if (pgCpuMs >= 0) out.pg_cpu_ms_per_job_c50x4 = pgCpuMs / n;
      return out;
    },
  },
  {
    name: 'latency', unit: 'ms', n: samples,
    run: async (s, q) => {
      const l = await latency(s, q, cap(s, samples, 30));
      return { latency_p50_ms: l.p50, latency_p99_ms: l.p99 };
    },
  },
  {
    // Enqueued through another connection (pool), as by an API process.
    name: 'latency_xconn', unit: 'ms', n: samples,
    run: async (s, q) => {
      const producer = await s.producer();
      try {
        const l = await latency(s, q, cap(s, samples, 30), producer);
        return { latency_xconn_p50_ms: l.p50, latency_xconn_p99_ms: l.p99 };
      } finally {
        await producer.close();
      }
    },
  },
  {
    name: 'lateness', unit: 'ms', n: samples,
    run: async (s, q) => {
      const l = await lateness(s, q, cap(s, samples, 30));
      return { lateness_p50_ms: l.p50, lateness_p99_ms: l.p99 };
    },
  },
];
const only = args.only?.split(',');
const selected = rows.filter((r) => !only || only.includes(r.name));

async function ensureDatabase(): Promise<void> {
  const u = new URL(url);
  const db = u.pathname.slice(1);
  u.pathname = '/postgres';
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  try {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
    if (!rowCount) await c.query(`CREATE DATABASE "${db.replace(/"/g, '""')}"`);
  } finally {
    await c.end();
  }
}

async function main() {
  const keepAlive = setInterval(() => {}, 60_000);
  await ensureDatabase();
  const tag = randomBytes(3).toString('hex');
  const schemas: string[] = [];
  const schemaFor = (name: string) => {
    const s = `bench_${name.replace(/[^a-z0-9]/g, '_')}_${tag}`;
    schemas.push(s);
    return s;
  };
  const subjects: PgSubject[] = [];
  const schemaOf = new Map<PgSubject, string>();
  try {
    for (const name of ['fusion', ...peers]) {
      const schema = schemaFor(name);
      const s = await makers[name]!(url, schema);
      subjects.push(s);
      schemaOf.set(s, schema);
    }
    const results = new Map<string, Map<string, number[]>>();
    const units = new Map<string, { unit: string; n: number }>();
    let seq = 0;
    for (let run = 0; run < runs; run++) {
      for (const row of selected) {
        // Rotate who goes first, so no subject always gets the warmer (or noisier) slot.
        const order = subjects.map((_, i) => subjects[(i + run) % subjects.length]!);
        for (const s of order) {
          const queue = `bench_${row.name}_${seq++}`;
          const out = await row.run(s, queue, schemaOf.get(s)!);
          await s.drop(queue);
          for (const [metric, v] of Object.entries(out)) {
            const unit = metric.endsWith('_ms') ? 'ms' : metric.startsWith('pg_cpu') ? 'ms/job' : metric.endsWith('_cpu_us') ? 'µs/job' : row.unit;
            units.set(metric, { unit, n: row.n });
            const by = results.get(metric) ?? new Map<string, number[]>();
            results.set(metric, by);
            by.set(s.name, [...(by.get(s.name) ?? []), v]);
          }
          process.stderr.write(`${s.name} ${row.name} run ${run + 1}: ${JSON.stringify(out)}\n`);
        }
      }
    }
    const median = (xs: number[]) => {
      const a = [...xs].sort((x, y) => x - y);
      return a.length % 2 ? a[(a.length - 1) / 2]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2;
    };
    const report = {
      url: url.replace(/:\/\/[^@]*@/, '://***@'), jobs, runs, samples, node: process.version, cpus: cpus().length,
      at: new Date().toISOString(),
      note: peers.includes(SLOW) ? 'pg-boss rows use at most 20 jobs (c1), 1000 (c50, c50x4), 30 latency and lateness samples: it polls at >= 0.5 s' : undefined,
      rows: [...results].map(([metric, by]) => {
        const { unit, n } = units.get(metric)!;
        const d = unit === 'jobs/s' ? 0 : 3;
        const row: Record<string, unknown> = { row: metric, unit, n };
        for (const [name, vs] of by) row[name] = { median: round(median(vs), d), min: round(Math.min(...vs), d), max: round(Math.max(...vs), d) };
        const lowerIsBetter = unit !== 'jobs/s';
        const others = [...by].filter(([name]) => name !== 'fusion').map(([name, vs]) => [name, median(vs)] as const);
        const f = by.get('fusion');
        if (f && others.length) {
          const best = others.reduce((a, b) => ((lowerIsBetter ? b[1] < a[1] : b[1] > a[1]) ? b : a));
          row.best_peer = best[0];
          row.ratio_to_best_peer = round(median(f) / best[1], 2);
        }
        return row;
      }),
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    for (const s of subjects) await s.close().catch(() => {});
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => {});
    await c.end();
    clearInterval(keepAlive);
  }
}

const childSpec = process.env.PG_BENCH_CHILD;
(childSpec ? child(JSON.parse(childSpec)) : main()).catch((err) => {
  console.error(err);
  process.exitCode = 1;
  if (childSpec) process.exit(1);
});
