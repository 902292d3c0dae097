// Adding jobs: one job through its own statement (add-one.ts), several as arrays of columns
// (add-many.ts), through the store's pool or a caller's client inside its own transaction.
import type pg from 'pg';
import type { Job, JobState, NewJob } from '../../core/job.js';
import { newJobView } from '../../core/job.js';
import { conflict, FusionError } from '../../core/errors.js';
import type { StoreEvent } from '../../core/store.js';
import { addManyCarefulValues, addManyValues } from './add-many.js';
import { addOneValues } from './add-one.js';
import type { PostgresContext, Queryable } from './context.js';
import { rowToJob, type JobRow } from './rows.js';
import { untextableField } from './text.js';

export type Added = { job: Job; created: boolean };

/** SQLSTATE of a duplicate key: an id that exists, or one given twice. */
const UNIQUE_VIOLATION = '23505';
/** SQLSTATE of a deadlock the server broke by ending this statement. */
const DEADLOCK = '40P01';
/** Tries of a many-job add that the server ends for a deadlock. */
const DEADLOCK_TRIES = 3;

/** The store's addJobs: through the pool, or through `tx`, a caller's pg client in its transaction. */
export async function addJobs(ctx: PostgresContext, jobs: NewJob[], now: number, tx: unknown): Promise<Added[]> {
  if (tx !== undefined) {
    // The caller's transaction: its commit publishes the jobs, and their notification reaches
    // every store's listener (this one's too, so origin '' is used), a rollback neither.
    const client = tx as pg.ClientBase;
    if (!client || typeof client.query !== 'function') {
      throw new FusionError('invalid_tx', 'tx must be a pg client (PoolClient or Client) inside a transaction', {});
    }
    return insertJobs(ctx, client, jobs, now, '', null);
  }
  const events: StoreEvent[] = [];
  const out = await insertJobs(ctx, ctx.pool, jobs, now, ctx.origin, events);
  ctx.emit(events);
  return out;
}

/**
 * Insert through `db` (the pool, one of its connections, or a caller's client: origin '');
 * events for the created ones go to `events`.
 */
export async function insertJobs(ctx: PostgresContext, db: Queryable, jobs: NewJob[], now: number, origin: string, events: StoreEvent[] | null): Promise<Added[]> {
  if (jobs.length === 0) return [];
  // Refused here with the field named (the API's 400), not by the server: its 22021 was a 500.
  for (const j of jobs) {
    const field = untextableField(j);
    if (field) throw new FusionError('invalid_job', `${field} must not contain a NUL character (\\u0000): PostgreSQL text cannot hold one`, { field });
  }
  if (jobs.length === 1) return [await insertOne(ctx, db, jobs[0]!, now, origin, events)];
  const answer = await insertMany(ctx, db, jobs, now, origin);
  const existing = new Map<string, JobRow>();
  if (answer.existing?.length) {
    // Ids that existed: their rows, committed by now, as the caller gets them back.
    const { rows } = await db.query<JobRow>(ctx.statements.jobsByIds, [answer.existing]);
    for (const r of rows) existing.set(r.id, r);
  }
  const out: Added[] = [];
  const made = new Map<string, Job>();
  for (const j of jobs) {
    const row = existing.get(j.id);
    if (row) {
      out.push({ job: rowToJob(row), created: false });
      continue;
    }
    const first = made.get(j.id);
    if (first) {
      // The same id twice in one call is one job: the first made it.
      out.push({ job: first, created: false });
      continue;
    }
    const state: JobState = j.runAt > now ? 'scheduled' : 'queued';
    const job = newJobView(j, state);
    made.set(j.id, job);
    out.push({ job, created: true });
    events?.push({ type: state, queue: j.queue, jobId: j.id, at: now, runAt: j.runAt });
  }
  return out;
}

/**
 * Several jobs: the plain insert (add-many.ts), or, in a transaction or when an id exists or
 * repeats, the careful one; `existing` lists the ids not made.
 */
async function insertMany(ctx: PostgresContext, db: Queryable, jobs: NewJob[], now: number, origin: string): Promise<{ existing: string[] | null }> {
  const sql = ctx.statements;
  // Only on the pool, where the statement is its own transaction: inside one (a schedule's advance,
  // a caller's), a failed statement would abort it.
  if (db === ctx.pool) {
    const newQueues = [...new Set(jobs.map((j) => j.queue))].filter((q) => !ctx.hasQueueRow(q));
    try {
      await db.query({ ...sql.addMany, values: addManyValues(jobs, now, ctx.workChannel, origin, newQueues, true) });
      for (const q of newQueues) ctx.knowQueue(q);
      return { existing: null };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== UNIQUE_VIOLATION && code !== DEADLOCK) throw err;
    }
  }
  const statement = origin === '' ? sql.addManyCarefulTx : sql.addManyCareful;
  for (let attempt = 1; ; attempt++) {
    try {
      const { rows: [answer] } = await db.query<{ existing: string[] | null }>({
        ...statement, values: addManyCarefulValues(jobs, now, ctx.workChannel, origin),
      });
      return { existing: answer?.existing ?? null };
    } catch (err) {
      // Adds of the same ids in other orders wait on each other's uncommitted keys, and the server
      // ends one of two that wait in a circle: nothing of it was written, and once the other has
      // committed its ids answer as existing. Only on the pool (a caller's transaction is aborted).
      if (db !== ctx.pool || (err as { code?: string }).code !== DEADLOCK || attempt >= DEADLOCK_TRIES) throw err;
    }
  }
}

/** One job through its own statement (add-one.ts); an id that exists answers with its row. */
async function insertOne(ctx: PostgresContext, db: Queryable, j: NewJob, now: number, origin: string, events: StoreEvent[] | null): Promise<Added> {
  const state: JobState = j.runAt > now ? 'scheduled' : 'queued';
  const ours = origin !== '';
  const sql = ctx.statements;
  const statement = !ours ? sql.addOneTx : ctx.hasQueueRow(j.queue) ? sql.addOneKnownQueue : sql.addOne;
  const values = addOneValues(j, state, ctx.workChannel, origin, ours);
  // Not made: the id exists. Read it; should it be removed in between, the insert goes again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const { rowCount } = await db.query({ ...statement, values });
    if (rowCount === 1) {
      // Made and committed (the pool's statements commit on their own): so is its queue's row.
      if (db === ctx.pool) ctx.knowQueue(j.queue);
      events?.push({ type: state, queue: j.queue, jobId: j.id, at: now, runAt: j.runAt });
      return { job: newJobView(j, state), created: true };
    }
    const { rows } = await db.query<JobRow>(sql.jobById, [j.id]);
    if (rows[0]) return { job: rowToJob(rows[0]), created: false };
  }
  throw conflict(`job ${j.id} exists and is removed again each time it is read`, { id: j.id });
}
