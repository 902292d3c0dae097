-- Version 14: an attempt that stall recovery ends (the job failed past its stall limit, or cancelled
-- while its worker was lost) keeps the job's error message in its history record, as SQLite and
-- Redis record it and as every other ended attempt is recorded. Before, the record said only
-- "stalled": the attempt log of such a job gave no reason on PostgreSQL. Same signature as version
-- 7's, so processes of the version before, still running while an upgrade rolls out, call this one.
CREATE OR REPLACE FUNCTION recover_expired(p_now bigint, p_limit integer, p_origin text, p_cancelled_error json, p_stalled_error json)
RETURNS SETOF jobs
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
        WHEN j.cancel_requested THEN p_cancelled_error
        WHEN j.stalls + 1 > j.max_stalls THEN jsonb_set(p_stalled_error::jsonb, '{message}', to_jsonb(
          replace(replace(p_stalled_error->>'message', '{stalls}', (j.stalls + 1)::text), '{limit}', j.max_stalls::text)))::json
        ELSE j.error END,
      lease_token = NULL, lease_until = NULL, worker_id = NULL,
      history = j.history || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
        'attempt', j.attempts, 'workerId', j.worker_id, 'startedAt', j.started_at, 'endedAt', p_now, 'outcome', 'stalled',
        'error', CASE
          WHEN j.cancel_requested THEN p_cancelled_error->>'message'
          WHEN j.stalls + 1 > j.max_stalls THEN replace(replace(p_stalled_error->>'message', '{stalls}', (j.stalls + 1)::text), '{limit}', j.max_stalls::text)
        END)))
    FROM e WHERE j.seq = e.seq
    RETURNING j.*
  ), w AS (
    SELECT wake(p_origin, 'queued', queue, NULL, NULL) FROM u WHERE state = 'queued' GROUP BY queue
  )
  SELECT u.* FROM u, (SELECT count(*) FROM w) c ORDER BY u.seq;
END $$;
