// Mapping between SQLite rows and the core Job.
import type { Job, JobState } from '../../core/job.js';

export interface JobRow {
  seq: number;
  id: string;
  queue: string;
  task: string;
  payload: string;
  priority: number;
  state: JobState;
  attempts: number;
  max_attempts: number;
  backoff: string;
  timeout: number;
  stalls: number;
  max_stalls: number;
  run_at: number;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  result: string | null;
  error: string | null;
  history: string;
  progress: string | null;
  cancel_requested: number;
  worker_id: string | null;
  lease_token: string | null;
  lease_until: number | null;
  description: string | null;
  tags: string | null;
  callbacks: string | null;
  schedule_id: string | null;
}

const parse = (s: string | null) => (s === null ? null : JSON.parse(s));

export function rowToJob(r: JobRow): Job {
  return {
    id: r.id,
    queue: r.queue,
    task: r.task,
    payload: JSON.parse(r.payload),
    priority: r.priority,
    state: r.state,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    backoff: JSON.parse(r.backoff),
    timeout: r.timeout,
    runAt: r.run_at,
    createdAt: r.created_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    result: parse(r.result),
    error: parse(r.error),
    history: history(r),
    progress: parse(r.progress),
    stalls: r.stalls,
    maxStalls: r.max_stalls,
    cancelRequested: r.cancel_requested === 1,
    workerId: r.worker_id,
    leaseToken: r.lease_token,
    leaseUntil: r.lease_until,
    description: r.description,
    tags: r.tags ? JSON.parse(r.tags) : [],
    callbacks: parse(r.callbacks),
    scheduleId: r.schedule_id,
  };
}

/** Ended attempts from the column; an active job's open attempt from the lease columns. */
function history(r: JobRow): Job['history'] {
  const h = JSON.parse(r.history) as Job['history'];
  if (r.state === 'active') h.push({ attempt: r.attempts, workerId: r.worker_id!, startedAt: r.started_at! });
  return h;
}
