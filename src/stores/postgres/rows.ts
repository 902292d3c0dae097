// Mapping between PostgreSQL rows and the core Job. json columns arrive parsed (pg's json type
// parser); bigint columns arrive as numbers on the store's own pool (see connect.ts) but as
// strings on a caller's client (enqueue in the caller's transaction), so every one goes through num().
import type { Job, JobState } from '../../core/job.js';
import type { ScheduleRecord } from '../../core/store.js';

export interface JobRow {
  seq: number | string;
  id: string;
  queue: string;
  task: string;
  payload: unknown;
  priority: number;
  state: JobState | '#wake' | '#promoted' | '#applied';
  attempts: number;
  max_attempts: number;
  backoff: Job['backoff'];
  timeout: number | string;
  stalls: number;
  max_stalls: number;
  run_at: number | string | null;
  created_at: number | string;
  started_at: number | string | null;
  ended_at: number | string | null;
  result: unknown;
  error: Job['error'];
  history: Job['history'];
  progress: unknown;
  cancel_requested: boolean;
  worker_id: string | null;
  lease_token: string | null;
  lease_until: number | string | null;
  description: string | null;
  tags: string[] | null;
  callbacks: Job['callbacks'];
  schedule_id: string | null;
}

export const num = (v: number | string): number => (typeof v === 'number' ? v : Number(v));
export const numOrNull = (v: number | string | null): number | null => (v === null ? null : typeof v === 'number' ? v : Number(v));

export function rowToJob(r: JobRow): Job {
  const history = r.history;
  // Ended attempts are stored; an active job's open attempt is derived from its lease columns.
  if (r.state === 'active') history.push({ attempt: r.attempts, workerId: r.worker_id!, startedAt: num(r.started_at!) });
  return {
    id: r.id,
    queue: r.queue,
    task: r.task,
    payload: r.payload ?? null,
    priority: r.priority,
    state: r.state as JobState,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    backoff: r.backoff,
    timeout: num(r.timeout),
    runAt: num(r.run_at!),
    createdAt: num(r.created_at),
    startedAt: numOrNull(r.started_at),
    endedAt: numOrNull(r.ended_at),
    result: r.result ?? null,
    error: r.error ?? null,
    history,
    progress: r.progress ?? null,
    stalls: r.stalls,
    maxStalls: r.max_stalls,
    cancelRequested: r.cancel_requested,
    workerId: r.worker_id,
    leaseToken: r.lease_token,
    leaseUntil: numOrNull(r.lease_until),
    description: r.description,
    tags: r.tags ?? [],
    callbacks: r.callbacks ?? null,
    scheduleId: r.schedule_id,
  };
}

export interface ScheduleRow {
  id: string;
  spec: unknown;
  next_run_at: number | string | null;
  paused: boolean;
  run_count: number;
  last_run_at: number | string | null;
  created_at: number | string;
  updated_at: number | string;
  version: number;
}

export function rowToSchedule(r: ScheduleRow): ScheduleRecord {
  return {
    id: r.id,
    spec: r.spec,
    nextRunAt: numOrNull(r.next_run_at),
    paused: r.paused,
    runCount: r.run_count,
    lastRunAt: numOrNull(r.last_run_at),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    version: r.version,
  };
}
