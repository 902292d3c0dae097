// Redis's own work per job, Fusion vs BullMQ and bee-queue, counted in instructions: a redis-server of this
// machine runs under valgrind's callgrind, and each workload is counted from a zeroed counter to a
// dump. Instruction counts repeat to within a fraction of a percent where timings on a shared VM
// swing by a third, so a change to a Lua script can be judged in one run. Prints JSON.
//   npm run bench:redis-instructions -- [--jobs 4000] [--only 'row|row'] [--systems fusion,bullmq,bee]
// Needs valgrind and redis-server on PATH. Redis runs ~50 times slower under callgrind: keep --jobs modest.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { beeHarness, bullHarness, fusionHarness, type Harness } from './redis-harness.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const JOBS = Number(opt('jobs', '4000'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server under callgrind, and the instructions it ran between zero() and count(). */
class CountedRedis {
  private constructor(readonly port: number, private proc: ChildProcess, private dir: string) {}

  static async start(): Promise<CountedRedis> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'fusion-cg-'));
    const proc = spawn('valgrind', [
      '--tool=callgrind', `--callgrind-out-file=${join(dir, 'cg.out')}`,
      'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    ], { stdio: 'ignore' });
    // A new client per try: an ioredis client whose first connect failed is left reconnecting and
    // refuses connect() (valgrind can take many seconds to start Redis on a loaded machine).
    for (let i = 0; ; i++) {
      const r = new Redis(port, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      r.on('error', () => {});
      try {
        await r.connect();
        await r.ping();
        r.disconnect();
        break;
      } catch {
        r.disconnect();
        if (i > 600) {
          proc.kill('SIGKILL');
          throw new Error('redis-server under valgrind did not start (are valgrind and redis-server installed?)');
        }
        await sleep(200);
      }
    }
    return new CountedRedis(port, proc, dir);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  zero(): void {
    execFileSync('callgrind_control', ['-z', String(this.proc.pid)], { stdio: 'ignore' });
  }

  /** Instructions since the last zero() or count(): callgrind starts each dump from zero. */
  count(): number {
    execFileSync('callgrind_control', ['-d', String(this.proc.pid)], { stdio: 'ignore' });
    const dumps = readdirSync(this.dir).filter((f) => f.startsWith('cg.out.')).map((f) => join(this.dir, f));
    const last = dumps.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]!;
    const m = /^(?:summary|totals): (\d+)/m.exec(readFileSync(last, 'utf8'));
    if (!m) throw new Error(`no totals in ${last}`);
    return Number(m[1]);
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

type Make = (url: string, prefix: string, queue: string) => Harness;

/** Instructions per unit of one workload on a fresh prefix. */
type Workload = (redis: CountedRedis, make: Make, prefix: string) => Promise<number>;

const payloads = (n: number) => Array.from({ length: n }, (_, i) => ({ i }));

// Indexes start small (listpack) and grow (hashtable, skiplist): warm each past that first.
const loneAdds: Workload = async (redis, make, prefix) => {
  const s = make(redis.url, prefix, 'b');
  for (let i = 0; i < 1000; i++) await s.enqueue({ i });
  const n = Math.max(100, Math.round(JOBS / 4));
  redis.zero();
  for (let i = 0; i < n; i++) await s.enqueue({ i });
  const ir = redis.count() / n;
  await s.close();
  return ir;
};

const bulkAdds: Workload = async (redis, make, prefix) => {
  const s = make(redis.url, prefix, 'b');
  await s.enqueueBulk(payloads(1000));
  redis.zero();
  for (let i = 0; i < JOBS; i += 1000) await s.enqueueBulk(payloads(Math.min(1000, JOBS - i)));
  const ir = redis.count() / JOBS;
  await s.close();
  return ir;
};

const processed = (concurrency: number): Workload => async (redis, make, prefix) => {
  const s = make(redis.url, prefix, 'b');
  for (let i = 0; i < JOBS; i += 1000) await s.enqueueBulk(payloads(Math.min(1000, JOBS - i)));
  redis.zero();
  await s.work(concurrency);
  // A slow poll: its own cost stays well under 1% of the count.
  while ((await s.completed()) < JOBS) await sleep(250);
  const ir = redis.count() / JOBS;
  await s.close();
  return ir;
};

/** One job at a time on an idle worker: enqueue, start, finish, wait idle. */
const idleCycles: Workload = async (redis, make, prefix) => {
  const s = make(redis.url, prefix, 'b');
  let started: (() => void) | null = null;
  await s.work(1, () => started?.());
  const cycle = async (i: number) => {
    const go = new Promise<void>((r) => (started = r));
    await s.enqueue({ i });
    await go;
    await sleep(20);
  };
  for (let i = 0; i < 20; i++) await cycle(i);
  const n = 200;
  redis.zero();
  for (let i = 0; i < n; i++) await cycle(i);
  const ir = redis.count() / n;
  await s.close();
  return ir;
};

async function main(): Promise<void> {
  const redis = await CountedRedis.start();
  const makers = { fusion: fusionHarness, bullmq: bullHarness, bee: beeHarness } as const;
  const systems = opt('systems', 'fusion,bullmq,bee').split(',') as (keyof typeof makers)[];
  const only = opt('only', '');
  const rows: { row: string; unit: string; count: Partial<Record<keyof typeof makers, number>>; ratio: Record<string, number> }[] = [];
  try {
    const workloads: [string, string, Workload][] = [
      ['enqueue one at a time', 'instructions/job', loneAdds],
      ['enqueue bulk (1000 per call)', 'instructions/job', bulkAdds],
      ['processed c=1', 'instructions/job', processed(1)],
      ['processed c=50', 'instructions/job', processed(50)],
      ['idle enqueue→start→finish', 'instructions/cycle', idleCycles],
    ];
    let k = 0;
    for (const [row, unit, w] of workloads) {
      if (only && !only.split('|').some((o) => row.includes(o))) continue;
      const count: Partial<Record<keyof typeof makers, number>> = {};
      for (const s of systems) count[s] = Math.round(await w(redis, makers[s], `cg${s}${k}`));
      k++;
      // fusion / peer: below 1, Redis does less work for Fusion's job.
      const ratio: Record<string, number> = {};
      for (const s of systems) if (s !== 'fusion' && count.fusion) ratio[s] = Math.round((count.fusion / count[s]!) * 100) / 100;
      rows.push({ row, unit, count, ratio });
      console.error(`${row} (${unit}): ${systems.map((s) => `${s} ${count[s]}`).join(', ')}`);
    }
  } finally {
    await redis.stop();
  }
  console.log(JSON.stringify({ jobs: JOBS, at: new Date().toISOString(), note: 'Redis instructions (callgrind); lower is better', rows }, null, 2));
  process.exit(0);
}

await main();
