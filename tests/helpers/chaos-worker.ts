// A worker process for the chaos suite, on any store URL: runs the `chaos` task (records each
// execution by appending the job id to exec-<pid>.log before it returns, so a kill -9 between the
// run and the store's completion shows as a second execution; a payload of {fail: true} fails the
// job for good, one of {snooze: n} snoozes it for 20-50 ms until its history holds n snoozes, and
// only the run that goes on is recorded; one of {flaky: n} fails its first n attempts retryably,
// each after its work time, each recorded), optionally the webhook channel and the job callbacks' queue, and lease recovery. Prints READY once its worker runs and RUNNING when its first job starts: the
// parent kills only processes that are running jobs, however slow the machine is to start them.
// Each execution's line also carries the machine's monotonic time (ms), which every process on the
// machine shares whatever its wall clock says (the clock skew test runs processes whose wall clocks
// are set apart). READY says the offset of the clock it goes by. With `delayed`, it adds that many jobs due delayMs later once READY, printing
// ADDING <monotonic ms> before and ADDED after. With `scheduler`, it fires due schedules too.
//   node chaos-worker.js '<ChaosWorkerOptions as JSON>'
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { NonRetryableError, RetryableError, SnoozeError } from '../../src/core/errors.js';
import { snoozesOf } from './chaos.js';
import { systemClock } from '../../src/core/clock.js';
import { SharedClock } from '../../src/core/shared-clock.js';
import { monotonicMs } from './faketime.js';
import type { ChaosWorkerOptions } from './chaos.js';

const o = JSON.parse(process.argv[2]!) as ChaosWorkerOptions;
const queue = o.queue ?? 'chaos';
const log = join(o.logDir, `exec-${process.pid}.log`);
const [lo, hi] = o.workMs ?? [0, 0];
const fusion = await Fusion.open({
  store: o.url,
  channels: o.webhook ?? false,
  config: { outgoing: { allow: ['127.0.0.1/32'] }, ...o.config },
  ...(o.machineClock ? { clock: systemClock } : {}),
});
let running = false;
fusion.task(
  'chaos',
  async (p: { fail?: boolean; snooze?: number; flaky?: number } | null, ctx) => {
    if (p?.snooze && snoozesOf(ctx.job.history) < p.snooze) throw new SnoozeError(20 + Math.floor(Math.random() * 31), 'chaos snooze');
    if (o.record !== false) appendFileSync(log, `${ctx.job.id} ${Math.round(monotonicMs())}\n`);
    if (!running) {
      running = true;
      process.stdout.write('RUNNING\n');
    }
    if (hi > 0) await new Promise((r) => setTimeout(r, lo + Math.floor(Math.random() * (hi - lo + 1))));
    if (o.progress) {
      await ctx.progress({ done: true });
      await ctx.log('done');
    }
    if (p?.fail) throw new NonRetryableError('told to fail');
    if (p?.flaky && ctx.job.attempts <= p.flaky) throw new RetryableError(`chaos failure ${ctx.job.attempts} of ${p.flaky}`);
    return null;
  },
  { queue },
);
const queues = [queue, ...(o.webhook ? ['webhook'] : []), ...(o.callbacks ? ['callbacks'] : [])];
fusion.worker({ queues, concurrency: o.concurrency ?? 8, leaseMs: o.leaseMs ?? 1000, pollMs: 25 });
if (o.maintenanceMs !== 0) {
  fusion.startMaintenance({
    intervalMs: o.maintenanceMs ?? 100,
    ...(o.retentionMs !== undefined ? { retention: { completedMs: o.retentionMs, failedMs: o.retentionMs, cancelledMs: o.retentionMs } } : {}),
  });
}
if (o.scheduler) fusion.startScheduler();
const keepAlive = setInterval(() => {}, 60_000);
process.on('SIGTERM', () => {
  void fusion.close(o.graceMs ?? 5000).then(() => {
    clearInterval(keepAlive);
    process.stdout.write('BYE\n');
    process.exit(0);
  });
});
// READY, with the store clock's offset from this machine's (0 on the machine's clock), once it is known.
if (fusion.clock instanceof SharedClock) await fusion.clock.ready();
process.stdout.write(`READY offset ${fusion.clock instanceof SharedClock ? fusion.clock.offsetMs : 0}\n`);
if (o.delayed) {
  const { count, delayMs, tag } = o.delayed;
  process.stdout.write(`ADDING ${Math.round(monotonicMs())}\n`);
  await fusion.queue.enqueueMany(Array.from({ length: count }, (_, i) => ({ id: `${tag}-${i}`, task: 'chaos', queue, payload: {}, delay: delayMs, maxStalls: 100 })));
  process.stdout.write(`ADDED ${Math.round(monotonicMs())}\n`);
}
