// What `?waitReplicas=1` costs an add: Fusion with and without it, and BullMQ (which has no such
// wait) for reference, on a master with one replica of this bench's own (redis-server on spare
// loopback ports, no persistence), alternating, five rounds by default. Prints one JSON document.
//   node dist/bench/replica-wait.js [--reps 5] [--sequential 2000] [--in-flight 10000]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { bullHarness, fusionHarness, type Harness } from './redis-harness.js';
import { round } from './measure.js';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '5' }, sequential: { type: 'string', default: '2000' }, 'in-flight': { type: 'string', default: '10000' } } });
const REPS = Number(values.reps);
const SEQUENTIAL = Number(values.sequential);
const IN_FLIGHT = Number(values['in-flight']);

const freePort = () => new Promise<number>((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    server.close(() => resolve(port));
  });
});

async function redisServer(): Promise<{ port: number; proc: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'fusion-bench-redis-'));
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      return { port, proc, dir };
    } catch {
      if (i > 200) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      probe.disconnect();
    }
  }
}

const SYSTEMS = ['fusion', 'fusion waitReplicas=1', 'bullmq'] as const;
type System = (typeof SYSTEMS)[number];

function harness(system: System, url: string, round: number): Harness {
  const prefix = `rw${round}${system.replace(/\W/g, '')}`;
  if (system === 'bullmq') return bullHarness(url, prefix, 'q');
  return fusionHarness(system === 'fusion' ? url : `${url}?waitReplicas=1`, prefix, 'q');
}

async function rate(h: Harness, n: number, inFlight: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next++ < n) await h.enqueue({ i: next });
  }));
  return n / ((performance.now() - t0) / 1000);
}

const master = await redisServer();
const replica = await redisServer();
try {
  const onReplica = new Redis({ port: replica.port });
  await onReplica.call('REPLICAOF', '127.0.0.1', String(master.port));
  while (!/^master_link_status:up\r?$/m.test(await onReplica.info('replication'))) await new Promise((r) => setTimeout(r, 50));
  onReplica.disconnect();
  const url = `redis://127.0.0.1:${master.port}`;
  const rows: Record<string, Record<System, number[]>> = {
    'enqueue sequential': { fusion: [], 'fusion waitReplicas=1': [], bullmq: [] },
    'enqueue 100 in flight': { fusion: [], 'fusion waitReplicas=1': [], bullmq: [] },
  };
  for (let r = 0; r < REPS; r++) {
    // A different order each round, so no system always runs first on a warming box.
    const order = SYSTEMS.map((_, k) => SYSTEMS[(k + r) % SYSTEMS.length]!);
    for (const system of order) {
      const h = harness(system, url, r);
      await h.enqueue({ warm: true });
      rows['enqueue sequential']![system].push(await rate(h, SEQUENTIAL, 1));
      rows['enqueue 100 in flight']![system].push(await rate(h, IN_FLIGHT, 100));
      await h.close();
    }
    const flush = new Redis({ port: master.port });
    await flush.flushall();
    flush.disconnect();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const out = Object.fromEntries(Object.entries(rows).map(([row, bySystem]) => {
    const waited = bySystem['fusion waitReplicas=1'];
    const ratios = waited.map((x, k) => x / bySystem.fusion[k]!);
    return [row, {
      perSecond: Object.fromEntries(SYSTEMS.map((s) => [s, { median: round(median(bySystem[s])), runs: bySystem[s].map((x) => round(x)) }])),
      waitedOverPlain: { median: round(median(ratios), 2), range: [round(Math.min(...ratios), 2), round(Math.max(...ratios), 2)] },
      waitedOverBullmq: round(median(waited) / median(bySystem.bullmq), 2),
    }];
  }));
  console.log(JSON.stringify({ bench: 'replica-wait', reps: REPS, sequential: SEQUENTIAL, inFlight: IN_FLIGHT, node: process.version, rows: out }, null, 2));
} finally {
  for (const server of [replica, master]) {
    server.proc.kill('SIGKILL');
    rmSync(server.dir, { recursive: true, force: true });
  }
}
