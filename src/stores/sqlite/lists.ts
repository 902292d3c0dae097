// Reading jobs: one by id, pages of a list (keyset cursors), counts per state, a job's log lines.
import { JOB_STATES, type Job, type JobState, type LogLine } from '../../core/job.js';
import { FusionError } from '../../core/errors.js';
import { emptyCounts, type ListQuery, type Page, type StateCounts } from '../../core/store.js';
import { afterCursor, orderBy, parseStateCursor, stateCursor } from '../list-order.js';
import type { SqliteConnection } from './connection.js';
import { rowToJob, type JobRow } from './rows.js';

/** The index a one-state list of one queue reads (list-order.ts gives the order; 001_baseline.sql makes them). */
export const STATE_INDEX: Record<JobState, string> = {
  queued: 'jobs_ready', scheduled: 'jobs_due', active: 'jobs_active',
  completed: 'jobs_completed_end', failed: 'jobs_failed_end', cancelled: 'jobs_cancelled_end',
};

export function getJob(conn: SqliteConnection, id: string): Job | null {
  const row = conn.statements.jobById.get(id) as JobRow | undefined;
  return row ? rowToJob(row) : null;
}

export function listJobs(conn: SqliteConnection, q: ListQuery): Page<Job> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.queue !== undefined) (where.push('queue = ?'), args.push(q.queue));
  // A known state is written as a literal: only then may the plan use that state's partial index.
  const known = q.state !== undefined && (JOB_STATES as readonly string[]).includes(q.state);
  if (q.state !== undefined) {
    if (known) where.push(`state = '${q.state}'`);
    else (where.push('state = ?'), args.push(q.state));
  }
  if (q.task !== undefined) (where.push('task = ?'), args.push(q.task));
  // One state: that state's own order (list-order.ts); otherwise newest first by seq.
  const state = known ? q.state! : null;
  if (q.cursor !== undefined) {
    if (state) {
      where.push(afterCursor(state, (v) => (args.push(v), '?'), parseStateCursor(q.cursor)));
    } else {
      const seq = Number.parseInt(q.cursor, 36);
      if (!Number.isFinite(seq)) throw new FusionError('invalid_cursor', 'cursor is not one this store gave', { cursor: q.cursor });
      where.push('seq < ?');
      args.push(seq);
    }
  }
  const limit = Math.min(Math.max(q.limit ?? 50, 1), 1000);
  // Each state's order is an index of its own (queue first); naming it makes a bad plan an
  // error, not a scan of the queue's history.
  const index = state && q.queue !== undefined ? `INDEXED BY ${STATE_INDEX[state]}` : '';
  const sql = `SELECT * FROM jobs ${index} ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${state ? orderBy(state) : 'seq DESC'} LIMIT ${limit + 1}`;
  const rows = conn.db.prepare(sql).all(...args) as JobRow[];
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page.map(rowToJob), nextCursor: more && last ? (state ? stateCursor(last as unknown as { seq: number }, state) : last.seq.toString(36)) : null };
}

/** Counts per state, per queue (of one queue when given). */
export function countJobs(conn: SqliteConnection, queue?: string): Record<string, StateCounts> {
  const out: Record<string, StateCounts> = {};
  if (queue !== undefined) {
    out[queue] = emptyCounts();
    for (const r of conn.statements.countsOfQueue.all({ q: queue }) as { state: JobState; n: number }[]) out[queue][r.state] = r.n;
    return out;
  }
  for (const r of conn.statements.countsByQueue.all() as { queue: string; state: JobState; n: number }[]) {
    (out[r.queue] ??= emptyCounts())[r.state] = r.n;
  }
  return out;
}

export function jobLogs(conn: SqliteConnection, id: string): LogLine[] {
  return conn.statements.logsOfJob.all(id) as LogLine[];
}
