-- Version 3: SharedState (shared-state.ts): provider health counters and flags, send slots and
-- small JSON values (delivery status), each with an expiry in epoch ms passed in by the caller.
-- A row whose expires_at <= now reads as absent. Only the key is indexed, so every change of a row
-- is a HOT update; expired rows are swept in bounded batches by the store.
CREATE TABLE shared_state (
  key text PRIMARY KEY,
  num double precision NOT NULL DEFAULT 0,
  value jsonb,
  expires_at bigint NOT NULL
);
ALTER TABLE shared_state SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05);

-- A send slot of an evenly spaced rate (GCRA without burst): num holds the next free slot's time.
-- Reserves the slot if it starts within p_max_wait and answers the wait (0: now); past it nothing
-- is reserved and the answer is minus the wait there would be. One call, the row locked meanwhile.
CREATE FUNCTION shared_take(p_key text, p_interval double precision, p_max_wait double precision, p_now bigint)
RETURNS bigint LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_num double precision;
  v_exp bigint;
  v_slot double precision;
  v_wait double precision;
BEGIN
  LOOP
    SELECT num, expires_at INTO v_num, v_exp FROM shared_state WHERE key = p_key FOR UPDATE;
    IF FOUND THEN
      v_slot := greatest(CASE WHEN v_exp > p_now THEN v_num ELSE 0 END, p_now);
      v_wait := v_slot - p_now;
      IF v_wait > p_max_wait THEN RETURN -ceil(v_wait)::bigint; END IF;
      UPDATE shared_state SET num = v_slot + p_interval, value = NULL,
        expires_at = ceil(v_slot + p_interval)::bigint + 1000 WHERE key = p_key;
      RETURN ceil(v_wait)::bigint;
    END IF;
    IF 0 > p_max_wait THEN RETURN 0; END IF;
    -- No row: the slot is now. Another caller may insert it first: then read it again, locked.
    INSERT INTO shared_state (key, num, expires_at) VALUES (p_key, p_now + p_interval, ceil(p_now + p_interval)::bigint + 1000)
      ON CONFLICT (key) DO NOTHING;
    IF FOUND THEN RETURN 0; END IF;
  END LOOP;
END $$;
