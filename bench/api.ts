// HTTP load benchmark: POST /v1/jobs through the full API (auth, validation, store) on each store,
// beside a bare Fastify route, in the same run, alternating rounds. Prints JSON.
//   npm run bench:api -- [--stores sqlite,redis] [--duration 10] [--connections 50] [--pipelining 1] [--rounds 2] [--redis redis://127.0.0.1:6379/15]
// Every target gets the same client settings. Besides req/s it reports the server's CPU time per request
// (Linux, from /proc): on a shared machine req/s swings with the neighbours' load, CPU per request much less.
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { BENCH_KEY } from './api-key.js';

const { values } = parseArgs({
  options: {
    stores: { type: 'string', default: 'sqlite' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    pipelining: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '2' },
    redis: { type: 'string', default: process.env.FUSION_BENCH_REDIS ?? 'redis://127.0.0.1:6379/15' },
  },
});

const TARGET = join(import.meta.dirname, 'api-target.js');
const BODY = JSON.stringify({ task: 'sms', payload: { contact: '9876543210', countryCode: 91, message: 'Your OTP is 4711' }, priority: 'high' });

async function start(args: string[]): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [TARGET, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  return { port, child };
}

/** CPU time (user + system) a process has used, in µs; null where /proc is not there. */
function cpuMicros(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000; // clock ticks of 10 ms (USER_HZ = 100)
  } catch {
    return null;
  }
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

async function load(name: string, args: string[]) {
  const { port, child } = await start(args);
  try {
    const opts = {
      url: `http://127.0.0.1:${port}/v1/jobs`, method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` },
      body: BODY, connections: Number(values.connections), pipelining: Number(values.pipelining),
    };
    await autocannon({ ...opts, duration: 2 }); // warm-up: JIT, SQLite page cache
    const cpu0 = cpuMicros(child.pid);
    const r = await autocannon({ ...opts, duration: Number(values.duration) });
    const cpu1 = cpuMicros(child.pid);
    return {
      target: name,
      reqPerSec: Math.round(r.requests.average),
      latencyMs: { p50: r.latency.p50, p99: r.latency.p99, avg: Math.round(r.latency.average * 100) / 100 },
      requests: r.requests.total,
      serverCpuUsPerReq: cpu0 === null || cpu1 === null || r.requests.total === 0 ? null : Math.round(((cpu1 - cpu0) / r.requests.total) * 10) / 10,
      non2xx: r.non2xx,
      errors: r.errors + r.timeouts,
    };
  } finally {
    await stop(child);
  }
}

async function main(): Promise<void> {
  const stores = values.stores!.split(',').map((s) => s.trim()).filter(Boolean);
  const dir = mkdtempSync(join(tmpdir(), 'fusion-bench-api-'));
  const runs: Awaited<ReturnType<typeof load>>[] = [];
  const skipped: { target: string; reason: string }[] = [];
  try {
    for (let round = 1; round <= Number(values.rounds); round++) {
      runs.push({ ...(await load('bare-fastify', ['bare'])), round } as never);
      for (const s of stores) {
        const url = s === 'sqlite' ? `sqlite:${join(dir, `bench-${round}.db`)}` : s === 'redis' ? values.redis! : s;
        try {
          runs.push({ ...(await load(`fusion-${s}`, ['fusion', url])), round } as never);
        } catch (e) {
          if (round === 1) skipped.push({ target: `fusion-${s}`, reason: (e as Error).message });
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const by = (t: string) => runs.filter((r) => r.target === t);
  const range = (xs: number[]) => ({ min: Math.min(...xs), max: Math.max(...xs) });
  const bare = by('bare-fastify').map((r) => r.reqPerSec);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const cpuOf = (t: string) => by(t).map((r) => r.serverCpuUsPerReq).filter((x): x is number => x !== null);
  const summary = Object.fromEntries(
    [...new Set(runs.map((r) => r.target))].map((t) => {
      const rs = by(t);
      return [t, {
        reqPerSec: range(rs.map((r) => r.reqPerSec)),
        p50Ms: range(rs.map((r) => r.latencyMs.p50)),
        p99Ms: range(rs.map((r) => r.latencyMs.p99)),
        ratioToBare: t === 'bare-fastify' ? 1 : Math.round((rs.reduce((a, r) => a + r.reqPerSec, 0) / rs.length / (bare.reduce((a, b) => a + b, 0) / bare.length)) * 100) / 100,
        serverCpuUsPerReq: cpuOf(t).length ? range(cpuOf(t)) : null,
        // What the ratio would be with the server the only bottleneck: bare CPU per request / this one's.
        cpuRatioToBare: cpuOf(t).length && cpuOf('bare-fastify').length ? Math.round((mean(cpuOf('bare-fastify')) / mean(cpuOf(t))) * 100) / 100 : null,
        non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
      }];
    }),
  );
  process.stdout.write(`${JSON.stringify({
    benchmark: 'POST /v1/jobs (auth + validation + store) vs a bare Fastify JSON route',
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    settings: { durationSec: Number(values.duration), connections: Number(values.connections), pipelining: Number(values.pipelining), rounds: Number(values.rounds) },
    summary, runs, skipped,
  }, null, 2)}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench:api: ${(e as Error).stack}\n`);
  process.exit(1);
});
