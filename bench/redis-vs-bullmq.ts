// Fusion on Redis vs BullMQ and bee-queue on the same Redis, side by side, alternating, in one run.
// Prints JSON.
//   npm run bench:redis -- [--url redis://127.0.0.1:6379] [--scale 1] [--reps 2] [--only 'row|row']
//                          [--systems fusion,bullmq,bee]
// Each measurement uses its own key prefix and deletes its keys after. Throughput rows: higher is
// better; latency rows (ms): lower is better. Per row: each system's median, fusion / peer of the
// medians, and fusion / peer of each rep (the pairs: one rep runs every system back to back, the
// order reversed each rep, so a machine whose speed drifts shows in the spread of the pairs).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { beeHarness, bullHarness, fusionHarness, type Harness } from './redis-harness.js';
import { dropRedisPrefix, pct } from './shared.js';

type System = 'fusion' | 'bullmq' | 'bee';
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

const HARNESS = { fusion: fusionHarness, bullmq: bullHarness, bee: beeHarness } as const;
const harness = (s: System, prefix: string) => HARNESS[s](URL_, prefix, QUEUE);

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

// 10,000 adds: 3,000 lasted ~0.3 s on a fast VM, where one hiccup of a run decided its pair.
const enqueueSequential: Measure = (s) => withHarness(s, async (h) => {
  const N = n(10_000);
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
  // Without a pause (bee-queue) the children connect first and start their workers on 'go'.
  const hold = !h.pause;
  await h.pause?.();
  for (let i = 0; i < N; i += 1000) await h.enqueueBulk(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ i: i + k })));
  const children: ChildProcess[] = [];
  await Promise.all(Array.from({ length: procs }, () => new Promise<void>((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), ['--child', s, prefix, String(concurrency), hold ? 'hold' : 'go', '--url', URL_], { stdio: 'inherit' });
    children.push(c);
    c.once('message', () => resolve());
    c.once('error', reject);
  })));
  const t = performance.now();
  if (hold) for (const c of children) c.send('go');
  await h.resume?.();
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

async function child(s: System, prefix: string, concurrency: number, hold: boolean): Promise<void> {
  const h = harness(s, prefix);
  if (hold) {
    // Connected (a completed() call is a round trip), then the worker starts on 'go'.
    await h.completed();
    process.once('message', () => void h.work(concurrency));
  } else await h.work(concurrency);
  process.send!('ready');
  process.once('SIGTERM', () => {
    void h.close().finally(() => process.exit(0));
  });
}

// ---------- main ----------

const PEERS = ['bullmq', 'bee'] as const;

interface Row {
  row: string;
  unit: string;
  /** Median per system. */
  median: Partial<Record<System, number>>;
  /** fusion / peer, of the medians. */
  ratio: Partial<Record<(typeof PEERS)[number], number>>;
  /** fusion / peer in each rep (pair), in rep order. */
  pairs: Partial<Record<(typeof PEERS)[number], number[]>>;
  runs: Partial<Record<System, number[]>>;
}

async function main(): Promise<void> {
  if (args[0] === '--child') return child(args[1] as System, args[2]!, Number(args[3]), args[4] === 'hold');
  const rows: Row[] = [];
  const median = (xs: number[]) => pct(xs, 50);
  const round = (x: number) => (x >= 100 ? Math.round(x) : Math.round(x * 100) / 100);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  const only = opt('only', '');
  const systems = opt('systems', 'fusion,bullmq,bee').split(',') as System[];
  const addRow = (row: string, unit: string, runs: Partial<Record<System, number[]>>) => {
    const out: Row = { row, unit, median: {}, ratio: {}, pairs: {}, runs: {} };
    for (const s of systems) {
      out.median[s] = round(median(runs[s]!));
      out.runs[s] = runs[s]!.map(round);
    }
    const f = runs.fusion;
    for (const p of PEERS) {
      const b = runs[p];
      if (!f || !b) continue;
      out.ratio[p] = r2(median(f) / median(b));
      out.pairs[p] = f.map((x, k) => r2(x / b[k]!));
    }
    rows.push(out);
    console.error(`${row} (${unit}): ${systems.map((s) => `${s} ${out.median[s]}`).join(', ')}; pairs ${JSON.stringify(out.pairs)}`);
  };
  /** Rep r runs the systems in the given order on even reps, reversed on odd ones. */
  const orderOf = (r: number) => (r % 2 === 0 ? systems : [...systems].reverse());
  const throughput: [string, Measure][] = [
    ['enqueue sequential', enqueueSequential],
    ['enqueue 100 in flight', enqueueInFlight],
    ['enqueue bulk (1000 per call)', enqueueBulk],
    ['processed c=1, 1 process', processInProcess(1, 3000)],
    // 100,000 jobs: with 30,000 Fusion's run lasted ~0.4 s on a fast VM, where the worker's start and
    // the 10 ms completion poll weigh a few percent that BullMQ's 1.4 s run does not pay alike.
    ['processed c=50, 1 process', processInProcess(50, 100_000)],
    ['processed c=50 × 4 processes', processMultiProcess(4, 50, 40_000)],
  ];
  // Rows by substrings of their names, '|' between (row names hold commas: 'c=50, 1 process').
  const wanted = (name: string) => !only || only.split('|').some((o) => name.includes(o));
  // Warm every client and the JIT before anything is timed, so the first row does not pay for it:
  // each path a row times, at its size. With 3,000 jobs at c=50 alone, Fusion's process was still
  // compiling its worker's path in the first two reps of the c=1 row (--trace-opt: 170, then 57,
  // 10, 2, 1 functions optimized per rep of 20,000 jobs; 21, 20, 3, 0, 0 deopts) and its client CPU
  // per job fell 66 -> 42 us over them; the first pairs of c=1 and c=50 timed that, not the queues.
  for (const s of systems) {
    await enqueueSequential(s);
    await processInProcess(1, 20_000)(s);
    await processInProcess(50, 30_000)(s);
  }
  for (const [name, m] of throughput) {
    if (!wanted(name)) continue;
    const runs: Partial<Record<System, number[]>> = Object.fromEntries(systems.map((s) => [s, []]));
    // The row once per system, untimed, as the engine bench does: the warm-up above still left
    // Fusion's first c=50 rep the lowest of five (a first pair of 2.69 against BullMQ, later 3.1-3.79).
    for (const s of systems) await m(s);
    for (let r = 0; r < REPS; r++) for (const s of orderOf(r)) runs[s]!.push(await m(s));
    addRow(name, 'jobs/s', runs);
  }
  for (const [name, m] of [['enqueue→start latency, idle', latency], ['delayed job lateness', lateness]] as const) {
    if (!wanted(name)) continue;
    const p50: Partial<Record<System, number[]>> = Object.fromEntries(systems.map((s) => [s, []]));
    const p99: Partial<Record<System, number[]>> = Object.fromEntries(systems.map((s) => [s, []]));
    for (let r = 0; r < REPS; r++) {
      for (const s of orderOf(r)) {
        const [a, b] = await m(s);
        p50[s]!.push(a);
        p99[s]!.push(b);
      }
    }
    addRow(`${name} p50`, 'ms', p50);
    addRow(`${name} p99`, 'ms', p99);
  }
  console.log(JSON.stringify({ url: URL_, scale: SCALE, reps: REPS, at: new Date().toISOString(), rows }, null, 2));
  process.exit(0);
}

await main();
