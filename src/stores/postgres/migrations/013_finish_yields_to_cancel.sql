-- Version 13: a retry, snooze or release yields to a cancel request made during the attempt
-- (OutcomeRule.yieldsToCancel in src/core/state-rules.ts): the job ends cancelled instead, the attempt
-- counted and recorded as cancelled, with the error the caller sends as such an outcome's
-- "cancelError" (CANCELLED_AT_ATTEMPT_END; the caller sends it exactly for the kinds that yield).
-- Before, a handler that failed before its worker heard of the request ran the job again.
-- An applied row says so in cancel_requested.
CREATE OR REPLACE FUNCTION finish_jobs(p_outcomes json, p_follow json, p_origin text) RETURNS SETOF jobs
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_applied integer[];
  v_queues text[];
  v_cancelled boolean[];
  v_woken bigint;
  r jobs;
BEGIN
  WITH o AS MATERIALIZED (
    SELECT x.id, x.token, x.kind, x.at, x.result, x.error, x.error->>'message' AS message, x.retry_at, x.cancel_error, x.i::integer AS i
    FROM ROWS FROM (json_to_recordset(p_outcomes) AS (id text, token text, kind text, at bigint,
      result json, error json, "retryAt" bigint, "cancelError" json))
      WITH ORDINALITY AS x(id, token, kind, at, result, error, retry_at, cancel_error, i)
  ), u AS (
    -- The SET expressions read the locked row, so a cancel request committed before the lock is seen.
    -- Each decides by the same test, o.cancel_error IS NOT NULL AND j.cancel_requested: the outcome
    -- yields to a request and one was made. (An outcome of an earlier version carries no cancelError
    -- and applies as it did under version 12.)
    UPDATE jobs j SET
      state = CASE WHEN o.cancel_error IS NOT NULL AND j.cancel_requested THEN 'cancelled'
        ELSE CASE o.kind WHEN 'retry' THEN 'scheduled' WHEN 'snoozed' THEN 'scheduled' WHEN 'released' THEN 'queued' ELSE o.kind END END,
      result = CASE WHEN o.kind = 'completed' THEN o.result ELSE j.result END,
      error = CASE WHEN o.kind = 'completed' THEN NULL WHEN o.cancel_error IS NOT NULL AND j.cancel_requested THEN o.cancel_error
        WHEN o.kind IN ('released', 'snoozed') THEN j.error ELSE o.error END,
      ended_at = CASE WHEN o.kind IN ('completed', 'failed', 'cancelled') OR (o.cancel_error IS NOT NULL AND j.cancel_requested) THEN o.at
        ELSE j.ended_at END,
      run_at = CASE WHEN o.cancel_error IS NOT NULL AND j.cancel_requested THEN j.run_at
        WHEN o.kind IN ('retry', 'snoozed') THEN o.retry_at ELSE j.run_at END,
      attempts = CASE WHEN o.kind IN ('released', 'snoozed') AND NOT (o.cancel_error IS NOT NULL AND j.cancel_requested)
        THEN greatest(j.attempts - 1, 0) ELSE j.attempts END,
      lease_token = NULL, lease_until = NULL, worker_id = NULL,
      -- A run of snoozes is one record, the latest, counting them: a snooze right after another
      -- replaces its record, so a job put off for hours keeps a short history.
      history = CASE WHEN o.kind = 'snoozed' AND NOT (o.cancel_error IS NOT NULL AND j.cancel_requested)
          AND j.history->-1->>'outcome' = 'snoozed' THEN j.history - -1
        ELSE j.history END
        || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
        'attempt', j.attempts, 'workerId', j.worker_id, 'startedAt', j.started_at, 'endedAt', o.at,
        'outcome', CASE WHEN o.cancel_error IS NOT NULL AND j.cancel_requested THEN 'cancelled' WHEN o.kind = 'retry' THEN 'retrying' ELSE o.kind END,
        'error', CASE WHEN o.cancel_error IS NOT NULL AND j.cancel_requested THEN o.cancel_error->>'message'
          WHEN o.kind IN ('retry', 'failed', 'cancelled') THEN o.message END,
        'snoozes', CASE WHEN o.kind <> 'snoozed' OR (o.cancel_error IS NOT NULL AND j.cancel_requested) THEN NULL
          WHEN j.history->-1->>'outcome' = 'snoozed' THEN coalesce((j.history->-1->>'snoozes')::integer, 1) + 1 ELSE 1 END)))
    FROM o
    WHERE j.id = ANY (ARRAY(SELECT k.id FROM jobs k WHERE k.id = ANY (ARRAY(SELECT p.id FROM o p)) ORDER BY k.id FOR NO KEY UPDATE))
      AND j.id = o.id AND j.lease_token = o.token
    -- After the update j is the new row: a yielding outcome left it cancelled only where it cancelled.
    RETURNING o.i, j.queue, o.kind, o.retry_at, o.id, (o.cancel_error IS NOT NULL AND j.state = 'cancelled') AS cancelled
  ), w AS (
    -- Work for other processes: retries and snoozed jobs coming due, and jobs given back at shutdown.
    SELECT wake(p_origin, CASE kind WHEN 'retry' THEN 'retrying' WHEN 'snoozed' THEN 'scheduled' ELSE 'queued' END, queue, min(retry_at), NULL)
    FROM u WHERE kind IN ('retry', 'snoozed', 'released') AND NOT cancelled GROUP BY queue, kind
  )
  SELECT array_agg(u.i), array_agg(u.queue), array_agg(u.cancelled) INTO v_applied, v_queues, v_cancelled
  FROM u, (SELECT count(*) FROM w) c;
  IF v_applied IS NULL THEN RETURN; END IF;
  IF p_follow IS NOT NULL THEN
    -- The follow-ups of the outcomes applied, in the order given.
    WITH f AS (
      SELECT * FROM ROWS FROM (json_to_recordset(p_follow) AS (
        "id" text, "queue" text, "task" text, "payload" json, "priority" integer, "maxAttempts" integer,
        "backoff" json, "timeout" bigint, "maxStalls" integer, "runAt" bigint, "createdAt" bigint, "description" text,
        "tags" json, "callbacks" json, "scheduleId" text, "now" bigint, "owner" integer)) WITH ORDINALITY AS x(
        "id", "queue", "task", "payload", "priority", "maxAttempts", "backoff", "timeout", "maxStalls", "runAt",
        "createdAt", "description", "tags", "callbacks", "scheduleId", "now", "owner", n)
      -- Follow-ups belong to outcomes applied as sent, not to one that ended its job cancelled instead.
      WHERE "owner" IN (SELECT x.i FROM unnest(v_applied, v_cancelled) AS x(i, cancelled) WHERE NOT x.cancelled)
    ), ins AS (
      INSERT INTO jobs (id, queue, task, payload, priority, state, max_attempts, backoff, timeout, max_stalls,
        run_at, created_at, description, tags, callbacks, schedule_id)
      SELECT "id", "queue", "task", "payload", "priority",
        CASE WHEN "runAt" > "now" THEN 'scheduled' ELSE 'queued' END,
        "maxAttempts", "backoff", "timeout", "maxStalls", "runAt", "createdAt", "description",
        CASE WHEN json_typeof("tags") = 'array' AND json_array_length("tags") > 0 THEN "tags" END,
        "callbacks", "scheduleId"
      FROM f ORDER BY n
      ON CONFLICT (id) DO NOTHING
      RETURNING queue, state, run_at
    ), qs AS (
      INSERT INTO queues (name) SELECT DISTINCT ins.queue FROM ins
      WHERE NOT EXISTS (SELECT 1 FROM queues q WHERE q.name = ins.queue)
      ON CONFLICT (name) DO NOTHING
    ), w AS (
      SELECT wake(p_origin, state, queue, min(run_at), NULL) FROM ins GROUP BY queue, state
    )
    SELECT count(*) INTO v_woken FROM w;
  END IF;
  FOR k IN 1 .. array_length(v_applied, 1) LOOP
    r := NULL;
    r.state := '#applied';
    r.attempts := v_applied[k];
    r.queue := v_queues[k];
    r.cancel_requested := v_cancelled[k];
    RETURN NEXT r;
  END LOOP;
END $$;
