// npm run bench:channels -- [--jobs N] [--runs R] [--concurrency C] [--sign] [--sink-latency-ms MS] [--handler-row]
//   [--only bare,pre,live,plain,smtp] [--log info]
// Webhook deliveries per second to a local sink (a node http server on loopback in its own process,
// reached through the outgoing guard's allowlist), beside a bare undici loop sending the same
// requests (same count, same concurrency) to the same sink in the same run. Prints one JSON document:
// each row's median and runs, and Fusion/bare ratios (the target is >= 0.8).
//   fusion_preenqueued: jobs enqueued in bulk first, timed from worker start to the last stored completion.
//   fusion_enqueue_while_running: worker idle first, timed from the first bulk enqueue to the last completion.
// Subjects alternate within each run so machine noise hits both alike. --sink-latency-ms makes the sink
// wait before answering, as a real receiver does; with 0 (the default) the sender's CPU is the limit.
import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { Fusion } from '../src/fusion.js';
import { createLogger } from '../src/logging.js';
import { round } from './measure.js';
import { pct } from './shared.js';
import { smtpRows } from './channels-smtp.js';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '50' },
    sign: { type: 'boolean', default: false },
    'sink-latency-ms': { type: 'string', default: '0' },
    /** Add a row: Fusion running a plain handler that sends the same request through a bare Agent (engine cost without the channel). */
    'handler-row': { type: 'boolean', default: false },
    sink: { type: 'boolean', default: false },
    /** Rows to run, by short name: bare, pre, live, plain (default: all; plain also needs --handler-row or is named here). */
    only: { type: 'string' },
    /** Run Fusion with the real pino logger at this level, writing to /dev/null (default: silent). At info, each webhook attempt writes its two attempt lines. */
    log: { type: 'string' },
  },
});

/** The sink: answers every request 200 with a small body once the request body is read. */
function serveSink(): void {
  const latency = Number(args['sink-latency-ms']);
  const answer = (res: import('node:http').ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => (latency > 0 ? setTimeout(answer, latency, res) : answer(res)));
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as { port: number }).port));
}

function startSink(): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(fileURLToPath(import.meta.url), ['--sink', '--sink-latency-ms', args['sink-latency-ms']!], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (port) => resolve({ child, url: `http://127.0.0.1:${port}/hook` }));
    child.once('exit', (code) => reject(new Error(`sink exited (${code})`)));
  });
}

const body = (i: number) => ({ event: 'order.paid', order: i, amount: 1999, currency: 'INR' });

/** n POSTs of a JSON body, `c` in flight, through a plain keep-alive undici Agent. */
interface Sample {
  rate: number;
  /** CPU time of this process (sender; the sink runs in its own) per delivery, in µs. */
  cpuUs: number;
}

/** Time from `t0`/`c0` to now as a Sample of n deliveries. */
function sample(n: number, t0: number, c0: NodeJS.CpuUsage): Sample {
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  return { rate: n / secs, cpuUs: (cpu.user + cpu.system) / n };
}

async function bare(url: string, n: number, c: number): Promise<Sample> {
  const dispatcher = new Agent();
  let next = 0;
  const loop = async () => {
    while (next < n) {
      const i = next++;
      const res = await request(url, {
        method: 'POST', dispatcher, body: JSON.stringify(body(i)),
        headers: { 'content-type': 'application/json', 'user-agent': 'bench' },
        headersTimeout: 15_000, bodyTimeout: 15_000,
      });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`sink answered ${res.statusCode}`);
    }
  };
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: c }, loop));
  const s = sample(n, t0, c0);
  await dispatcher.close();
  return s;
}

const specs = (url: string, from: number, count: number, task = 'webhook') =>
  Array.from({ length: count }, (_, k) => ({ task, payload: { url, method: 'POST', args: body(from + k), isBody: 1 } }));

/** The handler-row task: the bare loop's request, run by Fusion as a user handler. */
const PLAIN_TASK = 'bench.plain-request';
function plainHandler(): (p: { url: string; args: unknown }) => Promise<{ status: number; body: string }> {
  const dispatcher = new Agent();
  return async (p) => {
    const res = await request(p.url, {
      method: 'POST', dispatcher, body: JSON.stringify(p.args),
      headers: { 'content-type': 'application/json', 'user-agent': 'bench' }, headersTimeout: 15_000, bodyTimeout: 15_000,
    });
    return { status: res.statusCode, body: await res.body.text() };
  };
}

/** A Fusion on a fresh SQLite file, the sink allowlisted. */
async function openFusion(dir: string, run: string) {
  const secret = args.sign ? `whsec_${Buffer.from('bench-secret-bench-secret-32byte').toString('base64')}` : undefined;
  const logger = args.log ? createLogger({ level: args.log, destination: openSync('/dev/null', 'w') }) : undefined;
  const fusion = await Fusion.open({
    store: `sqlite:${join(dir, `${run}.db`)}`,
    logger,
    config: { outgoing: { allow: ['127.0.0.1/32'] }, channels: { webhook: { signingSecret: secret } } },
  });
  let done = 0;
  let failed = 0;
  let waiter: { n: number; resolve(): void } | null = null;
  fusion.store.subscribe((e) => {
    if (e.queue !== 'webhook') return;
    if (e.type === 'completed') done++;
    else if (e.type === 'failed') failed++;
    else return;
    if (waiter && done + failed >= waiter.n) waiter.resolve();
  });
  fusion.task(PLAIN_TASK, plainHandler(), { queue: 'webhook' });
  return {
    fusion,
    completed: (n: number) => new Promise<void>((resolve) => (done + failed >= n ? resolve() : (waiter = { n, resolve }))).then(() => {
      if (failed) throw new Error(`${failed} webhook jobs failed`);
    }),
  };
}

async function fusionPreenqueued(dir: string, url: string, n: number, c: number, run: string, task?: string): Promise<Sample> {
  const { fusion, completed } = await openFusion(dir, run);
  for (let i = 0; i < n; i += 1000) await fusion.queue.enqueueMany(specs(url, i, Math.min(1000, n - i), task));
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  fusion.worker({ queues: ['webhook'], concurrency: c });
  await completed(n);
  const s = sample(n, t0, c0);
  await fusion.close();
  return s;
}

async function fusionWhileRunning(dir: string, url: string, n: number, c: number, run: string): Promise<Sample> {
  const { fusion, completed } = await openFusion(dir, run);
  fusion.worker({ queues: ['webhook'], concurrency: c });
  await new Promise((r) => setTimeout(r, 50)); // let the worker go idle
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i += 500) {
    await fusion.queue.enqueueMany(specs(url, i, Math.min(500, n - i)));
    await new Promise((r) => setImmediate(r)); // a producer that yields between batches, as a server would
  }
  await completed(n);
  const s = sample(n, t0, c0);
  await fusion.close();
  return s;
}

async function main(): Promise<void> {
  const n = Number(args.jobs);
  const runs = Number(args.runs);
  const c = Number(args.concurrency);
  const sink = await startSink();
  const dir = mkdtempSync(join(tmpdir(), 'fusion-bench-channels-'));
  const rows: Record<string, Sample[]> = { bare_undici: [], fusion_preenqueued: [], fusion_enqueue_while_running: [] };
  const only = args.only?.split(',');
  if (args['handler-row'] || only?.includes('plain')) rows.fusion_plain_handler_preenqueued = [];
  if (only && !only.includes('pre')) delete rows.fusion_preenqueued;
  if (only && !only.includes('live')) delete rows.fusion_enqueue_while_running;
  try {
    await bare(sink.url, Math.min(n, 2000), c); // warm the sink and the JIT
    for (let r = 0; r < runs; r++) {
      const order = r % 2 === 0 ? ['bare', 'pre', 'live', 'plain'] : ['plain', 'live', 'pre', 'bare'];
      for (const which of order) {
        if (which === 'bare') rows.bare_undici!.push(await bare(sink.url, n, c));
        if (which === 'pre' && rows.fusion_preenqueued) rows.fusion_preenqueued!.push(await fusionPreenqueued(dir, sink.url, n, c, `pre-${r}`));
        if (which === 'plain' && rows.fusion_plain_handler_preenqueued) {
          rows.fusion_plain_handler_preenqueued.push(await fusionPreenqueued(dir, sink.url, n, c, `plain-${r}`, PLAIN_TASK));
        }
        if (which === 'live' && rows.fusion_enqueue_while_running) rows.fusion_enqueue_while_running!.push(await fusionWhileRunning(dir, sink.url, n, c, `live-${r}`));
      }
    }
  } finally {
    sink.child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs: number[]) => pct(xs, 50);
  const rate = (k: string) => median(rows[k]!.map((x) => x.rate));
  const cpu = (k: string) => median(rows[k]!.map((x) => x.cpuUs));
  // Run r of every row ran back to back with the bare loop's run r: their ratio is a pair's.
  const pairs = (k: string) => {
    const rs = rows[k]!.map((x, i) => x.rate / rows.bare_undici![i]!.rate);
    return { median: round(median(rs), 3), min: round(Math.min(...rs), 3), max: round(Math.max(...rs), 3) };
  };
  const fusionRows = Object.keys(rows).filter((k) => k !== 'bare_undici');
  const out = {
    bench: 'channels',
    unit: 'webhook deliveries/s',
    jobs: n, runs, concurrency: c, signed: args.sign, log: args.log ?? 'silent', sink_latency_ms: Number(args['sink-latency-ms']), store: 'sqlite',
    rows: Object.fromEntries(Object.keys(rows).map((k) => [k, {
      median: round(rate(k)), runs: rows[k]!.map((x) => round(x.rate)), cpu_us_per_delivery: round(cpu(k)),
      cpu_us_runs: rows[k]!.map((x) => round(x.cpuUs, 1)),
    }])),
    /** Ratio of medians, and the median and range of the paired (same-run) ratios. */
    ratio: Object.fromEntries(fusionRows.map((k) => [`${k.replace(/^fusion_/, '')}_vs_bare`, round(rate(k) / rate('bare_undici'), 3)])),
    pair_ratios: Object.fromEntries(fusionRows.map((k) => [`${k.replace(/^fusion_/, '')}_vs_bare`, pairs(k)])),
    target: 0.8,
    // Email: Fusion's pooled SMTP provider beside nodemailer alone, to an in-process SMTP server.
    ...(only && !only.includes('smtp') ? {} : { smtp: await smtpRows() }),
  };
  console.log(JSON.stringify(out, null, 2));
}

if (args.sink) serveSink();
else await main();
