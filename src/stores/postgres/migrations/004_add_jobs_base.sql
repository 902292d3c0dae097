-- Version 4: bulk enqueue sends what its jobs share once. add_jobs takes an optional p_base: the
-- fields every job of the call has alike (queue, task, priority, backoff, times, ...), and the
-- rows carry only the rest (id, payload, and any field that differs). A field is either in p_base
-- or in every row, never both, so coalesce(row, base) picks the one that is there. The array is
-- parsed once (its CTE is read twice: the count and the insert), not three times as in version 1.
-- The usual call (every id new) is a plain INSERT of the ids not in the table, without ON CONFLICT's
-- speculative insertion (an extra WAL record and lock per row); a unique violation (an id twice in
-- the call, or inserted meanwhile by another transaction) falls back to ON CONFLICT DO NOTHING.
DROP FUNCTION add_jobs(json, bigint, text);
CREATE FUNCTION add_jobs(p_jobs json, p_now bigint, p_origin text, p_base json DEFAULT NULL) RETURNS SETOF jobs
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_ids text[];
  v_total integer;
BEGIN
  IF p_jobs IS NULL THEN RETURN; END IF;
  BEGIN
    WITH b AS MATERIALIZED (
      SELECT * FROM json_to_record(coalesce(p_base, '{}')) AS (
        "queue" text, "task" text, "priority" integer, "maxAttempts" integer, "backoff" json, "timeout" bigint,
        "maxStalls" integer, "runAt" bigint, "createdAt" bigint, "description" text, "tags" json, "callbacks" json,
        "scheduleId" text, "now" bigint)
    ), i AS MATERIALIZED (
      SELECT x."id", coalesce(x."queue", b."queue") AS "queue", coalesce(x."task", b."task") AS "task", x."payload",
        coalesce(x."priority", b."priority") AS "priority", coalesce(x."maxAttempts", b."maxAttempts") AS "maxAttempts",
        coalesce(x."backoff", b."backoff") AS "backoff", coalesce(x."timeout", b."timeout") AS "timeout",
        coalesce(x."maxStalls", b."maxStalls") AS "maxStalls", coalesce(x."runAt", b."runAt") AS "runAt",
        coalesce(x."createdAt", b."createdAt") AS "createdAt", coalesce(x."description", b."description") AS "description",
        coalesce(x."tags", b."tags") AS "tags", coalesce(x."callbacks", b."callbacks") AS "callbacks",
        coalesce(x."scheduleId", b."scheduleId") AS "scheduleId", coalesce(x."now", b."now", p_now) AS "now", x.n
      FROM b, ROWS FROM (json_to_recordset(p_jobs) AS (
        "id" text, "queue" text, "task" text, "payload" json, "priority" integer, "maxAttempts" integer,
        "backoff" json, "timeout" bigint, "maxStalls" integer, "runAt" bigint, "createdAt" bigint, "description" text,
        "tags" json, "callbacks" json, "scheduleId" text, "now" bigint)) WITH ORDINALITY AS x(
        "id", "queue", "task", "payload", "priority", "maxAttempts", "backoff", "timeout", "maxStalls", "runAt",
        "createdAt", "description", "tags", "callbacks", "scheduleId", "now", n)
    ), ins AS (
      INSERT INTO jobs (id, queue, task, payload, priority, state, max_attempts, backoff, timeout, max_stalls,
        run_at, created_at, description, tags, callbacks, schedule_id)
      SELECT "id", "queue", "task", "payload", "priority",
        CASE WHEN "runAt" > "now" THEN 'scheduled' ELSE 'queued' END,
        "maxAttempts", "backoff", "timeout", "maxStalls", "runAt", "createdAt", "description",
        CASE WHEN json_typeof("tags") = 'array' AND json_array_length("tags") > 0 THEN "tags" END,
        "callbacks", "scheduleId"
      FROM i WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = i."id") ORDER BY n
      RETURNING id, queue, state, run_at
    ), qs AS (
      -- The queues of new jobs get their row (pause, limits) once.
      INSERT INTO queues (name) SELECT DISTINCT ins.queue FROM ins
      WHERE NOT EXISTS (SELECT 1 FROM queues q WHERE q.name = ins.queue)
      ON CONFLICT (name) DO NOTHING
    ), w AS (
      SELECT wake(p_origin, state, queue, min(run_at), NULL) FROM ins GROUP BY queue, state
    )
    SELECT array_agg(ins.id), (SELECT count(*) FROM i) INTO v_ids, v_total FROM ins, (SELECT count(*) FROM w) c;
  EXCEPTION WHEN unique_violation THEN
    -- An id given twice in this call, or added meanwhile by another: the statement above left
    -- nothing behind (its subtransaction rolled back); this one skips every id that exists.
    WITH b AS MATERIALIZED (
      SELECT * FROM json_to_record(coalesce(p_base, '{}')) AS (
        "queue" text, "task" text, "priority" integer, "maxAttempts" integer, "backoff" json, "timeout" bigint,
        "maxStalls" integer, "runAt" bigint, "createdAt" bigint, "description" text, "tags" json, "callbacks" json,
        "scheduleId" text, "now" bigint)
    ), i AS MATERIALIZED (
      SELECT x."id", coalesce(x."queue", b."queue") AS "queue", coalesce(x."task", b."task") AS "task", x."payload",
        coalesce(x."priority", b."priority") AS "priority", coalesce(x."maxAttempts", b."maxAttempts") AS "maxAttempts",
        coalesce(x."backoff", b."backoff") AS "backoff", coalesce(x."timeout", b."timeout") AS "timeout",
        coalesce(x."maxStalls", b."maxStalls") AS "maxStalls", coalesce(x."runAt", b."runAt") AS "runAt",
        coalesce(x."createdAt", b."createdAt") AS "createdAt", coalesce(x."description", b."description") AS "description",
        coalesce(x."tags", b."tags") AS "tags", coalesce(x."callbacks", b."callbacks") AS "callbacks",
        coalesce(x."scheduleId", b."scheduleId") AS "scheduleId", coalesce(x."now", b."now", p_now) AS "now", x.n
      FROM b, ROWS FROM (json_to_recordset(p_jobs) AS (
        "id" text, "queue" text, "task" text, "payload" json, "priority" integer, "maxAttempts" integer,
        "backoff" json, "timeout" bigint, "maxStalls" integer, "runAt" bigint, "createdAt" bigint, "description" text,
        "tags" json, "callbacks" json, "scheduleId" text, "now" bigint)) WITH ORDINALITY AS x(
        "id", "queue", "task", "payload", "priority", "maxAttempts", "backoff", "timeout", "maxStalls", "runAt",
        "createdAt", "description", "tags", "callbacks", "scheduleId", "now", n)
    ), ins AS (
      INSERT INTO jobs (id, queue, task, payload, priority, state, max_attempts, backoff, timeout, max_stalls,
        run_at, created_at, description, tags, callbacks, schedule_id)
      SELECT "id", "queue", "task", "payload", "priority",
        CASE WHEN "runAt" > "now" THEN 'scheduled' ELSE 'queued' END,
        "maxAttempts", "backoff", "timeout", "maxStalls", "runAt", "createdAt", "description",
        CASE WHEN json_typeof("tags") = 'array' AND json_array_length("tags") > 0 THEN "tags" END,
        "callbacks", "scheduleId"
      FROM i ORDER BY n
      ON CONFLICT (id) DO NOTHING
      RETURNING id, queue, state, run_at
    ), qs AS (
      -- The queues of new jobs get their row (pause, limits) once.
      INSERT INTO queues (name) SELECT DISTINCT ins.queue FROM ins
      WHERE NOT EXISTS (SELECT 1 FROM queues q WHERE q.name = ins.queue)
      ON CONFLICT (name) DO NOTHING
    ), w AS (
      SELECT wake(p_origin, state, queue, min(run_at), NULL) FROM ins GROUP BY queue, state
    )
    SELECT array_agg(ins.id), (SELECT count(*) FROM i) INTO v_ids, v_total FROM ins, (SELECT count(*) FROM w) c;
  END;
  -- Every job new (the usual case): nothing to read back.
  IF coalesce(array_length(v_ids, 1), 0) = v_total THEN RETURN; END IF;
  RETURN QUERY SELECT j.* FROM jobs j
    WHERE j.id IN (SELECT x.id FROM json_to_recordset(p_jobs) AS x(id text))
      AND (v_ids IS NULL OR NOT (j.id = ANY (v_ids)));
END $$;
