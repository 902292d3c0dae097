-- Version 8: claims update the rows they locked by their address (ctid), not by a second lookup
-- of `seq`. Version 1 wrote `UPDATE jobs ... WHERE seq = ANY (ARRAY(SELECT seq ... FOR UPDATE SKIP
-- LOCKED))`; how the planner found those seqs again depended on the table's statistics at the time
-- the (cached, generic) plan was made, and with a young or small table it read the whole table on
-- every claim: ~0.9 ms of server CPU for a claim of one job among 4,000 (a sequential scan testing
-- each row against the array), where the claim itself is ~0.1 ms. `ctid = ANY (...)` is a TID scan
-- whatever the statistics. The address is that of the version the subquery locked (FOR UPDATE
-- follows a row updated meanwhile to its latest version, and nobody else can move it while we hold
-- the lock); should that version be newer than the statement's snapshot, the UPDATE skips it and the
-- claim comes back one job short, as the seq form did. Otherwise as in version 1.
CREATE OR REPLACE FUNCTION claim_jobs(p_queues text[], p_worker text, p_token text, p_limit integer, p_lease bigint, p_now bigint)
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
      WHERE ctid = ANY (ARRAY(SELECT ctid FROM jobs WHERE state = 'scheduled' AND queue = v_qn AND run_at <= p_now
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
        WHERE ctid = ANY (ARRAY(SELECT ctid FROM jobs WHERE state = 'queued' AND queue = v_qn
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
