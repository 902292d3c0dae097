// Many jobs in one call (enqueueMany, a scheduler's occurrences, a coalesced batch of enqueues) as
// one prepared statement: each field is one array parameter (encode.ts), unnested by the server into
// rows, a field every job has alike sent as a single element. No JSON document to take apart, no
// PL/pgSQL frame. One statement is atomic on its own: every job of every queue is added, or none.
//
// Two forms. The usual one is a plain INSERT: no ON CONFLICT, whose speculative insertion costs an
// extra WAL record and lock per row (with the arrays, a third of the server's time per job:
// docs/performance.md). Every row goes in or the statement fails, so its wake-ups and the queues
// needing a row are known before it runs and travel as arrays too. Should an id exist already (or be
// given twice), the unique violation leaves nothing behind and the careful form runs instead: ON
// CONFLICT DO NOTHING, with the wake-ups and queue rows of the rows made, answering in `existing`
// the ids that were not made (the caller reads those rows after). The careful form is also the one
// for a caller's own transaction, where a failed statement would abort it.
//
// Wake-ups: one notification per (queue, state) made, of the form wake() sends, at commit; with
// `onlyIfWaiting`, only for queues another store waits on (wait-marks.ts).
import type { NewJob } from '../../core/job.js';
import { FIELDS, JOB_COLUMNS, jobColumns } from './encode.js';
import { wakeNote } from './listen.js';
import { someoneWaits } from './wait-marks.js';

/** $1 ids, $2 payloads, then one array per field, then the scalars from NOW on. */
const NOW = FIELDS.length + 3;

/** The rows: id, payload, each field (its one element when the array has only one), state. */
function rowsFrom(): string {
  const params = FIELDS.map((f, k) => `$${k + 3}::${f.type}[]`);
  const picks = FIELDS.map((f, k) => `CASE WHEN cardinality(${params[k]}) = 1 THEN (${params[k]})[1] ELSE u.f${k} END AS ${f.column}`);
  return `SELECT r.id, r.payload, CASE WHEN r.run_at > $${NOW}::bigint THEN 'scheduled' ELSE 'queued' END AS state,
        ${FIELDS.map((f) => `r.${f.column}`).join(', ')}
      FROM (SELECT u.id, u.payload, ${picks.join(', ')}
        FROM unnest($1::text[], $2::json[], ${params.join(', ')}) AS u(id, payload, ${FIELDS.map((_, k) => `f${k}`).join(', ')})) r`;
}

/**
 * The usual form: ${NOW} now, then the queues to give a row (text[]), the channel, the wake-ups'
 * queues and notifications (text[] each), the adding store's origin (with `onlyIfWaiting`).
 */
export function addManyText(S: string, onlyIfWaiting: boolean): string {
  const p = (k: number) => `$${NOW + k}`;
  return `WITH ins AS (
      INSERT INTO ${S}.jobs (${JOB_COLUMNS}) ${rowsFrom()}
    ), qs AS (
      -- The queues of new jobs get their row (pause, limits) once.
      INSERT INTO ${S}.queues (name) SELECT q FROM unnest(${p(1)}::text[]) q
      WHERE NOT EXISTS (SELECT 1 FROM ${S}.queues x WHERE x.name = q)
      ON CONFLICT (name) DO NOTHING
    ), w AS (
      SELECT pg_notify(${p(2)}::text, w.note) FROM unnest(${p(3)}::text[], ${p(4)}::text[]) AS w(queue, note)${onlyIfWaiting ? `
      WHERE ${someoneWaits(S, 'w.queue', `${p(5)}::text`)}` : ''}
    )
    SELECT (SELECT count(*) FROM w) AS woken`;
}

/** The careful form (ON CONFLICT DO NOTHING): ${NOW} now, then the channel and origin. */
export function addManyCarefulText(S: string, onlyIfWaiting: boolean): string {
  const p = (k: number) => `$${NOW + k}`;
  return `WITH ins AS (
      INSERT INTO ${S}.jobs (${JOB_COLUMNS}) ${rowsFrom()}
      ON CONFLICT (id) DO NOTHING
      RETURNING id, queue, state, run_at
    ), qs AS (
      INSERT INTO ${S}.queues (name) SELECT DISTINCT ins.queue FROM ins
      WHERE NOT EXISTS (SELECT 1 FROM ${S}.queues q WHERE q.name = ins.queue)
      ON CONFLICT (name) DO NOTHING
    ), w AS (
      SELECT pg_notify(${p(1)}::text, json_build_object('o', ${p(2)}::text, 't', state, 'q', queue, 'r', min(run_at), 'j', NULL)::text)
      FROM ins GROUP BY queue, state${onlyIfWaiting ? `
      HAVING ${someoneWaits(S, 'queue', `${p(2)}::text`)}` : ''}
    )
    -- Both columns are read, so the notifications go out; the ids not made only when some were not.
    SELECT (SELECT count(*) FROM w) AS woken,
      CASE WHEN (SELECT count(*) FROM ins) < cardinality($1::text[])
        THEN ARRAY(SELECT i.id FROM unnest($1::text[]) i(id) WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.id = i.id)) END AS existing`;
}

/** The usual form's values. `newQueues`: the jobs' queues the store does not know to have a row. */
export function addManyValues(
  jobs: NewJob[], now: number, channel: string, origin: string, newQueues: string[], onlyIfWaiting: boolean,
): unknown[] {
  // One wake-up per (queue, state), due at the earliest of its jobs, as the careful form groups them.
  const wakes = new Map<string, { t: 'queued' | 'scheduled'; q: string; r: number }>();
  for (const j of jobs) {
    const t = j.runAt > now ? ('scheduled' as const) : ('queued' as const);
    const key = `${t}\u0000${j.queue}`;
    const w = wakes.get(key);
    if (!w) wakes.set(key, { t, q: j.queue, r: j.runAt });
    else if (j.runAt < w.r) w.r = j.runAt;
  }
  const queues: string[] = [];
  const notes: string[] = [];
  for (const w of wakes.values()) {
    queues.push(w.q);
    notes.push(wakeNote(origin, w.t, w.q, w.r));
  }
  const values = [...jobColumns(jobs), now, newQueues, channel, queues, notes];
  if (onlyIfWaiting) values.push(origin);
  return values;
}

/** The careful form's values. */
export function addManyCarefulValues(jobs: NewJob[], now: number, channel: string, origin: string): unknown[] {
  return [...jobColumns(jobs), now, channel, origin];
}
