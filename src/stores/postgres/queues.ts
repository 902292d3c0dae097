// Queue administration: pause, resume, options (rate limit, concurrency), and the queue list.
import { emptyCounts, type QueueInfo, type QueueOptions, type StoreEvent } from '../../core/store.js';
import type { PostgresContext } from './context.js';
import { countJobs } from './lists.js';
import { num } from './rows.js';

type QueueRow = { name: string; paused: boolean; rate_max: number | null; rate_window_ms: number | null; concurrency: number | null };

export async function pauseQueue(ctx: PostgresContext, queue: string, now: number): Promise<void> {
  // Shared too: workers in other processes give back the jobs of this queue they claimed ahead.
  const e: StoreEvent = { type: 'paused', queue, at: now };
  await ctx.tx(async (c) => {
    await c.query(ctx.statements.setPaused, [queue, true]);
    await ctx.share(c, e);
  });
  ctx.emit([e]);
}

export async function resumeQueue(ctx: PostgresContext, queue: string, now: number): Promise<void> {
  const e: StoreEvent = { type: 'resumed', queue, at: now };
  await ctx.tx(async (c) => {
    await c.query(ctx.statements.setPaused, [queue, false]);
    await ctx.share(c, e);
  });
  ctx.emit([e]);
}

export async function setQueueOptions(ctx: PostgresContext, queue: string, opts: QueueOptions, now: number): Promise<void> {
  // Options can open room (higher limits): let idle workers, here and in other processes, look again.
  const e: StoreEvent = { type: 'limits-changed', queue, at: now };
  await ctx.tx(async (c) => {
    await c.query(ctx.statements.ensureQueue, [queue]);
    if (opts.rateLimit !== undefined) {
      await c.query(ctx.statements.setRateLimit, [queue, opts.rateLimit?.max ?? null, opts.rateLimit?.windowMs ?? null]);
    }
    if (opts.concurrency !== undefined) await c.query(ctx.statements.setConcurrency, [queue, opts.concurrency]);
    await ctx.share(c, e);
  });
  ctx.emit([e]);
}

export async function listQueues(ctx: PostgresContext): Promise<QueueInfo[]> {
  const [counts, oldest, all] = await Promise.all([
    countJobs(ctx),
    ctx.pool.query<{ queue: string; t: number }>(ctx.statements.oldestQueued),
    ctx.pool.query<QueueRow>(ctx.statements.allQueues),
  ]);
  const first = new Map(oldest.rows.map((r) => [r.queue, num(r.t)]));
  return all.rows.map((q) => ({
    name: q.name,
    paused: q.paused,
    rateLimit: q.rate_max != null ? { max: q.rate_max, windowMs: num(q.rate_window_ms!) } : null,
    concurrency: q.concurrency ?? null,
    counts: counts[q.name] ?? emptyCounts(),
    oldestQueuedAt: first.get(q.name) ?? null,
  }));
}
