// Mapping between SQLite rows and the core types (Job, ScheduleRecord), and the queues row.
import { DEFAULTS, type Job, type JobState } from '../../core/job.js';
import type { ScheduleRecord } from '../../core/store.js';

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
  /** NULL: the default policy (migration 003). */
  backoff: string | null;
  timeout: number;
  stalls: number;
  max_stalls: number;
  run_at: number;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  result: string | null;
  error: string | null;
  /** NULL until an attempt ends (migration 003; '[]' in rows written before). */
  history: string | null;
  progress: string | null;
  cancel_requested: number;
  worker_id: string | null;
  lease_token: string | null;
  lease_until: number | null;
  description: string | null;
  tags: string | null;
  callbacks: string | null;
  schedule_id: string | null;
  /** 1: the id was given (in jobs_given_id); NULL: it carries the seq (ids.ts). */
  id_given: number | null;
}

const parse = (s: string | null) => (s === null ? null : JSON.parse(s));

/** The jobs table's columns in schema order: the order of a raw `SELECT *` or `RETURNING *` row. */
export const JOB_COLUMNS = [
  'seq', 'id', 'queue', 'task', 'payload', 'priority', 'state', 'attempts', 'max_attempts', 'backoff', 'timeout',
  'stalls', 'max_stalls', 'run_at', 'created_at', 'started_at', 'ended_at', 'result', 'error', 'history', 'progress',
  'cancel_requested', 'worker_id', 'lease_token', 'lease_until', 'description', 'tags', 'callbacks', 'schedule_id', 'id_given',
] as const;

/**
 * A row read in raw (array) mode. better-sqlite3 builds an object row through V8's API, one
 * property at a time, which cost a claim ~5 us per job (measured); an array plus this literal does not.
 */
export function fromRaw(a: unknown[]): JobRow {
  return {
    seq: a[0], id: a[1], queue: a[2], task: a[3], payload: a[4], priority: a[5], state: a[6], attempts: a[7],
    max_attempts: a[8], backoff: a[9], timeout: a[10], stalls: a[11], max_stalls: a[12], run_at: a[13],
    created_at: a[14], started_at: a[15], ended_at: a[16], result: a[17], error: a[18], history: a[19],
    progress: a[20], cancel_requested: a[21], worker_id: a[22], lease_token: a[23], lease_until: a[24],
    description: a[25], tags: a[26], callbacks: a[27], schedule_id: a[28], id_given: a[29],
  } as JobRow;
}

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
    backoff: r.backoff === null ? { ...DEFAULTS.backoff } : JSON.parse(r.backoff),
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
  const h = (r.history === null ? [] : JSON.parse(r.history)) as Job['history'];
  if (r.state === 'active') h.push({ attempt: r.attempts, workerId: r.worker_id!, startedAt: r.started_at! });
  return h;
}

export interface QueueRow {
  name: string;
  paused: number;
  rate_max: number | null;
  rate_window_ms: number | null;
  rate_window_start: number;
  rate_count: number;
  concurrency: number | null;
}

export interface ScheduleRow {
  id: string;
  spec: string;
  next_run_at: number | null;
  paused: number;
  run_count: number;
  last_run_at: number | null;
  created_at: number;
  updated_at: number;
  version: number;
}

export function rowToSchedule(r: ScheduleRow): ScheduleRecord {
  return {
    id: r.id,
    spec: JSON.parse(r.spec),
    nextRunAt: r.next_run_at ?? null,
    paused: r.paused === 1,
    runCount: r.run_count,
    lastRunAt: r.last_run_at ?? null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    version: r.version,
  };
}
