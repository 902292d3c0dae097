// Adding jobs: one INSERT per job, skipped (and the stored job answered) when the id exists.
import type { Job, JobState, NewJob } from '../../core/job.js';
import { newJobView } from '../../core/job.js';
import type { StoreEvent } from '../../core/store.js';
import type { SqliteConnection } from './connection.js';
import { rowToJob } from './rows.js';

export type AddedJob = { job: Job; created: boolean };

/** Inside a transaction: insert `jobs`, their events into `events` (emitted after the commit). */
export function insertJobs(conn: SqliteConnection, jobs: NewJob[], now: number, events: StoreEvent[]): AddedJob[] {
  const statements = conn.statements;
  const queues = new Set<string>();
  const out: AddedJob[] = [];
  for (const j of jobs) {
    if (!queues.has(j.queue)) {
      queues.add(j.queue);
      if (!conn.knownQueues.has(j.queue)) {
        statements.ensureQueue.run(j.queue);
        conn.pendingQueues.push(j.queue);
      }
    }
    const state: JobState = j.runAt > now ? 'scheduled' : 'queued';
    // Positional: binding a named-parameter object costs ~1 µs more per row.
    const info = statements.insertJob.run(
      j.id, j.queue, j.task, JSON.stringify(j.payload ?? null), j.priority, state, j.maxAttempts, JSON.stringify(j.backoff),
      j.timeout, j.maxStalls, j.runAt, j.createdAt, j.description, j.tags.length ? JSON.stringify(j.tags) : null,
      j.callbacks ? JSON.stringify(j.callbacks) : null, j.scheduleId,
    );
    if (info.changes === 1) {
      if (conn.watching) conn.pendingOwnSeqs.push(Number(info.lastInsertRowid));
      out.push({ job: newJobView(j, state), created: true });
      events.push({ type: state, queue: j.queue, jobId: j.id, at: now, runAt: j.runAt });
    } else {
      out.push({ job: rowToJob(conn.mustGet(j.id)), created: false });
    }
  }
  return out;
}

export function addJobs(conn: SqliteConnection, jobs: NewJob[], now: number): AddedJob[] {
  const events: StoreEvent[] = [];
  const out = conn.tx(() => insertJobs(conn, jobs, now, events));
  conn.emit(events);
  return out;
}
