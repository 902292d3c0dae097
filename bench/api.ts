// HTTP load benchmark: POST /v1/jobs through the full API (auth, validation, the sms payload check, store) on
// each store, beside a bare Fastify route, in the same run, alternating rounds (the order flips every round so
// drift in the machine's speed does not favour one side). Prints JSON.
//   npm run bench:api -- [--stores sqlite,redis] [--duration 10] [--connections 50] [--pipelining 1] [--rounds 3] [--redis redis://127.0.0.1:6379/15]
// Every target gets the same client settings. Besides req/s it reports each server's CPU time per request
// (process.cpuUsage of the server process over the measured window / requests answered): on a shared machine
// req/s swings with the neighbours' load, CPU per request much less. cpuTimesBare is that figure over the bare
// route's of the same round (the target: at most 1.5); medians and ranges over the rounds.
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { BENCH_BODY as BODY, BENCH_KEY } from './api-key.js';

const { values } = parseArgs({
  options: {
    stores: { type: 'string', default: 'sqlite' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    pipelining: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    redis: { type: 'string', default: process.env.FUSION_BENCH_REDIS ?? 'redis://127.0.0.1:6379/15' },
  },
});

const TARGET = join(import.meta.dirname, 'api-target.js');
/** Requests each server answers before its measured window, the same for every target. */
const WARMUP_REQUESTS = 30_000;

interface Target {
  port: number;
  child: ChildProcess;
  /** The server's CPU time (user + system) so far, in µs, as the server itself reads it. */
  cpu(): Promise<number>;
}

async function start(args: string[]): Promise<Target> {
  const child = spawn(process.execPath, [TARGET, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting: ((us: number) => void)[] = [];
  let lines = '';
  child.stdout!.on('data', (d) => {
    lines += d;
    let nl: number;
    while ((nl = lines.indexOf('\n')) >= 0) {
      const m = /^CPU (\d+)/.exec(lines.slice(0, nl));
      lines = lines.slice(nl + 1);
      if (m) waiting.shift()?.(Number(m[1]));
    }
  });
  const cpu = () => new Promise<number>((resolve) => {
    waiting.push(resolve);
    child.stdin!.write('CPU\n');
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (c) => reject(new Error(`target ${args.join(' ')} exited ${c}: ${err.trim()}`)));
  });
  return { port, child, cpu };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

async function load(name: string, args: string[]) {
  const { port, child, cpu } = await start(args);
  try {
    const opts = {
      url: `http://127.0.0.1:${port}/v1/jobs`, method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` },
      body: BODY, connections: Number(values.connections), pipelining: Number(values.pipelining),
    };
    // Warm-up (JIT, SQLite page cache) by count, not by time: 2 s gave the bare route twice the
    // requests Fusion got (it answers twice as fast), so Fusion was measured less warm.
    await autocannon({ ...opts, amount: WARMUP_REQUESTS });
    const cpu0 = await cpu();
    const r = await autocannon({ ...opts, duration: Number(values.duration) });
    const cpu1 = await cpu();
    return {
      target: name,
      reqPerSec: Math.round(r.requests.average),
      latencyMs: { p50: r.latency.p50, p99: r.latency.p99, avg: Math.round(r.latency.average * 100) / 100 },
      requests: r.requests.total,
      serverCpuUsPerReq: r.requests.total === 0 ? null : Math.round(((cpu1 - cpu0) / r.requests.total) * 10) / 10,
      non2xx: r.non2xx,
      errors: r.errors + r.timeouts,
    };
  } finally {
    await stop(child);
  }
}

type Run = Awaited<ReturnType<typeof load>> & { round: number };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const r2 = (x: number) => Math.round(x * 100) / 100;
const stats = (xs: number[]) => (xs.length ? { median: r2(median(xs)), min: r2(Math.min(...xs)), max: r2(Math.max(...xs)) } : null);

async function main(): Promise<void> {
  const stores = values.stores!.split(',').map((s) => s.trim()).filter(Boolean);
  const dir = mkdtempSync(join(tmpdir(), 'fusion-bench-api-'));
  const runs: Run[] = [];
  const skipped: { target: string; reason: string }[] = [];
  const failed = new Set<string>();
  try {
    for (let round = 1; round <= Number(values.rounds); round++) {
      const bare = async () => runs.push({ ...(await load('bare-fastify', ['bare'])), round });
      const fusion = async () => {
        for (const s of stores) {
          if (failed.has(s)) continue;
          const url = s === 'sqlite' ? `sqlite:${join(dir, `bench-${round}.db`)}` : s === 'redis' ? values.redis! : s;
          try {
            runs.push({ ...(await load(`fusion-${s}`, ['fusion', url])), round });
          } catch (e) {
            failed.add(s);
            skipped.push({ target: `fusion-${s}`, reason: (e as Error).message });
          }
        }
      };
      // Odd rounds start with the bare route, even rounds with Fusion.
      if (round % 2 === 1) {
        await bare();
        await fusion();
      } else {
        await fusion();
        await bare();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const by = (t: string) => runs.filter((r) => r.target === t);
  const bareOf = (round: number) => runs.find((r) => r.target === 'bare-fastify' && r.round === round);
  const summary = Object.fromEntries(
    [...new Set(runs.map((r) => r.target))].map((t) => {
      const rs = by(t);
      const pairs = rs.map((r) => ({ r, b: bareOf(r.round) })).filter((p) => p.b !== undefined);
      const cpuPairs = pairs.filter((p) => p.r.serverCpuUsPerReq !== null && p.b!.serverCpuUsPerReq !== null);
      return [t, {
        reqPerSec: stats(rs.map((r) => r.reqPerSec)),
        p50Ms: stats(rs.map((r) => r.latencyMs.p50)),
        p99Ms: stats(rs.map((r) => r.latencyMs.p99)),
        serverCpuUsPerReq: stats(rs.map((r) => r.serverCpuUsPerReq).filter((x): x is number => x !== null)),
        // Per round: this target's req/s over the bare route's, and its CPU per request over the bare route's.
        ratioToBare: t === 'bare-fastify' ? null : stats(pairs.map((p) => p.r.reqPerSec / p.b!.reqPerSec)),
        cpuTimesBare: t === 'bare-fastify' ? null : stats(cpuPairs.map((p) => p.r.serverCpuUsPerReq! / p.b!.serverCpuUsPerReq!)),
        non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
        errors: rs.reduce((a, r) => a + r.errors, 0),
      }];
    }),
  );
  process.stdout.write(`${JSON.stringify({
    benchmark: 'POST /v1/jobs (auth + validation + sms payload check + store) vs a bare Fastify JSON route',
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavg: loadavg().map(r2) },
    settings: { durationSec: Number(values.duration), connections: Number(values.connections), pipelining: Number(values.pipelining), rounds: Number(values.rounds) },
    target: 'cpuTimesBare at most 1.5 in every round',
    summary, runs, skipped,
  }, null, 2)}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench:api: ${(e as Error).stack}\n`);
  process.exit(1);
});
