// The SQLite schema. Partial indexes keep the hot paths (claim, promote, recover) small:
// each index only holds rows in the state that path looks for, and a state change touches only
// the indexes of the two states it joins (jobs_queue never moves: it lists a queue by seq). A list
// of one state pages in that state's own order (src/stores/list-order.ts) on the state's index:
// queued on jobs_ready, scheduled on jobs_due, active on jobs_active, finished states on their
// (queue, ended_at) index (seq, the rowid, ends every index, so ties page by seq).

import type { JobState } from '../../core/job.js';

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY,             -- enqueue order: FIFO within a priority
  id TEXT NOT NULL UNIQUE,
  queue TEXT NOT NULL,
  task TEXT NOT NULL,
  payload TEXT NOT NULL,
  priority INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  backoff TEXT NOT NULL,
  timeout INTEGER NOT NULL,
  stalls INTEGER NOT NULL DEFAULT 0,
  max_stalls INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  ended_at INTEGER,
  result TEXT,
  error TEXT,
  history TEXT NOT NULL DEFAULT '[]',
  progress TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  worker_id TEXT,
  lease_token TEXT,
  lease_until INTEGER,
  description TEXT,
  tags TEXT,
  callbacks TEXT,
  schedule_id TEXT
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs(queue, priority DESC, seq) WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS jobs_due ON jobs(queue, run_at) WHERE state = 'scheduled';
CREATE INDEX IF NOT EXISTS jobs_active ON jobs(queue, lease_until) WHERE state = 'active';
-- Lists used to page each state by seq on (queue, seq) indexes; they page in the state's order now.
DROP INDEX IF EXISTS jobs_queued;
DROP INDEX IF EXISTS jobs_scheduled;
DROP INDEX IF EXISTS jobs_completed;
DROP INDEX IF EXISTS jobs_failed;
DROP INDEX IF EXISTS jobs_cancelled;
CREATE INDEX IF NOT EXISTS jobs_completed_end ON jobs(queue, ended_at) WHERE state = 'completed';
CREATE INDEX IF NOT EXISTS jobs_failed_end ON jobs(queue, ended_at) WHERE state = 'failed';
CREATE INDEX IF NOT EXISTS jobs_cancelled_end ON jobs(queue, ended_at) WHERE state = 'cancelled';
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs(queue, seq);
CREATE INDEX IF NOT EXISTS jobs_ended ON jobs(state, ended_at) WHERE ended_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS job_logs (
  job_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS job_logs_job ON job_logs(job_id);

CREATE TABLE IF NOT EXISTS queues (
  name TEXT PRIMARY KEY,
  paused INTEGER NOT NULL DEFAULT 0,
  rate_max INTEGER,
  rate_window_ms INTEGER,
  rate_window_start INTEGER NOT NULL DEFAULT 0,
  rate_count INTEGER NOT NULL DEFAULT 0,
  concurrency INTEGER
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS schedules (
  id TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  next_run_at INTEGER,
  paused INTEGER NOT NULL DEFAULT 0,
  run_count INTEGER NOT NULL DEFAULT 0,
  last_run_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS schedules_due ON schedules(next_run_at) WHERE paused = 0 AND next_run_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS workers (
  id TEXT PRIMARY KEY,
  info TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

-- Work that an UPDATE makes (a retry, promote or reschedule, a released or recovered job, a cancel
-- request, a resumed queue), for other processes' watchers: new rows they find in jobs itself.
-- Short: the last WORK_LOG_KEEP entries are kept.
CREATE TABLE IF NOT EXISTS work_log (
  seq INTEGER PRIMARY KEY,
  origin TEXT NOT NULL,
  type TEXT NOT NULL,
  queue TEXT NOT NULL,
  job_id TEXT,
  at INTEGER NOT NULL,
  run_at INTEGER
);

-- SharedState (shared-state.ts): counters, flags, send slots and small JSON values, with expiry.
CREATE TABLE IF NOT EXISTS shared_state (key TEXT PRIMARY KEY, num REAL NOT NULL DEFAULT 0, value TEXT, expires_at INTEGER NOT NULL) WITHOUT ROWID;
`;

/** The index a one-state list of one queue reads (list-order.ts gives the order). */
export const STATE_INDEX: Record<JobState, string> = {
  queued: 'jobs_ready', scheduled: 'jobs_due', active: 'jobs_active',
  completed: 'jobs_completed_end', failed: 'jobs_failed_end', cancelled: 'jobs_cancelled_end',
};

export const WORK_LOG_KEEP = 10_000;

/**
 * Files made by the first schema (known by its jobs_list index) kept one (queue, state, seq) index
 * over every row, which moved on each state change, and wrote an active job's open attempt into
 * its history. Now an active job's open attempt is derived from its columns, so it is taken out.
 */
export const MIGRATE_FROM_FIRST = `
UPDATE jobs SET history = json_remove(history, '$[#-1]')
  WHERE state = 'active' AND json_array_length(history) > 0 AND json_extract(history, '$[#-1].endedAt') IS NULL;
DROP INDEX IF EXISTS jobs_list;
DROP INDEX IF EXISTS jobs_lease;
`;
