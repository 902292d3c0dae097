-- Version 7: stall recovery takes its error texts from the caller, so they are written once, in the
-- core state rules (src/core/state-rules.ts: CANCELLED_WHILE_LOST, stalledTooOften), not copied
-- here. p_cancelled_error is the error of a job asked to cancel while its worker was lost;
-- p_stalled_error that of a job that stalled too often, its message a template in which {stalls}
-- and {limit} stand for the stall count and the job's limit. Otherwise as in version 1. Version 1's
-- three-argument function stays: processes of an older version, still running while an upgrade
-- rolls out, call it; this version's code calls only this one.
CREATE FUNCTION recover_expired(p_now bigint, p_limit integer, p_origin text, p_cancelled_error json, p_stalled_error json)
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
        'attempt', j.attempts, 'workerId', j.worker_id, 'startedAt', j.started_at, 'endedAt', p_now, 'outcome', 'stalled')))
    FROM e WHERE j.seq = e.seq
    RETURNING j.*
  ), w AS (
    SELECT wake(p_origin, 'queued', queue, NULL, NULL) FROM u WHERE state = 'queued' GROUP BY queue
  )
  SELECT u.* FROM u, (SELECT count(*) FROM w) c ORDER BY u.seq;
END $$;
