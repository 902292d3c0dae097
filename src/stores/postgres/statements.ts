// Every statement of the PostgreSQL store, written once per schema. The named ones are prepared on
// each connection at first use (pg keeps them per connection by name); the unnamed ones are run
// rarely enough (operator calls, listings) not to need it.
import { JOB_STATES } from '../../core/job.js';
import { addManyCarefulText, addManyText } from './add-many.js';
import { addOneText } from './add-one.js';

/** A statement pg prepares once per connection, under its name. */
export interface NamedStatement {
  name: string;
  text: string;
}

/** The server's clock, epoch ms (core/shared-clock.ts reads it: every process goes by it). */
export const SERVER_TIME_MS = 'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms';

/** `quotedSchema` is the schema as a quoted SQL identifier (quoteIdent), `schema` its plain name. */
export function storeStatements(quotedSchema: string, schema: string) {
  const S = quotedSchema; // short: it prefixes every table below
  const st = (name: string, text: string): NamedStatement => ({ name, text });
  return {
    // Through this store's connections: notify only other stores that wait (wait-marks.ts).
    addMany: st('fusion_add_many', addManyText(S, true)),
    addManyCareful: st('fusion_add_many_careful', addManyCarefulText(S, true)),
    addOne: st('fusion_add_one', addOneText(S, true)),
    addOneKnownQueue: st('fusion_add_one_known_queue', addOneText(S, true, false)),
    // In a caller's transaction (`{ tx }`), on its client: always notify, and leave `waiting`
    // unlocked (a long transaction of theirs would hold up a worker's mark_waiting barrier).
    // Statement names are per connection: such a client may serve stores of other schemas too.
    addManyCarefulTx: st(`fusion_add_many_${schema}`, addManyCarefulText(S, false)),
    addOneTx: st(`fusion_add_one_${schema}`, addOneText(S, false)),
    jobsByIds: `SELECT * FROM ${S}.jobs WHERE id = ANY ($1::text[])`,
    jobById: `SELECT * FROM ${S}.jobs WHERE id = $1`,
    // A claim alone does not wait for its commit's flush (synchronous_commit off for its own
    // transaction): should the server crash before the WAL writer flushes it (well under a second),
    // the jobs are queued again as if never claimed and run again, which at-least-once allows; the
    // worker's heartbeat or finish then finds its token gone. Outcomes (finish, finish_claim) and
    // adds still wait for the disk, and flushing one flushes every claim before it.
    claim: st('fusion_claim', `SELECT c.* FROM set_config('synchronous_commit', 'off', true) s,
      ${S}.claim_jobs($1, $2, $3, $4, $5, $6) c`),
    finish: st('fusion_finish', `SELECT * FROM ${S}.finish_jobs($1, $2, $3)`),
    finishClaim: st('fusion_finish_claim', `SELECT * FROM ${S}.finish_claim($1, $2, $3, $4, $5, $6, $7, $8, $9)`),
    // A heartbeat finds its jobs by primary key (id = ANY) and checks the lease by its token alone,
    // as finish_jobs does since migration 009 (a job holds a token only while active). Joined with
    // `state = 'active'`, the planner, told by statistics of a quiet moment that few jobs are
    // active, read every active job through the jobs_active index and hashed them: 1,010 rows for
    // a heartbeat of 10 leases (docs/performance.md). Its rows are locked in id order first, as
    // finish_jobs locks an outcome batch's (migration 011): locked in heap order against a batch's
    // completion order, the two deadlocked, and the 1 s deadlock_timeout let live leases lapse.
    heartbeat: st('fusion_heartbeat', `UPDATE ${S}.jobs j SET lease_until = $1 FROM unnest($2::text[], $3::text[]) AS l(id, token)
      WHERE j.id = ANY (ARRAY(SELECT k.id FROM ${S}.jobs k WHERE k.id = ANY ($2::text[]) ORDER BY k.id FOR NO KEY UPDATE))
        AND j.id = l.id AND j.lease_token = l.token RETURNING j.id, j.cancel_requested`),
    progress: st('fusion_progress', `UPDATE ${S}.jobs SET progress = $1 WHERE id = $2 AND lease_token = $3 AND state = 'active' RETURNING queue`),
    // Only for a job still held (a late delivery report's line would outlive its job: nothing removes it);
    // the key-share lock waits out a remove of the job under way, and then finds it gone.
    // A job keeps its newest $4 lines: the DELETE sees the lines before this one, so it keeps $4 - 1 of them.
    log: st('fusion_log', `WITH ins AS (INSERT INTO ${S}.job_logs (job_id, at, message) SELECT id, $2, $3 FROM ${S}.jobs WHERE id = $1 FOR KEY SHARE RETURNING n)
      DELETE FROM ${S}.job_logs WHERE job_id = $1 AND EXISTS (SELECT 1 FROM ins)
        AND n <= (SELECT n FROM ${S}.job_logs WHERE job_id = $1 ORDER BY n DESC OFFSET $4::int - 1 LIMIT 1)`),
    logs: st('fusion_logs', `SELECT at, message FROM ${S}.job_logs WHERE job_id = $1 ORDER BY n`),
    recover: st('fusion_recover', `SELECT * FROM ${S}.recover_expired($1, $2, $3, $4, $5)`),
    promoteDue: st('fusion_promote_due', `WITH p AS (
        UPDATE ${S}.jobs SET state = 'queued' WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${S}.jobs
          WHERE state = 'scheduled' AND run_at <= $1 ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED))
        RETURNING id, queue
      ), w AS (SELECT ${S}.wake($3, 'queued', queue, NULL, NULL) FROM p GROUP BY queue)
      SELECT p.id, p.queue FROM p, (SELECT count(*) FROM w) c`),
    get: st('fusion_get', `SELECT * FROM ${S}.jobs WHERE id = $1`),
    lock: `SELECT * FROM ${S}.jobs WHERE id = $1 FOR UPDATE`,
    wake: `SELECT ${S}.wake($1, $2, $3, $4, $5)`,
    // Operator actions (operator.ts), each on a row locked by `lock`.
    requestCancel: `UPDATE ${S}.jobs SET cancel_requested = true WHERE id = $1 RETURNING *`,
    cancel: `UPDATE ${S}.jobs SET state = 'cancelled', ended_at = $2, cancel_requested = false WHERE id = $1 RETURNING *`,
    reschedule: `UPDATE ${S}.jobs SET state = $2, run_at = $3, ended_at = NULL, cancel_requested = false WHERE id = $1 RETURNING *`,
    promote: `UPDATE ${S}.jobs SET state = 'queued', run_at = $2 WHERE id = $1 RETURNING *`,
    retry: `UPDATE ${S}.jobs SET state = 'queued', run_at = $2, ended_at = NULL, error = NULL, result = NULL,
        cancel_requested = false, stalls = 0, attempts = CASE WHEN $3 THEN 0 ELSE attempts END,
        max_attempts = CASE WHEN $3 THEN max_attempts ELSE greatest(max_attempts, attempts + 1) END
      WHERE id = $1 RETURNING *`,
    deleteJob: `DELETE FROM ${S}.jobs WHERE id = $1`,
    deleteLogs: `DELETE FROM ${S}.job_logs WHERE job_id = $1`,
    // One count per state, each from that state's partial index (queue leads every one of them):
    // index-only scans of the state's entries, never a pass over the whole table's rows.
    counts: st('fusion_counts', JOB_STATES.map((x) =>
      `SELECT queue, '${x}' AS state, count(*)::integer AS n FROM ${S}.jobs WHERE state = '${x}' GROUP BY queue`).join(' UNION ALL ')),
    countsOf: st('fusion_counts_of', JOB_STATES.map((x) =>
      `SELECT '${x}' AS state, count(*)::integer AS n FROM ${S}.jobs WHERE state = '${x}' AND queue = $1`).join(' UNION ALL ')),
    // Per queue through the ready index: only that queue's queued jobs are read.
    oldestQueued: `SELECT q.name AS queue, o.t FROM ${S}.queues q
      CROSS JOIN LATERAL (SELECT min(created_at) AS t FROM ${S}.jobs WHERE state = 'queued' AND queue = q.name) o WHERE o.t IS NOT NULL`,
    ensureQueue: `INSERT INTO ${S}.queues (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`,
    setPaused: `INSERT INTO ${S}.queues (name, paused) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET paused = excluded.paused`,
    // The window's start and count stay: resetting them let a limit saved again start as many jobs again at once.
    setRateLimit: `UPDATE ${S}.queues SET rate_max = $2, rate_window_ms = $3 WHERE name = $1`,
    setConcurrency: `UPDATE ${S}.queues SET concurrency = $2 WHERE name = $1`,
    allQueues: `SELECT * FROM ${S}.queues ORDER BY name COLLATE "C"`,
    queueNames: `SELECT name FROM ${S}.queues`,
    schedGet: st('fusion_sched_get', `SELECT * FROM ${S}.schedules WHERE id = $1`),
    schedAll: `SELECT * FROM ${S}.schedules ORDER BY id COLLATE "C"`,
    schedUpsert: st('fusion_sched_upsert', `INSERT INTO ${S}.schedules AS s (id, spec, next_run_at, paused, run_count, last_run_at,
        created_at, updated_at, version) VALUES ($1, $2, $3, $4, coalesce($5::integer, 0), $6, $7, $7, 1)
      ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, next_run_at = excluded.next_run_at, paused = excluded.paused,
        run_count = coalesce($5::integer, s.run_count), last_run_at = coalesce($6::bigint, s.last_run_at),
        updated_at = excluded.updated_at, version = s.version + 1
      RETURNING *`),
    // Compare-and-set saves (saveSchedule with expectedVersion): create only if absent, or update
    // only the version that was read (and, given $9, the incarnation: a schedule created again starts
    // at version 1 again); one statement each, so check and write are one atomic step.
    schedCreate: `INSERT INTO ${S}.schedules (id, spec, next_run_at, paused, run_count, last_run_at,
        created_at, updated_at, version) VALUES ($1, $2, $3, $4, coalesce($5::integer, 0), $6, $7, $7, 1)
      ON CONFLICT (id) DO NOTHING RETURNING *`,
    schedUpdate: `UPDATE ${S}.schedules SET spec = $2, next_run_at = $3, paused = $4,
        run_count = coalesce($5::integer, run_count), last_run_at = coalesce($6::bigint, last_run_at), updated_at = $7,
        version = version + 1 WHERE id = $1 AND version = $8 AND ($9::bigint IS NULL OR created_at = $9) RETURNING *`,
    schedRemove: `DELETE FROM ${S}.schedules WHERE id = $1`,
    schedRemoveAt: `DELETE FROM ${S}.schedules WHERE id = $1 AND version = $2 AND created_at = $3`,
    schedDue: st('fusion_sched_due', `SELECT * FROM ${S}.schedules WHERE NOT paused AND next_run_at IS NOT NULL AND next_run_at <= $1
      ORDER BY next_run_at, id COLLATE "C" LIMIT $2`),
    schedNext: st('fusion_sched_next', `SELECT min(next_run_at) AS t FROM ${S}.schedules WHERE NOT paused AND next_run_at IS NOT NULL`),
    schedAdvance: `UPDATE ${S}.schedules SET next_run_at = $3, run_count = $4, last_run_at = $5, updated_at = $6,
      version = version + 1 WHERE id = $1 AND version = $2 AND ($7::bigint IS NULL OR created_at = $7)`,
    workerBeat: st('fusion_worker_beat', `INSERT INTO ${S}.workers (id, info, expires_at) VALUES ($1, $2, $3)
      ON CONFLICT (id) DO UPDATE SET info = excluded.info, expires_at = excluded.expires_at`),
    workerGone: `DELETE FROM ${S}.workers WHERE id = $1`,
    workersLive: `WITH gone AS (DELETE FROM ${S}.workers WHERE expires_at < $1)
      SELECT info FROM ${S}.workers WHERE expires_at >= $1 ORDER BY id COLLATE "C"`,
  };
}

export type Statements = ReturnType<typeof storeStatements>;
