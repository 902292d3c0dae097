// npm run bench -- [--store URL] [--jobs N] [--runs R] [--compare bullmq|plainjob] [--only row,row] [--log info] [--warmup N]
// Prints one JSON document: each row's median and range over R runs, per subject, and with
// --compare the ratio Fusion/peer (above 1 is better for rates, below 1 for latencies and CPU per job),
// both as the ratio of medians and as the median and range of the per-run (paired) ratios.
// Rate rows also report this process's CPU time per job (`<row>_cpu_us`).
// plainjob runs on its own SQLite file in the same temp directory as Fusion's.
// Subjects alternate within each run so machine noise hits both alike. Before the timed rows each
// subject runs every selected row once with --warmup jobs (default 2000; 0: none), not recorded:
// otherwise the first row carries the start-up of whichever subject runs first in it (its code
// compiled, the garbage of loading its modules collected), and with --runs 1 that is always Fusion.
// With a redis:// store and --compare bullmq it runs the Redis comparison (redis-vs-bullmq.ts),
// whose rows add enqueues in flight, four worker processes and delayed-job lateness; there --only
// picks that script's rows by a part of their name (e.g. "c=50"), and --samples and --log do not apply.
// With a postgres:// store it runs the PostgreSQL comparison (postgres.ts): --compare takes peers from
// bullmq (its Postgres backend), graphile-worker and pg-boss, comma-separated.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bullmqSubject, fusionSubject, plainjobSubject, type Subject } from './subjects.js';
import { enqueueBatch, enqueueSingle, latency, processed, round, type Rate } from './measure.js';

const { values: args, tokens } = parseArgs({
  tokens: true,
  options: {
    store: { type: 'string' },
    jobs: { type: 'string', default: '20000' },
    runs: { type: 'string', default: '1' },
    compare: { type: 'string' },
    only: { type: 'string' },
    samples: { type: 'string', default: '300' },
    log: { type: 'string' },
    warmup: { type: 'string', default: '2000' },
  },
});

if (args.compare === 'bullmq' && /^rediss?:\/\//.test(args.store ?? '')) {
  const given = (name: string) => tokens.some((t) => t.kind === 'option' && t.name === name);
  for (const name of ['samples', 'log']) if (given(name)) throw new Error(`--${name} does not apply to the Redis comparison`);
  const forward = ['--url', args.store!, '--reps', args.runs!];
  if (given('jobs')) forward.push('--scale', String(Number(args.jobs) / 30_000));
  if (args.only) forward.push('--only', args.only);
  const script = fileURLToPath(new URL('./redis-vs-bullmq.js', import.meta.url));
  process.exit(spawnSync(process.execPath, [script, ...forward], { stdio: 'inherit' }).status ?? 1);
}

if (/^postgres(ql)?:\/\//.test(args.store ?? '')) {
  if (args.log) throw new Error('--log does not apply to the PostgreSQL comparison');
  const peers = (args.compare ?? 'graphile-worker,pg-boss,bullmq').split(',').map((p) => (p === 'bullmq' ? 'bullmq-pg' : p));
  const forward = ['--url', args.store!, '--runs', args.runs!, '--jobs', args.jobs!, '--samples', args.samples!, '--compare', peers.join(',')];
  if (args.only) forward.push('--only', args.only);
  const script = fileURLToPath(new URL('./postgres.js', import.meta.url));
  process.exit(spawnSync(process.execPath, [script, ...forward], { stdio: 'inherit' }).status ?? 1);
}

const jobs = Number(args.jobs);
const runs = Number(args.runs);
const samples = Number(args.samples);
const warmup = Number(args.warmup);
let tmp: string | null = null;
const storeUrl = args.store ?? `sqlite:${join((tmp = mkdtempSync(join(tmpdir(), 'fusion-bench-'))), 'bench.db')}`;
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
if (args.compare && args.compare !== 'bullmq' && args.compare !== 'plainjob') {
  throw new Error(`--compare knows bullmq and plainjob, not ${args.compare}`);
}
const peerDir = args.compare === 'plainjob' ? (tmp ?? mkdtempSync(join(tmpdir(), 'fusion-bench-'))) : null;
const rate = (name: string, r: Rate) => ({ [name]: r.rate, [`${name}_cpu_us`]: r.cpuUs });

type Measure = (s: Subject, queue: string, n?: number) => Promise<Record<string, number>>;
interface RowDef {
  name: string;
  unit: string;
  n: number;
  /** `n` jobs (or samples) instead of the row's own: the warm-up's. */
  run: Measure;
}

// At most 20,000: with 5,000 a one-at-a-time SQLite row lasted ~0.13 s on a fast VM, inside V8's
// compiling of the add path (Fusion's longer one later than a smaller queue's), where one hiccup
// decided a pair. Both subjects run the same count; `--jobs 5000` gives the old row.
const single = Math.min(jobs, 20_000);
const c1 = Math.min(jobs, 20_000);
const rows: RowDef[] = [
  { name: 'enqueue_single', unit: 'jobs/s', n: single, run: async (s, q, n = single) => rate('enqueue_single', await enqueueSingle(s, q, n)) },
  { name: 'enqueue_batch', unit: 'jobs/s', n: jobs, run: async (s, q, n = jobs) => rate('enqueue_batch', await enqueueBatch(s, q, n)) },
  { name: 'processed_c1', unit: 'jobs/s', n: c1, run: async (s, q, n = c1) => rate('processed_c1', await processed(s, q, n, 1)) },
  { name: 'processed_c50', unit: 'jobs/s', n: jobs, run: async (s, q, n = jobs) => rate('processed_c50', await processed(s, q, n, 50)) },
  {
    name: 'latency', unit: 'ms', n: samples,
    run: async (s, q, n = samples) => {
      const l = await latency(s, q, Math.min(n, samples));
      return { latency_p50_ms: l.p50, latency_p99_ms: l.p99 };
    },
  },
  {
    // Enqueued through a second connection, as by an API process: SQLite's cross-process wake-up path.
    name: 'latency_xconn', unit: 'ms', n: samples,
    run: async (s, q, n = samples) => {
      const producer = await s.producer();
      try {
        const l = await latency(s, q, Math.min(n, samples), producer);
        return { latency_xconn_p50_ms: l.p50, latency_xconn_p99_ms: l.p99 };
      } finally {
        await producer.close();
      }
    },
  },
];
const only = args.only?.split(',');
const selected = rows.filter((r) => !only || only.includes(r.name));

async function main() {
  // systemClock timers are unref'd (a worker never holds a process open); the bench must stay up.
  const keepAlive = setInterval(() => {}, 60_000);
  const subjects: Subject[] = [await fusionSubject(storeUrl, args.log)];
  if (args.compare === 'bullmq') subjects.push(await bullmqSubject(redisUrl));
  if (args.compare === 'plainjob') subjects.push(await plainjobSubject(join(peerDir!, 'plainjob.db')));
  const results = new Map<string, Map<string, number[]>>(); // metric → subject → values
  const units = new Map<string, { unit: string; n: number }>();
  let seq = 0;
  if (warmup > 0) {
    for (const row of selected) {
      for (const s of subjects) {
        const queue = `warmup-${row.name}-${seq++}`;
        await row.run(s, queue, warmup);
        await s.drop(queue);
      }
    }
  }
  for (let run = 0; run < runs; run++) {
    for (const row of selected) {
      // Alternate who goes first, so neither always gets the warmer (or noisier) slot.
      const order = run % 2 === 0 ? subjects : [...subjects].reverse();
      for (const s of order) {
        const queue = `bench-${row.name}-${seq++}`;
        const out = await row.run(s, queue);
        await s.drop(queue);
        for (const [metric, v] of Object.entries(out)) {
          units.set(metric, { unit: metric.endsWith('_ms') ? 'ms' : metric.endsWith('_cpu_us') ? 'µs CPU/job' : row.unit, n: row.n });
          const bySubject = results.get(metric) ?? new Map<string, number[]>();
          results.set(metric, bySubject);
          bySubject.set(s.name, [...(bySubject.get(s.name) ?? []), v]);
        }
        process.stderr.write(`${s.name} ${row.name} run ${run + 1}: ${JSON.stringify(out)}\n`);
      }
    }
  }
  for (const s of subjects) await s.close();
  clearInterval(keepAlive);

  const median = (xs: number[]) => {
    const a = [...xs].sort((x, y) => x - y);
    return a.length % 2 ? a[(a.length - 1) / 2]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2;
  };
  const digits = (unit: string) => (unit === 'ms' ? 3 : unit.startsWith('µs') ? 1 : 0);
  const report = {
    store: storeUrl.replace(/:\/\/[^@]*@/, '://***@'),
    compare: args.compare === 'bullmq' ? `bullmq on ${redisUrl.replace(/:\/\/[^@]*@/, '://***@')}`
      : args.compare === 'plainjob' ? 'plainjob on its own SQLite file in the same directory' : null,
    log: args.log ?? 'silent', jobs, runs, warmup, node: process.version, cpus: cpus().length,
    rows: [...results].map(([metric, bySubject]) => {
      const { unit, n } = units.get(metric)!;
      const d = digits(unit);
      const row: Record<string, unknown> = { row: metric, unit, n };
      for (const [name, vs] of bySubject) {
        row[name] = { median: round(median(vs), d), min: round(Math.min(...vs), d), max: round(Math.max(...vs), d) };
      }
      const f = bySubject.get('fusion');
      const b = args.compare ? bySubject.get(args.compare) : undefined;
      if (f && b) {
        row.ratio = round(median(f) / median(b), 2);
        // Run r of each subject ran back to back: their ratio is a pair's, less touched by the VM's drift.
        const pairs = f.map((x, i) => x / b[i]!);
        row.pair_ratios = { median: round(median(pairs), 2), min: round(Math.min(...pairs), 2), max: round(Math.max(...pairs), 2) };
      }
      return row;
    }),
  };
  console.log(JSON.stringify(report, null, 2));
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (peerDir && peerDir !== tmp) rmSync(peerDir, { recursive: true, force: true });
  });
