-- Fusion on PostgreSQL, schema version 1. Applied by migrate.ts inside one transaction, under an
-- advisory lock, with search_path set to the store's schema: names here are unqualified, and each
-- function keeps that search_path (SET search_path FROM CURRENT), so it also works when called
-- from an application's own connection (enqueue inside the caller's transaction).
--
-- Times are epoch milliseconds (bigint), passed in by the caller: the database clock is never read.
-- A state change can never be a HOT update (state is in the partial indexes' predicates), so the
-- indexes over every row are kept to two: the primary key (id) and seq (list order).

CREATE TABLE jobs (
  seq bigint GENERATED ALWAYS AS IDENTITY,  -- enqueue order: FIFO within a priority
  id text PRIMARY KEY,
  queue text NOT NULL,
  task text NOT NULL,
  payload json,
  priority integer NOT NULL,
  state text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  backoff json NOT NULL,
  timeout bigint NOT NULL,
  stalls integer NOT NULL DEFAULT 0,
  max_stalls integer NOT NULL,
  run_at bigint NOT NULL,
  created_at bigint NOT NULL,
  started_at bigint,
  ended_at bigint,
  result json,
  error json,
  history jsonb NOT NULL DEFAULT '[]',      -- ended attempts; the open one is read from the lease columns
  progress json,
  cancel_requested boolean NOT NULL DEFAULT false,
  worker_id text,
  lease_token text,
  lease_until bigint,
  description text,
  tags json,
  callbacks json,
  schedule_id text
);
-- The hot table turns over fast: vacuum and analyze it on a share of changed rows far below the
-- defaults (20% / 10%), so dead versions of claimed and finished jobs do not pile up in the indexes.
ALTER TABLE jobs SET (
  autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
  autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0,
  autovacuum_vacuum_insert_scale_factor = 0.05, fillfactor = 90
);
CREATE INDEX jobs_seq ON jobs (seq);
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, seq) WHERE state = 'queued';
CREATE INDEX jobs_due ON jobs (queue, run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_active ON jobs (queue, lease_until) WHERE state = 'active';
CREATE INDEX jobs_completed ON jobs (queue, seq) WHERE state = 'completed';
CREATE INDEX jobs_failed ON jobs (queue, seq) WHERE state = 'failed';
CREATE INDEX jobs_cancelled ON jobs (queue, seq) WHERE state = 'cancelled';
CREATE INDEX jobs_ended ON jobs (state, ended_at) WHERE ended_at IS NOT NULL;

CREATE TABLE job_logs (
  n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id text NOT NULL,
  at bigint NOT NULL,
  message text NOT NULL
);
CREATE INDEX job_logs_job ON job_logs (job_id, n);

CREATE TABLE queues (
  name text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false,
  rate_max integer,
  rate_window_ms bigint,
  rate_window_start bigint NOT NULL DEFAULT 0,
  rate_count integer NOT NULL DEFAULT 0,
  concurrency integer
);

CREATE TABLE schedules (
  id text PRIMARY KEY,
  spec json NOT NULL,
  next_run_at bigint,
  paused boolean NOT NULL DEFAULT false,
  run_count integer NOT NULL DEFAULT 0,
  last_run_at bigint,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  version integer NOT NULL DEFAULT 1
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE NOT paused AND next_run_at IS NOT NULL;

CREATE TABLE workers (
  id text PRIMARY KEY,
  info json NOT NULL,
  expires_at bigint NOT NULL
);

-- Wake-ups for other processes: one small notification per (type, queue) a statement makes work
-- in, sent at commit (so a rolled-back enqueue wakes nobody). Far below NOTIFY's 8,000-byte limit:
-- origin, type, queue (<= 100 chars), the earliest due time, and a job id only for cancel requests.
CREATE FUNCTION wake(p_origin text, p_type text, p_queue text, p_run_at bigint, p_job text) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
  SELECT pg_notify(current_schema() || ':work',
    json_build_object('o', p_origin, 't', p_type, 'q', p_queue, 'r', p_run_at, 'j', p_job)::text)
$$;

-- Insert jobs (a JSON array of core NewJob objects, as JSON.stringify writes them) in the order
-- given, queued or scheduled by runAt against p_now (or a job's own "now"); an id that exists is
-- left as it is. Returns the rows of the ids that existed (the caller knows the rest were created).
CREATE FUNCTION add_jobs(p_jobs json, p_now bigint, p_origin text) RETURNS SETOF jobs
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_ids text[];
BEGIN
  IF p_jobs IS NULL OR json_array_length(p_jobs) = 0 THEN RETURN; END IF;
  WITH i AS (
    SELECT * FROM ROWS FROM (json_to_recordset(p_jobs) AS (
      "id" text, "queue" text, "task" text, "payload" json, "priority" integer, "maxAttempts" integer,
      "backoff" json, "timeout" bigint, "maxStalls" integer, "runAt" bigint, "createdAt" bigint, "description" text,
      "tags" json, "callbacks" json, "scheduleId" text, "now" bigint)) WITH ORDINALITY AS x(
      "id", "queue", "task", "payload", "priority", "maxAttempts", "backoff", "timeout", "maxStalls", "runAt",
      "createdAt", "description", "tags", "callbacks", "scheduleId", "now", n)
  ), ins AS (
    INSERT INTO jobs (id, queue, task, payload, priority, state, max_attempts, backoff, timeout, max_stalls,
      run_at, created_at, description, tags, callbacks, schedule_id)
    SELECT "id", "queue", "task", "payload", "priority",
      CASE WHEN "runAt" > coalesce("now", p_now) THEN 'scheduled' ELSE 'queued' END,
      "maxAttempts", "backoff", "timeout", "maxStalls", "runAt", "createdAt", "description",
      CASE WHEN json_typeof("tags") = 'array' AND json_array_length("tags") > 0 THEN "tags" END,
      "callbacks", "scheduleId"
    FROM i ORDER BY n
    ON CONFLICT (id) DO NOTHING
    RETURNING id, queue, state, run_at
  ), qs AS (
    -- The queues of new jobs get their row (pause, limits) once; the JSON is parsed only once.
    INSERT INTO queues (name) SELECT DISTINCT ins.queue FROM ins
    WHERE NOT EXISTS (SELECT 1 FROM queues q WHERE q.name = ins.queue)
    ON CONFLICT (name) DO NOTHING
  ), w AS (
    SELECT wake(p_origin, state, queue, min(run_at), NULL) FROM ins GROUP BY queue, state
  )
  SELECT array_agg(ins.id) INTO v_ids FROM ins, (SELECT count(*) FROM w) c;
  -- Every job new (the usual case): nothing to read back.
  IF coalesce(array_length(v_ids, 1), 0) = json_array_length(p_jobs) THEN RETURN; END IF;
  RETURN QUERY SELECT j.* FROM jobs j
    WHERE j.id IN (SELECT x.id FROM json_to_recordset(p_jobs) AS x(id text))
      AND (v_ids IS NULL OR NOT (j.id = ANY (v_ids)));
END $$;

-- Take up to p_limit jobs from the queues in the order given: promote due scheduled jobs, respect
-- pause, concurrency and rate limits (a limited queue's row is locked, so claimers take turns),
-- then lease by (priority desc, seq) with SKIP LOCKED. Claimed rows come back as they are stored;
-- pseudo-rows (state starting with '#') carry the rest: '#promoted' (id, queue) and, last,
-- '#wake' with run_at = the earliest time something may become claimable, or NULL.
CREATE FUNCTION claim_jobs(p_queues text[], p_worker text, p_token text, p_limit integer, p_lease bigint, p_now bigint)
RETURNS SETOF jobs LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_qn text;
  q queues;
  v_got integer := 0;
  v_n integer;
  v_wake bigint;
  v_t bigint;
  v_start bigint;
  v_used integer;
  v_left integer;
  v_claimed integer;
  r jobs;
BEGIN
  FOREACH v_qn IN ARRAY p_queues LOOP
    SELECT * INTO q FROM queues WHERE name = v_qn;
    IF NOT FOUND OR q.paused THEN CONTINUE; END IF;
    FOR r IN
      UPDATE jobs SET state = 'queued'
      WHERE seq = ANY (ARRAY(SELECT seq FROM jobs WHERE state = 'scheduled' AND queue = v_qn AND run_at <= p_now
                             ORDER BY run_at LIMIT 1000 FOR UPDATE SKIP LOCKED))
      RETURNING *
    LOOP
      r.state := '#promoted';
      RETURN NEXT r;
    END LOOP;
    SELECT min(run_at) INTO v_t FROM jobs WHERE state = 'scheduled' AND queue = v_qn;
    IF v_t IS NOT NULL AND (v_wake IS NULL OR v_t < v_wake) THEN v_wake := v_t; END IF;
    v_n := p_limit - v_got;
    IF v_n <= 0 THEN CONTINUE; END IF;
    IF q.concurrency IS NOT NULL OR q.rate_max IS NOT NULL THEN
      -- Claimers of a limited queue take turns; each then counts what the last one committed.
      SELECT * INTO q FROM queues WHERE name = v_qn FOR UPDATE;
      IF q.paused THEN CONTINUE; END IF;
      IF q.concurrency IS NOT NULL THEN
        v_n := least(v_n, q.concurrency - (SELECT count(*) FROM jobs WHERE state = 'active' AND queue = v_qn)::integer);
      END IF;
      v_start := q.rate_window_start;
      v_used := q.rate_count;
      IF q.rate_max IS NOT NULL THEN
        IF p_now >= v_start + q.rate_window_ms THEN
          v_start := p_now;
          v_used := 0;
        END IF;
        v_left := q.rate_max - v_used;
        IF v_left <= v_n AND (v_wake IS NULL OR v_start + q.rate_window_ms < v_wake) THEN
          v_wake := v_start + q.rate_window_ms;
        END IF;
        v_n := least(v_n, v_left);
      END IF;
    END IF;
    IF v_n <= 0 THEN CONTINUE; END IF;
    RETURN QUERY
      WITH c AS (
        UPDATE jobs SET state = 'active', attempts = attempts + 1, worker_id = p_worker, lease_token = p_token,
          lease_until = p_now + p_lease, started_at = p_now, cancel_requested = false
        WHERE seq = ANY (ARRAY(SELECT seq FROM jobs WHERE state = 'queued' AND queue = v_qn
                               ORDER BY priority DESC, seq LIMIT v_n FOR UPDATE SKIP LOCKED))
        RETURNING *
      ) SELECT * FROM c ORDER BY priority DESC, seq;
    GET DIAGNOSTICS v_claimed = ROW_COUNT;
    v_got := v_got + v_claimed;
    IF q.rate_max IS NOT NULL THEN
      UPDATE queues SET rate_window_start = v_start, rate_count = v_used + v_claimed WHERE name = v_qn;
    END IF;
    IF v_got >= p_limit THEN EXIT; END IF;
  END LOOP;
  r := NULL;
  r.state := '#wake';
  r.run_at := v_wake;
  RETURN NEXT r;
END $$;

-- Apply attempt outcomes (a JSON array of core Outcome objects), each only if its token still holds
-- the job, all in one UPDATE. Follow-up jobs (p_follow: NewJobs with "owner" = the 1-based position
-- of their outcome and "now" = its time) are added for the outcomes that applied. Returns one
-- '#applied' pseudo-row per applied outcome (attempts = its position, queue = its queue).
CREATE FUNCTION finish_jobs(p_outcomes json, p_follow json, p_origin text) RETURNS SETOF jobs
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_applied integer[];
  v_queues text[];
  v_follow json;
  r jobs;
BEGIN
  WITH o AS (
    SELECT x.id, x.token, x.kind, x.at, x.result, x.error, x.error->>'message' AS message, x.retry_at, x.i::integer AS i
    FROM ROWS FROM (json_to_recordset(p_outcomes) AS (id text, token text, kind text, at bigint,
      result json, error json, "retryAt" bigint)) WITH ORDINALITY AS x(id, token, kind, at, result, error, retry_at, i)
  ), u AS (
    UPDATE jobs j SET
      state = CASE o.kind WHEN 'retry' THEN 'scheduled' WHEN 'released' THEN 'queued' ELSE o.kind END,
      result = CASE WHEN o.kind = 'completed' THEN o.result ELSE j.result END,
      error = CASE WHEN o.kind = 'completed' THEN NULL WHEN o.kind = 'released' THEN j.error ELSE o.error END,
      ended_at = CASE WHEN o.kind IN ('completed', 'failed', 'cancelled') THEN o.at ELSE j.ended_at END,
      run_at = CASE WHEN o.kind = 'retry' THEN o.retry_at ELSE j.run_at END,
      attempts = CASE WHEN o.kind = 'released' THEN greatest(j.attempts - 1, 0) ELSE j.attempts END,
      lease_token = NULL, lease_until = NULL, worker_id = NULL,
      history = j.history || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
        'attempt', j.attempts, 'workerId', j.worker_id, 'startedAt', j.started_at, 'endedAt', o.at,
        'outcome', CASE o.kind WHEN 'retry' THEN 'retrying' ELSE o.kind END,
        'error', CASE WHEN o.kind IN ('retry', 'failed', 'cancelled') THEN o.message END)))
    FROM o
    WHERE j.id = o.id AND j.lease_token = o.token AND j.state = 'active'
    RETURNING o.i, j.queue, o.kind, o.retry_at, o.id
  ), w AS (
    -- Work for other processes: retries coming due, and jobs given back at shutdown.
    SELECT wake(p_origin, CASE kind WHEN 'retry' THEN 'retrying' ELSE 'queued' END, queue, min(retry_at), NULL)
    FROM u WHERE kind IN ('retry', 'released') GROUP BY queue, kind
  )
  SELECT array_agg(u.i), array_agg(u.queue) INTO v_applied, v_queues FROM u, (SELECT count(*) FROM w) c;
  IF v_applied IS NULL THEN RETURN; END IF;
  IF p_follow IS NOT NULL THEN
    SELECT json_agg(f) INTO v_follow FROM json_array_elements(p_follow) f WHERE (f->>'owner')::integer = ANY (v_applied);
    IF v_follow IS NOT NULL THEN PERFORM add_jobs(v_follow, NULL, p_origin); END IF;
  END IF;
  FOR k IN 1 .. array_length(v_applied, 1) LOOP
    r := NULL;
    r.state := '#applied';
    r.attempts := v_applied[k];
    r.queue := v_queues[k];
    RETURN NEXT r;
  END LOOP;
END $$;

-- A worker's cycle in one call: its outcomes, then its next claim.
CREATE FUNCTION finish_claim(p_outcomes json, p_follow json, p_origin text, p_queues text[], p_worker text,
  p_token text, p_limit integer, p_lease bigint, p_now bigint)
RETURNS SETOF jobs LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  RETURN QUERY SELECT * FROM finish_jobs(p_outcomes, p_follow, p_origin);
  RETURN QUERY SELECT * FROM claim_jobs(p_queues, p_worker, p_token, p_limit, p_lease, p_now);
END $$;

-- Active jobs whose lease ran out: cancelled if a cancel was asked, failed past the stall limit,
-- else back to queued (the lost attempt does not count). Returns the changed rows, state = the new one.
CREATE FUNCTION recover_expired(p_now bigint, p_limit integer, p_origin text) RETURNS SETOF jobs
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  RETURN QUERY
  WITH e AS (
    SELECT seq FROM jobs WHERE state = 'active' AND lease_until < p_now ORDER BY lease_until LIMIT p_limit FOR UPDATE SKIP LOCKED
  ), u AS (
    UPDATE jobs j SET
      state = CASE WHEN j.cancel_requested THEN 'cancelled' WHEN j.stalls + 1 > j.max_stalls THEN 'failed' ELSE 'queued' END,
      stalls = j.stalls + 1,
      attempts = CASE WHEN j.cancel_requested OR j.stalls + 1 > j.max_stalls THEN j.attempts ELSE greatest(j.attempts - 1, 0) END,
      ended_at = CASE WHEN j.cancel_requested OR j.stalls + 1 > j.max_stalls THEN p_now ELSE j.ended_at END,
      error = CASE
        WHEN j.cancel_requested THEN json_build_object('message', 'cancelled while its worker was lost', 'retryable', false, 'name', 'CancelledError')
        WHEN j.stalls + 1 > j.max_stalls THEN json_build_object('message',
          format('job stalled %s times (limit %s): its worker lost the lease each time', j.stalls + 1, j.max_stalls),
          'retryable', false, 'name', 'StalledError', 'code', 'stalled')
        ELSE j.error END,
      lease_token = NULL, lease_until = NULL, worker_id = NULL,
      history = j.history || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
        'attempt', j.attempts, 'workerId', j.worker_id, 'startedAt', j.started_at, 'endedAt', p_now, 'outcome', 'stalled')))
    FROM e WHERE j.seq = e.seq
    RETURNING j.*
  ), w AS (
    SELECT wake(p_origin, 'queued', queue, NULL, NULL) FROM u WHERE state = 'queued' GROUP BY queue
  )
  SELECT u.* FROM u, (SELECT count(*) FROM w) c ORDER BY u.seq;
END $$;
