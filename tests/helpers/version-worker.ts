// A worker process on any version of Fusion, for the rolling upgrade test: it imports the library
// module it is given (this build's, or an earlier version's from version-build.ts) and calls only
// what every version has (open, task, worker, startMaintenance, startScheduler, close). Like
// chaos-worker.ts it appends the id of each job it executes to exec-<pid>.log before the handler
// returns, prints READY once its worker runs and RUNNING when its first job starts, and on SIGTERM
// stops gracefully and prints BYE.
//   node version-worker.js '<VersionWorkerOptions as JSON>'
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Fusion as FusionClass } from '../../src/fusion.js';

export interface VersionWorkerOptions {
  /** The path of a build's dist/src/fusion.js. */
  fusionModule: string;
  url: string;
  logDir: string;
  queue: string;
  concurrency: number;
  leaseMs: number;
  /** Handler time, uniform in [min, max] ms. */
  workMs: [number, number];
  /** Fire due schedules in this process too. */
  scheduler: boolean;
}

const o = JSON.parse(process.argv[2]!) as VersionWorkerOptions;
const { Fusion } = (await import(pathToFileURL(o.fusionModule).href)) as { Fusion: typeof FusionClass };
const log = join(o.logDir, `exec-${process.pid}.log`);
const fusion = await Fusion.open({ store: o.url, channels: false });
let running = false;
fusion.task(
  'chaos',
  async (_p: unknown, ctx) => {
    appendFileSync(log, `${ctx.job.id}\n`);
    if (!running) {
      running = true;
      process.stdout.write('RUNNING\n');
    }
    const [lo, hi] = o.workMs;
    await new Promise((r) => setTimeout(r, lo + Math.floor(Math.random() * (hi - lo + 1))));
    return null;
  },
  { queue: o.queue },
);
fusion.worker({ queues: [o.queue], concurrency: o.concurrency, leaseMs: o.leaseMs, pollMs: 25 });
fusion.startMaintenance({ intervalMs: 100 });
if (o.scheduler) fusion.startScheduler();
const keepAlive = setInterval(() => {}, 60_000);
process.on('SIGTERM', () => {
  void fusion.close(5000).then(() => {
    clearInterval(keepAlive);
    process.stdout.write('BYE\n');
    process.exit(0);
  });
});
process.stdout.write('READY\n');
