-- Version 1, the baseline: the schema as the store made it when versions began to be recorded.
-- Every statement is IF NOT EXISTS because a file made before then (no schema_version in meta) is
-- brought up through this file too: it has all of it already, or all but the newer indexes.
--
-- Partial indexes keep the hot paths (claim, promote, recover) small: each index only holds rows
-- in the state that path looks for, and a state change touches only the indexes of the two states
-- it joins (jobs_queue never moves: it lists a queue by seq). A list of one state pages in that
-- state's own order (src/stores/list-order.ts) on the state's index: queued on jobs_ready,
-- scheduled on jobs_due, active on jobs_active, finished states on their (queue, ended_at) index
-- (seq, the rowid, ends every index, so ties page by seq). lists.ts names each state's index.
--
-- The jobs columns are read by position (rows.ts, JOB_COLUMNS): a later migration adds columns at
-- the end only, and rows.ts with it.

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

-- schema_version: the number of the last migration applied (migrate.ts).
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

-- Work that an UPDATE makes (a retry, promote or reschedule, a released or recovered job, a cancel
-- request, a resumed queue), for other processes' watchers: new rows they find in jobs itself.
-- Short: the last WORK_LOG_KEEP (connection.ts) entries are kept.
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
