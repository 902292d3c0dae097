// Recovery sweeps: leases that ran out (stall recovery, one sweep at a time across processes under
// the sweep lock), outbox entries a dead process left, and scheduled jobs come due.
import { randomBytes } from 'node:crypto';
import type { PromoteDueJobs, RecoverExpiredJobs, RecoverResult } from '../../core/store.js';
import { promoteDueScript, recoverScript, sweepLockScript, sweepUnlockScript } from './script-calls.js';
import type { RedisContext } from './context.js';
import type { Outbox } from './outbox.js';

/** Expired leases one recovery script takes: a sweep renews its lock between such batches. */
const RECOVER_BATCH = 500;

export class Recovery {
  /** sweepLockMs: how long the sweep lock lasts without renewal (RedisStoreOptions.sweepLockMs). */
  constructor(private readonly ctx: RedisContext, private readonly outbox: Outbox, readonly sweepLockMs: number) {}

  /**
   * One sweep at a time across every process: a second sweeper would only race the first. The lock
   * holds this sweep's token for sweepLockMs and is renewed between batches once a third of that
   * has passed, so a sweeper that dies, or whose connection drops, holds recovery up for at most
   * sweepLockMs. Taking and renewing are one script that answers 1 when the token holds the lock,
   * so a take whose answer was lost and that ioredis sent again still reports it taken.
   */
  async recoverExpiredJobs({ now, limit = 1000 }: RecoverExpiredJobs): Promise<RecoverResult> {
    const { ctx } = this;
    const { keys } = ctx;
    const recovered: RecoverResult = { requeued: [], failed: [], cancelled: [] };
    const lock = { globalKeyBase: keys.globalKeyBase, token: randomBytes(8).toString('hex'), ttlMs: this.sweepLockMs };
    let lockedAt = performance.now();
    if ((await ctx.run(sweepLockScript(lock))) !== 1) return recovered;
    const stillHeld = async (): Promise<boolean> => {
      if (performance.now() - lockedAt < this.sweepLockMs / 3) return true;
      const sent = performance.now();
      if ((await ctx.run(sweepLockScript(lock))) !== 1) return false;
      lockedAt = sent;
      ctx.stats.sweepRenewals++;
      return true;
    };
    try {
      sweep: for (const queue of await ctx.allQueues()) {
        for (;;) {
          const batch = Math.min(RECOVER_BATCH, limit - recovered.requeued.length - recovered.failed.length - recovered.cancelled.length);
          // Lost: the lock lapsed (this sweep stalled past it) and another sweeper carries on.
          if (batch <= 0 || !(await stillHeld())) break sweep;
          const [requeued, failed, cancelled] = await ctx.run(recoverScript({
            queueKeyBase: keys.queueKeyBase(queue), channel: keys.scriptChannel, queue, now, limit: batch,
          }));
          recovered.requeued.push(...requeued);
          recovered.failed.push(...failed);
          recovered.cancelled.push(...cancelled);
          if (requeued.length + failed.length + cancelled.length < batch) break;
        }
        if (!(await stillHeld())) break;
        await this.outbox.drain(keys.queueOutbox(queue));
      }
      if (await stillHeld()) await this.outbox.drain(keys.scheduleOutbox);
    } finally {
      await ctx.run(sweepUnlockScript({ globalKeyBase: keys.globalKeyBase, token: lock.token })).catch(() => {});
    }
    return recovered;
  }

  async promoteDueJobs({ now, limit = 10_000 }: PromoteDueJobs): Promise<number> {
    const { ctx } = this;
    let moved = 0;
    for (const queue of await ctx.allQueues()) {
      if (moved >= limit) break;
      moved += await ctx.run(promoteDueScript({
        queueKeyBase: ctx.keys.queueKeyBase(queue), channel: ctx.keys.scriptChannel, queue, now, limit: limit - moved,
      }));
    }
    return moved;
  }
}
