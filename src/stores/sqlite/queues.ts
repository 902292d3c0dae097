// Queue administration: pause, resume, options (rate limit, concurrency), and the queue list.
import { emptyCounts, type QueueInfo, type QueueOptions, type StoreEvent } from '../../core/store.js';
import type { SqliteConnection } from './connection.js';
import { countJobs } from './lists.js';
import type { QueueRow } from './rows.js';

export function pauseQueue(conn: SqliteConnection, queue: string, now: number): void {
  // Shared too: workers in other processes give back the jobs of this queue they claimed ahead.
  const events: StoreEvent[] = [{ type: 'paused', queue, at: now }];
  conn.tx(() => {
    conn.statements.ensureQueue.run(queue);
    conn.statements.setPaused.run(1, queue);
    conn.shareWork(events);
  });
  conn.emit(events);
}

export function resumeQueue(conn: SqliteConnection, queue: string, now: number): void {
  const events: StoreEvent[] = [{ type: 'resumed', queue, at: now }];
  conn.tx(() => {
    conn.statements.ensureQueue.run(queue);
    conn.statements.setPaused.run(0, queue);
    conn.shareWork(events);
  });
  conn.emit(events);
}

/**
 * A new rate limit keeps the current window and the starts counted in it: resetting them (as
 * before) let a limit saved again, or saved beside a new concurrency as the dashboard does, start
 * as many jobs again at once. A longer window or a lower max holds back what already started in it.
 */
export function setQueueOptions(conn: SqliteConnection, queue: string, opts: QueueOptions, now: number): void {
  // Options can open room (higher limits): let idle workers, here and in other processes, look again.
  const events: StoreEvent[] = [{ type: 'limits-changed', queue, at: now }];
  conn.tx(() => {
    conn.statements.ensureQueue.run(queue);
    if (opts.rateLimit !== undefined) conn.statements.setRateLimit.run(opts.rateLimit?.max ?? null, opts.rateLimit?.windowMs ?? null, queue);
    if (opts.concurrency !== undefined) conn.statements.setConcurrency.run(opts.concurrency, queue);
    conn.shareWork(events);
  });
  conn.emit(events);
}

export function listQueues(conn: SqliteConnection): QueueInfo[] {
  const counts = countJobs(conn);
  const oldest = new Map((conn.statements.oldestQueuedByQueue.all() as { queue: string; t: number }[]).map((r) => [r.queue, r.t]));
  return (conn.statements.allQueues.all() as QueueRow[]).map((q) => ({
    name: q.name,
    paused: q.paused === 1,
    rateLimit: q.rate_max != null ? { max: q.rate_max, windowMs: q.rate_window_ms! } : null,
    concurrency: q.concurrency ?? null,
    counts: counts[q.name] ?? emptyCounts(),
    oldestQueuedAt: oldest.get(q.name) ?? null,
  }));
}
