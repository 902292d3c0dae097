// Operator actions on one job (API, dashboard, terminal) and the cleaning of finished jobs. Which
// state allows which action, and the refusal otherwise, are the core's (guardAction).
import { guardAction } from '../../core/state-rules.js';
import { FINISHED_STATES, isFinished, type Job, type JobState } from '../../core/job.js';
import type { CleanQuery, StoreEvent } from '../../core/store.js';
import type { SqliteConnection } from './connection.js';
import { STATE_INDEX } from './lists.js';
import { rowToJob, type JobRow } from './rows.js';

/** Run `change` in a transaction, then emit the events it noted. */
function act<T>(conn: SqliteConnection, change: (events: StoreEvent[]) => T): T {
  const events: StoreEvent[] = [];
  const out = conn.tx(() => change(events));
  conn.emit(events);
  return out;
}

/** Move a guarded job to `state`; its work event goes to other processes too. */
function move(conn: SqliteConnection, events: StoreEvent[], row: JobRow, state: JobState, runAt: number, endedAt: number | null, event: StoreEvent): Job {
  const moved = conn.statements.moveJob.get({ seq: row.seq, state, runAt, endedAt }) as JobRow;
  events.push(event);
  conn.shareWork(events);
  return rowToJob(moved);
}

export function cancelJob(conn: SqliteConnection, id: string, now: number): Job {
  return act(conn, (events) => {
    const row = conn.mustGet(id);
    // An active job is asked to stop; its worker ends it.
    if (row.state === 'active') {
      const r = conn.statements.requestCancel.get(row.seq) as JobRow;
      events.push({ type: 'cancel-requested', queue: row.queue, jobId: id, at: now });
      conn.shareWork(events);
      return rowToJob(r);
    }
    guardAction('cancel', id, row.state);
    return move(conn, events, row, 'cancelled', row.run_at, now, { type: 'cancelled', queue: row.queue, jobId: id, at: now });
  });
}

export function rescheduleJob(conn: SqliteConnection, id: string, runAt: number, now: number): Job {
  return act(conn, (events) => {
    const row = conn.mustGet(id);
    guardAction('reschedule', id, row.state);
    const state = runAt > now ? 'scheduled' : 'queued';
    return move(conn, events, row, state, runAt, null, { type: state, queue: row.queue, jobId: id, at: now, runAt });
  });
}

export function promoteJob(conn: SqliteConnection, id: string, now: number): Job {
  return act(conn, (events) => {
    const row = conn.mustGet(id);
    guardAction('promote', id, row.state);
    return move(conn, events, row, 'queued', now, null, { type: 'queued', queue: row.queue, jobId: id, at: now });
  });
}

export function retryJob(conn: SqliteConnection, id: string, now: number, resetAttempts: boolean): Job {
  return act(conn, (events) => {
    const row = conn.mustGet(id);
    guardAction('retry', id, row.state);
    const r = conn.statements.requeueEnded.get({ seq: row.seq, now, reset: resetAttempts ? 1 : 0 }) as JobRow;
    events.push({ type: 'queued', queue: row.queue, jobId: id, at: now });
    conn.shareWork(events);
    return rowToJob(r);
  });
}

export function removeJob(conn: SqliteConnection, id: string, now: number): void {
  act(conn, (events) => {
    const row = conn.mustGet(id);
    guardAction('remove', id, row.state);
    conn.statements.deleteJob.run(row.seq);
    conn.raiseSeqFloor(row.seq);
    conn.statements.deleteLogs.run(id);
    events.push({ type: 'removed', queue: row.queue, jobId: id, at: now });
  });
}

/**
 * Delete finished jobs (and their logs) that ended before q.endedBefore, up to q.limit: each state
 * and queue a range of that state's (queue, ended_at) index (every job's queue has its row in queues).
 */
export function cleanJobs(conn: SqliteConnection, q: CleanQuery): number {
  const states = (q.states ?? FINISHED_STATES).filter((s) => isFinished(s));
  if (states.length === 0) return 0;
  const limit = Math.min(Math.max(q.limit ?? 1000, 1), 100_000);
  return conn.tx(() => {
    const queues = q.queue !== undefined ? [q.queue] : (conn.statements.queueNames.all() as { name: string }[]).map((r) => r.name);
    let removed = 0;
    let lastSeq = 0;
    for (const state of states) {
      const pick = conn.db.prepare(`SELECT seq, id FROM jobs INDEXED BY ${STATE_INDEX[state]}
        WHERE state = '${state}' AND queue = ? AND ended_at < ? LIMIT (SELECT ?)`);
      for (const queue of queues) {
        const rows = pick.all(queue, q.endedBefore, limit - removed) as { seq: number; id: string }[];
        for (const r of rows) {
          conn.statements.deleteJob.run(r.seq);
          conn.statements.deleteLogs.run(r.id);
          if (r.seq > lastSeq) lastSeq = r.seq;
        }
        removed += rows.length;
        if (removed >= limit) break;
      }
      if (removed >= limit) break;
    }
    if (lastSeq > 0) conn.raiseSeqFloor(lastSeq);
    return removed;
  });
}
