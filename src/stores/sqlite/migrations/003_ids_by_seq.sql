-- Version 3: fewer b-trees written per job (docs/performance.md, SQLite).
--
-- * No index on every id. An id Fusion makes is a UUIDv7 whose last 48 bits are the row's seq
--   (src/stores/sqlite/ids.ts), so a lookup by such an id is a lookup of its seq,
--   checked against the stored id; a seq is never taken twice (statements.ts, raiseSeqFloor: the
--   'seq_floor' row of meta). Only ids a caller gave (id_given = 1: a client's id, an
--   Idempotency-Key's, a schedule occurrence's, a follow-up's) go in a unique index, jobs_given_id.
--   An enqueued job used to write four b-trees (the row, UNIQUE(id), jobs_ready, jobs_queue); it
--   now writes two: the row and its state's index.
-- * jobs_queue (queue, seq) holds jobs outside the queued state only: a queued job is listed from
--   jobs_ready, which is in seq order within each priority, so the list of one queue across states
--   merges jobs_queue with one range of jobs_ready per priority present (lists.ts).
-- * jobs_ended (state, ended_at) is gone: cleaning goes through each finished state's
--   (queue, ended_at) index, queue by queue.
-- * backoff is NULL for the default policy (DEFAULTS.backoff in core/job.ts at version 3:
--   exponential, base 1000, cap 3600000, jitter) and history NULL until an attempt ends: a smaller
--   row. A later change of that default must write it into the NULL rows first.
--
-- UNIQUE(id) and the NOT NULLs cannot be dropped in place: the table is copied. Every existing row
-- keeps its id, marked given (its id does not carry its seq). Columns keep their order (rows.ts
-- reads them by position); id_given is added at the end.
CREATE TABLE jobs_v3 (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  queue TEXT NOT NULL,
  task TEXT NOT NULL,
  payload TEXT NOT NULL,
  priority INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  backoff TEXT,
  timeout INTEGER NOT NULL,
  stalls INTEGER NOT NULL DEFAULT 0,
  max_stalls INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  ended_at INTEGER,
  result TEXT,
  error TEXT,
  history TEXT,
  progress TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  worker_id TEXT,
  lease_token TEXT,
  lease_until INTEGER,
  description TEXT,
  tags TEXT,
  callbacks TEXT,
  schedule_id TEXT,
  id_given INTEGER
);
INSERT INTO jobs_v3 (seq, id, queue, task, payload, priority, state, attempts, max_attempts, backoff, timeout, stalls,
  max_stalls, run_at, created_at, started_at, ended_at, result, error, history, progress, cancel_requested, worker_id,
  lease_token, lease_until, description, tags, callbacks, schedule_id, id_given)
SELECT seq, id, queue, task, payload, priority, state, attempts, max_attempts, backoff, timeout, stalls,
  max_stalls, run_at, created_at, started_at, ended_at, result, error, history, progress, cancel_requested, worker_id,
  lease_token, lease_until, description, tags, callbacks, schedule_id, 1
FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v3 RENAME TO jobs;
CREATE UNIQUE INDEX jobs_given_id ON jobs(id) WHERE id_given = 1;
CREATE INDEX jobs_ready ON jobs(queue, priority DESC, seq) WHERE state = 'queued';
CREATE INDEX jobs_due ON jobs(queue, run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_active ON jobs(queue, lease_until) WHERE state = 'active';
CREATE INDEX jobs_completed_end ON jobs(queue, ended_at) WHERE state = 'completed';
CREATE INDEX jobs_failed_end ON jobs(queue, ended_at) WHERE state = 'failed';
CREATE INDEX jobs_cancelled_end ON jobs(queue, ended_at) WHERE state = 'cancelled';
CREATE INDEX jobs_queue ON jobs(queue, seq) WHERE state <> 'queued';
