// Fusion on Redis vs BullMQ on the same Redis, side by side, alternating, in one run. Prints JSON.
//   npm run bench:redis -- [--url redis://127.0.0.1:6379] [--scale 1] [--reps 2]
// Each measurement uses its own key prefix and deletes its keys after. Throughput rows: higher is
// better; latency rows (ms): lower is better. ratio = fusion / bullmq for every row.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { bullHarness, fusionHarness, type Harness } from './redis-harness.js';
import { dropRedisPrefix, pct } from './shared.js';

type System = 'fusion' | 'bullmq';
const QUEUE = 'bench';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const URL_ = opt('url', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const SCALE = Number(opt('scale', '1'));
const REPS = Number(opt('reps', '2'));

const n = (x: number) => Math.max(10, Math.round(x * SCALE));
const newPrefix = (s: System) => `bench-${s}-${randomBytes(4).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dropKeys = (prefix: string) => dropRedisPrefix(URL_, prefix);

// ---------- one system behind a common face (redis-harness.ts) ----------

const harness = (s: System, prefix: string) => (s === 'fusion' ? fusionHarness(URL_, prefix, QUEUE) : bullHarness(URL_, prefix, QUEUE));

async function untilCompleted(h: Harness, total: number, timeoutMs = 300_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while ((await h.completed()) < total) {
    if (Date.now() > end) throw new Error('benchmark timed out waiting for completions');
    await sleep(10);
  }
}

// ---------- measurements ----------

type Measure = (s: System) => Promise<number>;

async function withHarness(s: System, fn: (h: Harness, prefix: string) => Promise<number>): Promise<number> {
  const prefix = newPrefix(s);
  const h = harness(s, prefix);
  try {
    return await fn(h, prefix);
  } finally {
    await h.close();
    await dropKeys(prefix);
  }
}

const enqueueSequential: Measure = (s) => withHarness(s, async (h) => {
  const N = n(3000);
  const t = performance.now();
  for (let i = 0; i < N; i++) await h.enqueue({ i });
  return N / ((performance.now() - t) / 1000);
});

const enqueueInFlight: Measure = (s) => withHarness(s, async (h) => {
  const N = n(10_000);
  let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: 100 }, async () => {
    while (next < N) await h.enqueue({ i: next++ });
  }));
  return N / ((performance.now() - t) / 1000);
});

const enqueueBulk: Measure = (s) => withHarness(s, async (h) => {
  const N = n(20_000);
  const t = performance.now();
  for (let i = 0; i < N; i += 1000) await h.enqueueBulk(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ i: i + k })));
  return N / ((performance.now() - t) / 1000);
});

const processInProcess = (concurrency: number, count: number): Measure => (s) => withHarness(s, async (h) => {
  const N = n(count);
  for (let i = 0; i < N; i += 1000) await h.enqueueBulk(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ i: i + k })));
  const t = performance.now();
  await h.work(concurrency);
  await untilCompleted(h, N);
  return N / ((performance.now() - t) / 1000);
});

const processMultiProcess = (procs: number, concurrency: number, count: number): Measure => (s) => withHarness(s, async (h, prefix) => {
  const N = n(count);
  await h.pause();
  for (let i = 0; i < N; i += 1000) await h.enqueueBulk(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ i: i + k })));
  const children: ChildProcess[] = [];
  await Promise.all(Array.from({ length: procs }, () => new Promise<void>((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), ['--child', s, prefix, String(concurrency), '--url', URL_], { stdio: 'inherit' });
    children.push(c);
    c.once('message', () => resolve());
    c.once('error', reject);
  })));
  const t = performance.now();
  await h.resume();
  await untilCompleted(h, N);
  const rate = N / ((performance.now() - t) / 1000);
  await Promise.all(children.map((c) => new Promise((r) => {
    c.once('exit', r);
    c.kill('SIGTERM');
  })));
  return rate;
});

/** Enqueue → handler start on an idle queue, one job at a time. Returns [p50, p99] in ms. */
async function latency(s: System): Promise<[number, number]> {
  const samples: number[] = [];
  await withHarness(s, async (h) => {
    let started: ((t: number) => void) | null = null;
    await h.work(1, () => started?.(performance.now()));
    await sleep(200);
    for (let i = 0; i < n(1000); i++) {
      const done = new Promise<number>((r) => (started = r));
      const t0 = performance.now();
      await h.enqueue({ i });
      samples.push((await done) - t0);
      await sleep(2);
    }
    return 0;
  });
  return [pct(samples, 50), pct(samples, 99)];
}

/** Delayed jobs due at known times: how late does each start? Returns [p50, p99] in ms. */
async function lateness(s: System): Promise<[number, number]> {
  const samples: number[] = [];
  await withHarness(s, async (h) => {
    const N = n(200);
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    await h.work(10, (p: { due: number }) => {
      samples.push(Date.now() - p.due);
      if (samples.length === N) done();
    });
    await sleep(200);
    const base = Date.now() + 500;
    for (let i = 0; i < N; i++) {
      const due = base + i * 10;
      await h.enqueue({ due }, due);
    }
    await all;
    return 0;
  });
  return [pct(samples, 50), pct(samples, 99)];
}

// ---------- child worker process ----------

async function child(s: System, prefix: string, concurrency: number): Promise<void> {
  const h = harness(s, prefix);
  await h.work(concurrency);
  process.send!('ready');
  process.once('SIGTERM', () => {
    void h.close().finally(() => process.exit(0));
  });
}

// ---------- main ----------

interface Row {
  row: string;
  unit: string;
  fusion: number;
  bullmq: number;
  ratio: number;
  runs: { fusion: number[]; bullmq: number[] };
}

async function main(): Promise<void> {
  if (args[0] === '--child') return child(args[1] as System, args[2]!, Number(args[3]));
  const rows: Row[] = [];
  const median = (xs: number[]) => pct(xs, 50);
  const round = (x: number) => (x >= 100 ? Math.round(x) : Math.round(x * 100) / 100);
  const addRow = (row: string, unit: string, runs: { fusion: number[]; bullmq: number[] }) => {
    const f = median(runs.fusion);
    const b = median(runs.bullmq);
    rows.push({ row, unit, fusion: round(f), bullmq: round(b), ratio: Math.round((f / b) * 100) / 100, runs: { fusion: runs.fusion.map(round), bullmq: runs.bullmq.map(round) } });
    console.error(`${row}: fusion ${round(f)} bullmq ${round(b)} ${unit}`);
  };
  const throughput: [string, Measure][] = [
    ['enqueue sequential', enqueueSequential],
    ['enqueue 100 in flight', enqueueInFlight],
    ['enqueue bulk (1000 per call)', enqueueBulk],
    ['processed c=1, 1 process', processInProcess(1, 3000)],
    ['processed c=50, 1 process', processInProcess(50, 30_000)],
    ['processed c=50 × 4 processes', processMultiProcess(4, 50, 40_000)],
  ];
  const only = opt('only', '');
  const systems = opt('systems', 'fusion,bullmq').split(',');
  const wanted = (name: string) => !only || only.split(',').some((o) => name.includes(o));
  // Warm both clients and the JIT before anything is timed, so the first row does not pay for it.
  for (const s of systems as System[]) {
    await enqueueSequential(s);
    await processInProcess(50, 3000)(s);
  }
  for (const [name, m] of throughput) {
    if (!wanted(name)) continue;
    const runs = { fusion: [] as number[], bullmq: [] as number[] };
    for (let r = 0; r < REPS; r++) {
      // Alternate which goes first, so neither always gets the warmer machine.
      const order: System[] = r % 2 === 0 ? ['fusion', 'bullmq'] : ['bullmq', 'fusion'];
      for (const s of order) if (systems.includes(s)) runs[s].push(await m(s));
    }
    addRow(name, 'jobs/s', runs);
  }
  for (const [name, m] of [['enqueue→start latency, idle', latency], ['delayed job lateness', lateness]] as const) {
    if (!wanted(name)) continue;
    const p50 = { fusion: [] as number[], bullmq: [] as number[] };
    const p99 = { fusion: [] as number[], bullmq: [] as number[] };
    for (let r = 0; r < REPS; r++) {
      const order: System[] = r % 2 === 0 ? ['fusion', 'bullmq'] : ['bullmq', 'fusion'];
      for (const s of order) {
        if (!systems.includes(s)) continue;
        const [a, b] = await m(s);
        p50[s].push(a);
        p99[s].push(b);
      }
    }
    addRow(`${name} p50`, 'ms', p50);
    addRow(`${name} p99`, 'ms', p99);
  }
  console.log(JSON.stringify({ url: URL_, scale: SCALE, reps: REPS, at: new Date().toISOString(), rows }, null, 2));
  process.exit(0);
}

await main();
