// The common enqueue, one job, as one plain prepared statement instead of a call of add_jobs: no
// PL/pgSQL frame, no subtransaction (add_jobs' EXCEPTION block), no JSON document to build in Node
// and take apart in the server, and nothing but a void column coming back. Measured per enqueue,
// the server's CPU falls to well under half (docs/performance.md). Its guarantees are add_jobs':
// an id that exists is left as it is (ON CONFLICT DO NOTHING; the caller then reads the row), the
// queue gets its row in the same statement, and other processes are woken at commit by a
// notification of the same form as wake() sends (listen.ts reads it), only when the job was made
// and, with `onlyIfWaiting`, only when another store waits on its queue (wait-marks.ts). Without
// `queueRow` the queue's row is not looked at: for queues the store knows have one (store.ts).
import type { NewJob } from '../../core/job.js';
import { someoneWaits } from './wait-marks.js';

/**
 * Text of the statement for the schema `S` (quoted). $17 is the channel, $18 the notification;
 * with `onlyIfWaiting`, $19 the adding store's origin (its own marks do not count).
 */
export function addOneText(S: string, onlyIfWaiting: boolean, queueRow = true): string {
  return `WITH ins AS (
      INSERT INTO ${S}.jobs (id, queue, task, payload, priority, state, max_attempts, backoff, timeout, max_stalls,
        run_at, created_at, description, tags, callbacks, schedule_id)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
      ON CONFLICT (id) DO NOTHING
      RETURNING queue
    )${queueRow ? `, qs AS (
      INSERT INTO ${S}.queues (name) SELECT ins.queue FROM ins
      WHERE NOT EXISTS (SELECT 1 FROM ${S}.queues q WHERE q.name = ins.queue)
      ON CONFLICT (name) DO NOTHING
    )` : ''}
    -- A row per job made either way: the row count answers whether it was.
    SELECT ${onlyIfWaiting ? `CASE WHEN ${someoneWaits(S, 'ins.queue', '$19::text')} THEN pg_notify($17, $18) END` : 'pg_notify($17, $18)'} FROM ins`;
}

/** JSON of a json column: SQL NULL for null (and for what JSON cannot hold), as add_jobs stored it. */
const json = (v: unknown): string | null => (v === null || v === undefined ? null : (JSON.stringify(v) ?? null));

/**
 * The statement's parameters; the row count answers whether the job was made (a row comes back per
 * job made, notified or not).
 */
export function addOneValues(j: NewJob, state: 'queued' | 'scheduled', channel: string, origin: string, onlyIfWaiting: boolean): unknown[] {
  const wake = JSON.stringify({ o: origin, t: state, q: j.queue, r: j.runAt, j: null });
  const values = [
    j.id, j.queue, j.task, json(j.payload), j.priority, state, j.maxAttempts, json(j.backoff), j.timeout, j.maxStalls,
    j.runAt, j.createdAt, j.description ?? null, j.tags?.length ? JSON.stringify(j.tags) : null, json(j.callbacks),
    j.scheduleId ?? null, channel, wake,
  ];
  if (onlyIfWaiting) values.push(origin);
  return values;
}
