-- Version 6: an add notifies only when someone waits (src/stores/postgres/wait-marks.ts). A NOTIFY
-- holds a server-wide lock through its commit's flush, so notifying commits queue one behind the
-- other instead of sharing a flush: enqueue-only systems and busy workers should send none.
--
-- A mark says "the store `origin` waits for new work in `queue` until `until`" ('*': in every
-- queue, for event listeners). A worker's store sets it when a claim comes up short (the worker is
-- about to sleep) and renews it on its next short claims; the add statements notify only when a
-- live mark of another store exists for the job's queue. Rows of stores that went away expire and
-- are swept by the next mark_waiting(..., true).
CREATE TABLE waiting (
  queue text NOT NULL,
  origin text NOT NULL,
  until timestamptz NOT NULL,
  PRIMARY KEY (queue, origin)
);

-- Set or renew `p_origin`'s marks on `p_queues` for `p_ttl_ms` (server clock). Returns whether any of
-- them had lapsed (absent, or expiring within 100 ms): the caller must then mark again with
-- p_barrier and claim once more.
--
-- p_barrier closes the lost wake-up race. An add reads `waiting` in its own statement, so it holds
-- an ACCESS SHARE lock on the table from before its snapshot until its commit. ACCESS EXCLUSIVE
-- here waits for every add in flight to commit (their jobs are then visible to the caller's next
-- claim), and adds that come later wait for this commit, so their snapshot sees the mark and they
-- notify. Either way the job is found or announced. Only taken when a mark goes from absent to live.
CREATE FUNCTION mark_waiting(p_queues text[], p_origin text, p_ttl_ms bigint, p_barrier boolean) RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_lapsed boolean := false;
BEGIN
  IF p_barrier THEN
    -- A long transaction holding the table (a caller's own, say) must not stall every add behind us.
    PERFORM set_config('lock_timeout', '2s', true);
    LOCK TABLE waiting IN ACCESS EXCLUSIVE MODE;
    DELETE FROM waiting WHERE until < clock_timestamp() - interval '1 minute';
  ELSE
    SELECT count(*) < (SELECT count(DISTINCT q) FROM unnest(p_queues) q) INTO v_lapsed
    FROM waiting WHERE origin = p_origin AND queue = ANY (p_queues) AND until > clock_timestamp() + interval '100 ms';
  END IF;
  INSERT INTO waiting (queue, origin, until)
  SELECT DISTINCT q, p_origin, clock_timestamp() + p_ttl_ms * interval '1 millisecond' FROM unnest(p_queues) q
  ON CONFLICT (queue, origin) DO UPDATE SET until = excluded.until;
  RETURN v_lapsed;
END $$;

-- Queue rows are never deleted: a store remembers the queues it has added to and skips the look at
-- `queues` for their single adds (add-one.ts). Whatever deletes a queue row must change that first.
COMMENT ON TABLE queues IS 'Never deleted: stores cache which queue rows exist (src/stores/postgres/store.ts queuesWithRow)';
