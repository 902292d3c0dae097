-- Version 9: outcomes find their jobs by primary key. Version 1 joined the outcomes to `jobs`
-- WHERE j.id = o.id AND j.lease_token = o.token AND j.state = 'active', and the planner, told by
-- the statistics that few jobs are active, read every entry of the `jobs_active` partial index as a
-- bitmap and hashed the rows: a bitmap scan never marks the entries of finished jobs dead, so each
-- finish read every job that had been active since the last vacuum (301 entries and 16 heap pages
-- after 300 finishes of one job at a time), most of the server's time in a worker's cycle at
-- concurrency 1 once the commit is set aside. Here the jobs are read by `id = ANY (the outcomes'
-- ids)`, a primary-key index scan, which marks dead entries as it passes them. The lease is checked
-- by its token alone: a job holds a token only while active (a claim sets it with state 'active';
-- every statement that moves a job out of 'active', an outcome or a stall recovery, clears it;
-- operators never change an active job's state), and naming `state = 'active'` would offer the
-- planner the partial index again. Not by row address (ctid) as claims do since version 8: a row
-- changed after the statement's snapshot (a heartbeat of the same lease committing meanwhile) moves
-- to a new address, and a TID scan then skips it, which for an outcome would lose it; the index
-- scan follows the row to its latest version and checks the token there.
-- Same signature, same answers: processes of version 8 calling it get the same outcomes.
CREATE OR REPLACE FUNCTION finish_jobs(p_outcomes json, p_follow json, p_origin text) RETURNS SETOF jobs
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_applied integer[];
  v_queues text[];
  v_follow json;
  r jobs;
BEGIN
  WITH o AS MATERIALIZED (
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
    WHERE j.id = ANY (ARRAY(SELECT p.id FROM o p)) AND j.id = o.id AND j.lease_token = o.token
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
