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

/**
 * The columns a claim reads of each job it takes, besides its payload, packed by SQLite into one
 * JSON array (pickSql in statements.ts). better-sqlite3 on Node 20 hands a row to JS one column at
 * a time (v8::Object::Set, ~900 instructions a column, for an array row as for an object row): a
 * 30-column row cost a c=1 claim ~30k instructions, more than the claim's SQL. One JSON text and
 * JSON.parse cost a fraction of that. The payload stays a column of its own: packed, it would be
 * escaped and unescaped once more, a cost that grows with it. The columns left out are the claim's
 * to know: the queue it asked for, and state, lease and cancel flag, which the lease sets.
 */
export const PICKED_COLUMNS = [
  'seq', 'id', 'task', 'priority', 'attempts', 'max_attempts', 'backoff', 'timeout', 'stalls', 'max_stalls', 'run_at',
  'created_at', 'ended_at', 'result', 'error', 'history', 'progress', 'description', 'tags', 'callbacks', 'schedule_id',
  'id_given',
] as const;

/** A job a claim picked (PICKED_COLUMNS), as its row was before the lease. */
export function fromPicked(queue: string, payload: string, packed: string): JobRow {
  const a = JSON.parse(packed) as unknown[];
  return {
    seq: a[0], id: a[1], queue, task: a[2], payload, priority: a[3], state: 'queued', attempts: a[4],
    max_attempts: a[5], backoff: a[6], timeout: a[7], stalls: a[8], max_stalls: a[9], run_at: a[10],
    created_at: a[11], started_at: null, ended_at: a[12], result: a[13], error: a[14], history: a[15],
    progress: a[16], cancel_requested: 0, worker_id: null, lease_token: null, lease_until: null,
    description: a[17], tags: a[18], callbacks: a[19], schedule_id: a[20], id_given: a[21],
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
