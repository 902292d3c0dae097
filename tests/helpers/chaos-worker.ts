// A worker process for the chaos suite, on any store URL: runs the `chaos` task (records each
// execution by appending the job id to exec-<pid>.log before it returns, so a kill -9 between the
// run and the store's completion shows as a second execution), optionally the webhook channel, and
// lease recovery. Prints READY once its worker runs and RUNNING when its first job starts: the
// parent kills only processes that are running jobs, however slow the machine is to start them.
//   node chaos-worker.js '<ChaosWorkerOptions as JSON>'
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import type { ChaosWorkerOptions } from './chaos.js';

const o = JSON.parse(process.argv[2]!) as ChaosWorkerOptions;
const queue = o.queue ?? 'chaos';
const log = join(o.logDir, `exec-${process.pid}.log`);
const [lo, hi] = o.workMs ?? [0, 0];
const fusion = await Fusion.open({
  store: o.url,
  channels: o.webhook ?? false,
  config: { outgoing: { allow: ['127.0.0.1/32'] } },
});
let running = false;
fusion.task(
  'chaos',
  async (_p: unknown, ctx) => {
    if (o.record !== false) appendFileSync(log, `${ctx.job.id}\n`);
    if (!running) {
      running = true;
      process.stdout.write('RUNNING\n');
    }
    if (hi > 0) await new Promise((r) => setTimeout(r, lo + Math.floor(Math.random() * (hi - lo + 1))));
    return null;
  },
  { queue },
);
const queues = o.webhook ? [queue, 'webhook'] : [queue];
fusion.worker({ queues, concurrency: o.concurrency ?? 8, leaseMs: o.leaseMs ?? 1000, pollMs: 25 });
if (o.maintenanceMs !== 0) {
  fusion.startMaintenance({
    intervalMs: o.maintenanceMs ?? 100,
    ...(o.retentionMs !== undefined ? { retention: { completedMs: o.retentionMs, failedMs: o.retentionMs, cancelledMs: o.retentionMs } } : {}),
  });
}
const keepAlive = setInterval(() => {}, 60_000);
process.on('SIGTERM', () => {
  void fusion.close(o.graceMs ?? 5000).then(() => {
    clearInterval(keepAlive);
    process.stdout.write('BYE\n');
    process.exit(0);
  });
});
process.stdout.write('READY\n');
