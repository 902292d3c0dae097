// npm run bench:provider-stats -- [--jobs N] [--rounds R] [--concurrency C]   (SQLite)
// The cost of provider statistics on the send path: SMS jobs through the delivery pipeline's dry-run
// provider (no network, so the pipeline and the engine are all there is to measure) drained by one
// worker, with the statistics on and off, alternating in one run. Off = the store's SharedState
// without `tally` (shadowed on the instance), which is what the recorder checks. Prints jobs/s and
// this process's CPU time per job for both, medians over the rounds, and their ratios.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Fusion } from '../src/fusion.js';
import { readStats, statsRecorder } from '../src/channels/provider-stats.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '50' },
  },
});
const N = Number(values.jobs);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);

const dir = mkdtempSync(join(tmpdir(), 'fusion-bench-pstats-'));
const fusion = await Fusion.open({ store: `sqlite:${join(dir, 'bench.db')}` });
const shared = fusion.store.shared as unknown as Record<string, unknown>;

interface Phase { stats: boolean; jobsPerSec: number; cpuMicrosPerJob: number }

async function phase(round: number, stats: boolean): Promise<Phase> {
  if (stats) delete shared.tally;
  else shared.tally = undefined;
  const queue = `sms-${round}-${stats ? 'on' : 'off'}`;
  for (let i = 0; i < N; i += 1000) {
    await fusion.queue.enqueueMany(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ task: 'sms', queue, payload: { to: '+919876543210', text: `bench ${i + k}` } })));
  }
  let completed = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const off = fusion.store.subscribe((e) => {
    if ((e.type === 'completed' || e.type === 'failed') && e.queue === queue && ++completed === N) resolveDone();
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const w = fusion.worker({ queues: [queue], concurrency: CONCURRENCY });
  await done;
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  off();
  await w.stop(1000);
  // What gathered in the last second goes out before the next phase may switch tally off.
  await statsRecorder(fusion.store).flush();
  return { stats, jobsPerSec: Math.round(N / secs), cpuMicrosPerJob: Math.round((cpu.user + cpu.system) / N) };
}

const phases: Phase[] = [];
for (let r = 0; r < ROUNDS; r++) for (const s of r % 2 === 0 ? [false, true] : [true, false]) phases.push(await phase(r, s));
delete shared.tally;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pick = (on: boolean, k: 'jobsPerSec' | 'cpuMicrosPerJob') => median(phases.filter((p) => p.stats === on).map((p) => p[k]));
const off = { jobsPerSec: pick(false, 'jobsPerSec'), cpuMicrosPerJob: pick(false, 'cpuMicrosPerJob') };
const on = { jobsPerSec: pick(true, 'jobsPerSec'), cpuMicrosPerJob: pick(true, 'cpuMicrosPerJob') };
const [counted] = await readStats(fusion.store, [{ channel: 'sms', name: 'dry-run' }], Date.now());
process.stdout.write(JSON.stringify({
  bench: 'provider-stats', store: 'sqlite', jobs: N, rounds: ROUNDS, concurrency: CONCURRENCY,
  statsOff: off, statsOn: on,
  throughputRatio: Math.round((on.jobsPerSec / off.jobsPerSec) * 1000) / 1000,
  cpuPerJobRatio: Math.round((on.cpuMicrosPerJob / off.cpuMicrosPerJob) * 1000) / 1000,
  countedSends: counted?.lastHour.sent ?? null,
  phases,
}, null, 2) + '\n');
await fusion.close(1000);
rmSync(dir, { recursive: true, force: true });
