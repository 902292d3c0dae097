// What live viewers cost the workers: a worker drains N no-op jobs with 0 and with V connected
// /v1/events viewers (unfiltered, so every event is sent to each), alternating within one run.
// Prints JSON: jobs/s and server CPU µs per job for each, and the ratios (with / without).
//   npm run bench:events -- [--jobs 20000] [--rounds 2] [--viewers 5] [--concurrency 50]
// The viewers run in a child process; the server, the hub and the worker share this one, as in `fusion start`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Fusion } from '../src/fusion.js';
import { buildServer } from '../src/api/server.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '2' },
    viewers: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '50' },
  },
});
const N = Number(values.jobs);
const ROUNDS = Number(values.rounds);
const VIEWERS = Number(values.viewers);
const CONCURRENCY = Number(values.concurrency);

const dir = mkdtempSync(join(tmpdir(), 'fusion-bench-events-'));
// A short linger, so a "0 viewers" phase after a "5 viewers" one really has nobody subscribed.
const fusion = await Fusion.open({ store: `sqlite:${join(dir, 'bench.db')}`, events: { lingerMs: 50 } });
fusion.task('noop', async () => null);
const app = await buildServer({ fusion, processMetrics: false });
await app.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/events`;
const VIEWER = join(import.meta.dirname, 'events-viewer.js');

interface Phase { viewers: number; jobsPerSec: number; cpuMicrosPerJob: number; received?: unknown }

async function phase(round: number, viewers: number): Promise<Phase> {
  const queue = `bench-${round}-${viewers}`;
  for (let i = 0; i < N; i += 1000) {
    await fusion.queue.enqueueMany(Array.from({ length: Math.min(1000, N - i) }, () => ({ task: 'noop', queue })));
  }
  let child: ReturnType<typeof spawn> | null = null;
  let stats: Promise<unknown> = Promise.resolve(undefined);
  if (viewers > 0) {
    child = spawn(process.execPath, [VIEWER, url, String(viewers), String(N), queue], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const ready = new Promise<void>((resolve, reject) => {
      child!.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('READY')) resolve();
      });
      child!.on('exit', () => reject(new Error('viewer process exited early')));
    });
    stats = new Promise((resolve) => child!.on('exit', () => resolve(JSON.parse(/STATS (.*)/.exec(out)?.[1] ?? 'null'))));
    await ready;
  }
  let completed = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const off = fusion.store.subscribe((e) => {
    if (e.type === 'completed' && e.queue === queue && ++completed === N) resolveDone();
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const w = fusion.worker({ queues: [queue], concurrency: CONCURRENCY });
  await done;
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  off();
  await w.stop(1000);
  const received = await stats;
  // Let the hub let go (linger) before a phase without viewers.
  while (fusion.eventHub.viewers > 0) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  return { viewers, jobsPerSec: Math.round(N / secs), cpuMicrosPerJob: Math.round((cpu.user + cpu.system) / N), ...(received ? { received } : {}) };
}

const phases: Phase[] = [];
for (let r = 0; r < ROUNDS; r++) {
  // Alternate which goes first, so warm-up and neighbours' load fall on both.
  const order = r % 2 === 0 ? [0, VIEWERS] : [VIEWERS, 0];
  for (const v of order) phases.push(await phase(r, v));
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pick = (v: number, k: 'jobsPerSec' | 'cpuMicrosPerJob') => median(phases.filter((p) => p.viewers === v).map((p) => p[k]));
const without = { jobsPerSec: pick(0, 'jobsPerSec'), cpuMicrosPerJob: pick(0, 'cpuMicrosPerJob') };
const withViewers = { jobsPerSec: pick(VIEWERS, 'jobsPerSec'), cpuMicrosPerJob: pick(VIEWERS, 'cpuMicrosPerJob') };
process.stdout.write(JSON.stringify({
  bench: 'events', store: 'sqlite', jobs: N, rounds: ROUNDS, concurrency: CONCURRENCY, viewers: VIEWERS,
  without, with: withViewers,
  throughputRatio: Math.round((withViewers.jobsPerSec / without.jobsPerSec) * 1000) / 1000,
  cpuPerJobRatio: Math.round((withViewers.cpuMicrosPerJob / without.cpuMicrosPerJob) * 1000) / 1000,
  phases,
}, null, 2) + '\n');
await app.close();
await fusion.close(1000);
rmSync(dir, { recursive: true, force: true });
