// npm run bench:postgres -- [--url postgres://postgres@127.0.0.1:5432/fusion_bench] [--jobs N] [--runs R]
//   [--compare graphile-worker,pg-boss,bullmq-pg] [--only row,row] [--samples 300]
// Fusion on PostgreSQL against the Postgres job queues on the same server, each in a schema of its
// own (made fresh, dropped after), rows alternating between subjects within each run. Prints one
// JSON document: per row and subject the median and range over R runs, the best peer, and Fusion's
// ratio to it (above 1 is better for rates, below 1 for latencies). processed_c50 also reports the
// PostgreSQL server's CPU per job (all postgres processes' utime+stime over the row, from /proc:
// approximate on a shared server).
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { fusionSubject, type Subject } from './subjects.js';
import { bullmqPgSubject, graphileSubject, pgBossSubject } from './pg-subjects.js';
import { enqueueBatch, enqueueSingle, latency, processed, round, type Rate } from './measure.js';

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
const makers: Record<string, (url: string, schema: string) => Promise<Subject>> = {
  'graphile-worker': graphileSubject,
  'pg-boss': pgBossSubject,
  'bullmq-pg': bullmqPgSubject,
};
for (const p of peers) if (!makers[p]) throw new Error(`--compare knows ${Object.keys(makers).join(', ')}, not ${p}`);

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

type Measure = (s: Subject, queue: string) => Promise<Record<string, number>>;
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
  const subjects: Subject[] = [];
  try {
    subjects.push(await fusionSubject(`${url}${url.includes('?') ? '&' : '?'}schema=${schemaFor('fusion')}`));
    for (const p of peers) subjects.push(await makers[p]!(url, schemaFor(p)));
    const results = new Map<string, Map<string, number[]>>();
    const units = new Map<string, { unit: string; n: number }>();
    let seq = 0;
    for (let run = 0; run < runs; run++) {
      for (const row of selected) {
        // Rotate who goes first, so no subject always gets the warmer (or noisier) slot.
        const order = subjects.map((_, i) => subjects[(i + run) % subjects.length]!);
        for (const s of order) {
          const queue = `bench_${row.name}_${seq++}`;
          const out = await row.run(s, queue);
          await s.drop(queue);
          for (const [metric, v] of Object.entries(out)) {
            units.set(metric, { unit: metric.endsWith('_ms') ? 'ms' : metric.startsWith('pg_cpu') ? 'ms/job' : row.unit, n: row.n });
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
      note: peers.includes(SLOW) ? 'pg-boss rows use at most 20 jobs (c1), 1000 (c50), 30 latency samples: it polls at >= 0.5 s' : undefined,
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

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
