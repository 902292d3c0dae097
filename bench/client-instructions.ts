// The worker process's own work per processed job (c=50, one process, no-op jobs), for callgrind:
// run under valgrind, it adds `--jobs` jobs in bulk to the Redis at --url, then counts from a
// zeroed counter (v8.getHeapStatistics: --zero-before) to a dump (v8.getHeapCodeStatistics:
// --dump-before) while a worker takes every job.
//   valgrind --tool=callgrind --zero-before='node::v8_utils::UpdateHeapStatisticsBuffer*' \
//     --dump-before='node::v8_utils::UpdateHeapCodeStatisticsBuffer*' \
//     node dist/bench/client-instructions.js --url redis://127.0.0.1:6393 --jobs 20000
import { getHeapCodeStatistics, getHeapStatistics } from 'node:v8';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { RedisStore } from '../src/stores/redis/store.js';
import { parseRedisUrl } from '../src/stores/redis/connect.js';
import { Queue } from '../src/core/queue.js';
import { Worker } from '../src/core/worker.js';
import { TaskRegistry } from '../src/core/registry.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const URL_ = opt('url', 'redis://127.0.0.1:6393');
const JOBS = Number(opt('jobs', '20000'));
const CONCURRENCY = Number(opt('concurrency', '50'));
const prefix = opt('prefix', `cli-${process.pid}`);
// --profile <file>: a CPU profile of the worker's run alone (not under valgrind).
const PROFILE = opt('profile', '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const store = new RedisStore(parseRedisUrl(URL_), { prefix });
const queue = new Queue(store);
for (let i = 0; i < JOBS; i += 1000) {
  await queue.enqueueMany(Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => ({ task: 'noop', queue: 'bench', payload: { i: i + k } })));
}
const session = PROFILE ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
}
getHeapStatistics();
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const reg = new TaskRegistry().register('noop', async () => {});
const worker = new Worker(store, reg, { queues: ['bench'], concurrency: CONCURRENCY }).start();
// Held jobs reach 0 only once every outcome is stored; then the count confirms it (one Redis call).
for (;;) {
  await sleep(20);
  if (worker.active === 0 && (await store.countJobs({ queue: 'bench' })).bench!.completed === JOBS) break;
}
getHeapCodeStatistics();
if (session) writeFileSync(PROFILE, JSON.stringify((await session.post('Profiler.stop')).profile));
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({
  jobs: JOBS, ms: Math.round(performance.now() - t0), userUsPerJob: +(cpu.user / JOBS).toFixed(2), systemUsPerJob: +(cpu.system / JOBS).toFixed(2),
}) + '\n');
await worker.stop(1000);
await store.close();
process.exit(0);
