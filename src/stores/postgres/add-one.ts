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
import { FIELDS, JOB_COLUMNS, jobValues } from './encode.js';
import { wakeNote } from './listen.js';
import { someoneWaits } from './wait-marks.js';

/** $1 ... the job's columns (JOB_COLUMNS), then the channel, the notification and the origin. */
const N = FIELDS.length + 3;

/**
 * Text of the statement for the schema `S` (quoted): the job's columns, then the channel, the
 * notification and, with `onlyIfWaiting`, the adding store's origin (its own marks do not count).
 */
export function addOneText(S: string, onlyIfWaiting: boolean, queueRow = true): string {
  const notify = `pg_notify($${N + 1}, $${N + 2})`;
  return `WITH ins AS (
      INSERT INTO ${S}.jobs (${JOB_COLUMNS})
      VALUES (${Array.from({ length: N }, (_, k) => `$${k + 1}`).join(', ')})
      ON CONFLICT (id) DO NOTHING
      RETURNING queue
    )${queueRow ? `, qs AS (
      INSERT INTO ${S}.queues (name) SELECT ins.queue FROM ins
      WHERE NOT EXISTS (SELECT 1 FROM ${S}.queues q WHERE q.name = ins.queue)
      ON CONFLICT (name) DO NOTHING
    )` : ''}
    -- A row per job made either way: the row count answers whether it was.
    SELECT ${onlyIfWaiting ? `CASE WHEN ${someoneWaits(S, 'ins.queue', `$${N + 3}::text`)} THEN ${notify} END` : notify} FROM ins`;
}

/**
 * The statement's parameters; the row count answers whether the job was made (a row comes back per
 * job made, notified or not).
 */
export function addOneValues(j: NewJob, state: 'queued' | 'scheduled', channel: string, origin: string, onlyIfWaiting: boolean): unknown[] {
  const values = [...jobValues(j, state), channel, wakeNote(origin, state, j.queue, j.runAt)];
  if (onlyIfWaiting) values.push(origin);
  return values;
}
