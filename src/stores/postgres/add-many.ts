// Many jobs in one call (enqueueMany, a scheduler's occurrences, a coalesced batch of enqueues) as
// one prepared statement rather than a call of add_jobs: the same rows-plus-base JSON (encode.ts),
// parsed once, without the PL/pgSQL frame and its subtransaction. About a sixth less server time
// per job at 1,000 a call (docs/performance.md). One statement is atomic on its own: every job of
// every queue is added, or none. An id that exists (or one given twice) is left as it is (ON
// CONFLICT DO NOTHING) and answered in `existing`, computed only when fewer rows went in than were
// given; the caller reads those rows after. Wake-ups: one notification per (queue, state) made, of
// the form wake() sends, at commit; with `onlyIfWaiting`, only for queues another store waits on
// (wait-marks.ts).
import { someoneWaits } from './wait-marks.js';

/** The fields of a job in the JSON rows and base, with their SQL types. */
const FIELDS = `"queue" text, "task" text, "priority" integer, "maxAttempts" integer, "backoff" json, "timeout" bigint,
  "maxStalls" integer, "runAt" bigint, "createdAt" bigint, "description" text, "tags" json, "callbacks" json,
  "scheduleId" text`;
const NAMES = ['queue', 'task', 'priority', 'maxAttempts', 'backoff', 'timeout', 'maxStalls', 'runAt', 'createdAt',
  'description', 'tags', 'callbacks', 'scheduleId'];

/**
 * Text of the statement for the schema `S` (quoted). $1 rows (JSON array), $2 base (JSON object or
 * NULL), $3 now, $4 channel, $5 origin. One row back: `existing`, NULL when every job was made.
 */
export function addManyText(S: string, onlyIfWaiting: boolean): string {
  const pick = NAMES.map((f) => `coalesce(x."${f}", b."${f}") AS "${f}"`).join(', ');
  return `WITH b AS MATERIALIZED (
      SELECT * FROM json_to_record(coalesce($2::json, '{}')) AS (${FIELDS})
    ), i AS MATERIALIZED (
      SELECT x."id", x."payload", ${pick}, x.n
      FROM b, ROWS FROM (json_to_recordset($1::json) AS ("id" text, "payload" json, ${FIELDS}))
        WITH ORDINALITY AS x("id", "payload", ${NAMES.map((f) => `"${f}"`).join(', ')}, n)
    ), ins AS (
      INSERT INTO ${S}.jobs (id, queue, task, payload, priority, state, max_attempts, backoff, timeout, max_stalls,
        run_at, created_at, description, tags, callbacks, schedule_id)
      SELECT "id", "queue", "task", "payload", "priority",
        CASE WHEN "runAt" > $3::bigint THEN 'scheduled' ELSE 'queued' END,
        "maxAttempts", "backoff", "timeout", "maxStalls", "runAt", "createdAt", "description",
        CASE WHEN json_typeof("tags") = 'array' AND json_array_length("tags") > 0 THEN "tags" END,
        "callbacks", "scheduleId"
      FROM i ORDER BY n
      ON CONFLICT (id) DO NOTHING
      RETURNING id, queue, state, run_at
    ), qs AS (
      -- The queues of new jobs get their row (pause, limits) once.
      INSERT INTO ${S}.queues (name) SELECT DISTINCT ins.queue FROM ins
      WHERE NOT EXISTS (SELECT 1 FROM ${S}.queues q WHERE q.name = ins.queue)
      ON CONFLICT (name) DO NOTHING
    ), w AS (
      SELECT pg_notify($4::text, json_build_object('o', $5::text, 't', state, 'q', queue, 'r', min(run_at), 'j', NULL)::text)
      FROM ins GROUP BY queue, state${onlyIfWaiting ? `
      HAVING ${someoneWaits(S, 'queue', '$5::text')}` : ''}
    )
    -- Both columns are read, so the notifications go out; the ids not made only when some were not.
    SELECT (SELECT count(*) FROM w) AS woken,
      CASE WHEN (SELECT count(*) FROM ins) < (SELECT count(*) FROM i)
        THEN ARRAY(SELECT i.id FROM i WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.id = i.id)) END AS existing`;
}
