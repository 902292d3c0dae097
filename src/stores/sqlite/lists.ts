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
  const row = conn.rowById(id);
  return row ? rowToJob(row) : null;
}

export function listJobs(conn: SqliteConnection, q: ListQuery): Page<Job> {
  const known = q.state !== undefined && (JOB_STATES as readonly string[]).includes(q.state);
  if (q.state === undefined && q.queue !== undefined) return listQueue(conn, q.queue, q);
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.queue !== undefined) (where.push('queue = ?'), args.push(q.queue));
  // A known state is written as a literal: only then may the plan use that state's partial index.
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
  const limit = limitOf(q);
  // Each state's order is an index of its own (queue first); naming it makes a bad plan an
  // error, not a scan of the queue's history.
  const index = state && q.queue !== undefined ? `INDEXED BY ${STATE_INDEX[state]}` : '';
  const sql = `SELECT * FROM jobs ${index} ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${state ? orderBy(state) : 'seq DESC'} LIMIT ${limit + 1}`;
  const rows = conn.db.prepare(sql).all(...args) as JobRow[];
  return pageOf(rows, limit, (last) => (state ? stateCursor(last as unknown as { seq: number }, state) : last.seq.toString(36)));
}

const limitOf = (q: ListQuery) => Math.min(Math.max(q.limit ?? 50, 1), 1000);

/** The page in `rows` (up to limit + 1 of them) and the cursor after it when there are more. */
function pageOf(rows: JobRow[], limit: number, cursor: (last: JobRow) => string): Page<Job> {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page.map(rowToJob), nextCursor: rows.length > limit && last ? cursor(last) : null };
}

/**
 * One queue across states, newest first (by seq). jobs_queue holds the queue's jobs in every
 * state but queued, in seq order; queued jobs are in jobs_ready, in seq order within each
 * priority. So a page is one range of jobs_queue and one of jobs_ready per priority present
 * (found by a skip along jobs_ready), merged: its cost is its length times the number of
 * priorities queued, at any depth (migration 003).
 */
function listQueue(conn: SqliteConnection, queue: string, q: ListQuery): Page<Job> {
  const limit = limitOf(q);
  const filter: string[] = [];
  const args: unknown[] = [];
  if (q.task !== undefined) (filter.push('AND task = ?'), args.push(q.task));
  if (q.cursor !== undefined) {
    const before = Number.parseInt(q.cursor, 36);
    if (!Number.isFinite(before)) throw new FusionError('invalid_cursor', 'cursor is not one this store gave', { cursor: q.cursor });
    filter.push('AND seq < ?');
    args.push(before);
  }
  const tail = `${filter.join(' ')} ORDER BY seq DESC LIMIT ${limit + 1}`;
  const rows = conn.db.prepare(`SELECT * FROM jobs INDEXED BY jobs_queue WHERE queue = ? AND state <> 'queued' ${tail}`)
    .all(queue, ...args) as JobRow[];
  const nextPriority = conn.db.prepare(`SELECT priority FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' AND queue = ?
    AND priority < ? ORDER BY priority DESC LIMIT 1`).pluck();
  const queued = conn.db.prepare(`SELECT * FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' AND queue = ? AND priority = ? ${tail}`);
  for (let p = nextPriority.get(queue, Infinity) as number | undefined; p !== undefined; p = nextPriority.get(queue, p) as number | undefined) {
    rows.push(...(queued.all(queue, p, ...args) as JobRow[]));
  }
  rows.sort((x, y) => y.seq - x.seq);
  return pageOf(rows.slice(0, limit + 1), limit, (last) => last.seq.toString(36));
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
