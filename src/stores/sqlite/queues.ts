// Queue administration: pause, resume, options (rate limit, concurrency), and the queue list.
import { emptyCounts, type QueueInfo, type QueueOptions, type StoreEvent } from '../../core/store.js';
import type { SqliteConnection } from './connection.js';
import { countJobs } from './lists.js';
import type { QueueRow } from './rows.js';

export function pauseQueue(c: SqliteConnection, queue: string, now: number): void {
  c.tx(() => {
    c.statements.ensureQueue.run(queue);
    c.statements.setPaused.run(1, queue);
  });
  c.emit([{ type: 'paused', queue, at: now }]);
}

export function resumeQueue(c: SqliteConnection, queue: string, now: number): void {
  const events: StoreEvent[] = [{ type: 'resumed', queue, at: now }];
  c.tx(() => {
    c.statements.ensureQueue.run(queue);
    c.statements.setPaused.run(0, queue);
    c.shareWork(events);
  });
  c.emit(events);
}

export function setQueueOptions(c: SqliteConnection, queue: string, opts: QueueOptions, now: number): void {
  // Options can open room (higher limits): let idle workers, here and in other processes, look again.
  const events: StoreEvent[] = [{ type: 'resumed', queue, at: now }];
  c.tx(() => {
    c.statements.ensureQueue.run(queue);
    if (opts.rateLimit !== undefined) c.statements.setRateLimit.run(opts.rateLimit?.max ?? null, opts.rateLimit?.windowMs ?? null, queue);
    if (opts.concurrency !== undefined) c.statements.setConcurrency.run(opts.concurrency, queue);
    c.shareWork(events);
  });
  c.emit(events);
}

export function listQueues(c: SqliteConnection): QueueInfo[] {
  const counts = countJobs(c);
  const oldest = new Map((c.statements.oldestQueuedByQueue.all() as { queue: string; t: number }[]).map((r) => [r.queue, r.t]));
  return (c.statements.allQueues.all() as QueueRow[]).map((q) => ({
    name: q.name,
    paused: q.paused === 1,
    rateLimit: q.rate_max != null ? { max: q.rate_max, windowMs: q.rate_window_ms! } : null,
    concurrency: q.concurrency ?? null,
    counts: counts[q.name] ?? emptyCounts(),
    oldestQueuedAt: oldest.get(q.name) ?? null,
  }));
}
