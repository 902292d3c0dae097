// Operator actions on one job (API, dashboard, terminal) and the cleaning of finished jobs. Each
// action locks the job's row in a short transaction; which state allows which action, and the
// refusal otherwise, are the core's (guardAction).
import type pg from 'pg';
import { guardAction } from '../../core/state-rules.js';
import { FINISHED_STATES, isFinished, type Job, type JobState } from '../../core/job.js';
import { notFound } from '../../core/errors.js';
import { WORK_EVENTS, type CleanQuery, type StoreEvent } from '../../core/store.js';
import type { PostgresContext } from './context.js';
import { rowToJob, type JobRow } from './rows.js';

/** Lock one job for an operator action; not found is a 404. */
async function lockJob(ctx: PostgresContext, c: pg.PoolClient, id: string): Promise<JobRow> {
  const { rows } = await c.query<JobRow>(ctx.statements.lock, [id]);
  if (!rows[0]) throw notFound('job', id);
  return rows[0];
}

/**
 * An operator action on one job: lock its row, let `act` check the state and change it, then send
 * the event it answers to this process's listeners and, when it brings work, to other processes
 * (NOTIFY, at commit).
 */
async function actOnJob(
  ctx: PostgresContext, id: string, act: (c: pg.PoolClient, row: JobRow) => Promise<{ row: JobRow; event: StoreEvent }>,
): Promise<Job> {
  let event: StoreEvent | undefined;
  const job = await ctx.tx(async (c) => {
    const done = await act(c, await lockJob(ctx, c, id));
    if (WORK_EVENTS.has(done.event.type)) await ctx.share(c, done.event);
    event = done.event;
    return rowToJob(done.row);
  });
  ctx.emit([event!]);
  return job;
}

export function cancelJob(ctx: PostgresContext, id: string, now: number): Promise<Job> {
  return actOnJob(ctx, id, async (c, row) => {
    // An active job is asked to stop; its worker ends it.
    if (row.state === 'active') {
      const { rows } = await c.query<JobRow>(ctx.statements.requestCancel, [id]);
      return { row: rows[0]!, event: { type: 'cancel-requested', queue: row.queue, jobId: id, at: now } };
    }
    guardAction('cancel', id, row.state as JobState);
    const { rows } = await c.query<JobRow>(ctx.statements.cancel, [id, now]);
    return { row: rows[0]!, event: { type: 'cancelled', queue: row.queue, jobId: id, at: now } };
  });
}

export function rescheduleJob(ctx: PostgresContext, id: string, runAt: number, now: number): Promise<Job> {
  return actOnJob(ctx, id, async (c, row) => {
    guardAction('reschedule', id, row.state as JobState);
    const state = runAt > now ? 'scheduled' : 'queued';
    const { rows } = await c.query<JobRow>(ctx.statements.reschedule, [id, state, runAt]);
    return { row: rows[0]!, event: { type: state, queue: row.queue, jobId: id, at: now, runAt } };
  });
}

export function promoteJob(ctx: PostgresContext, id: string, now: number): Promise<Job> {
  return actOnJob(ctx, id, async (c, row) => {
    guardAction('promote', id, row.state as JobState);
    const { rows } = await c.query<JobRow>(ctx.statements.promote, [id, now]);
    return { row: rows[0]!, event: { type: 'queued', queue: row.queue, jobId: id, at: now } };
  });
}

export function retryJob(ctx: PostgresContext, id: string, now: number, resetAttempts: boolean): Promise<Job> {
  return actOnJob(ctx, id, async (c, row) => {
    guardAction('retry', id, row.state as JobState);
    const { rows } = await c.query<JobRow>(ctx.statements.retry, [id, now, resetAttempts]);
    return { row: rows[0]!, event: { type: 'queued', queue: row.queue, jobId: id, at: now } };
  });
}

export async function removeJob(ctx: PostgresContext, id: string, now: number): Promise<void> {
  const events: StoreEvent[] = [];
  await ctx.tx(async (c) => {
    const row = await lockJob(ctx, c, id);
    guardAction('remove', id, row.state as JobState);
    await c.query(ctx.statements.deleteJob, [id]);
    await c.query(ctx.statements.deleteLogs, [id]);
    events.push({ type: 'removed', queue: row.queue, jobId: id, at: now });
  });
  ctx.emit(events);
}

/** Finished jobs removed in one bounded statement (with their log lines): retention never holds the table for long. */
export async function cleanJobs(ctx: PostgresContext, q: CleanQuery): Promise<number> {
  const states = (q.states ?? FINISHED_STATES).filter((s) => isFinished(s));
  if (states.length === 0) return 0;
  const limit = Math.min(Math.max(q.limit ?? 1000, 1), 100_000);
  const args: unknown[] = [states, q.endedBefore, limit];
  let queue = '';
  if (q.queue !== undefined) (args.push(q.queue), (queue = 'AND queue = $4'));
  const S = ctx.quotedSchema;
  const { rows } = await ctx.pool.query<{ n: number }>(
    `WITH d AS (
       DELETE FROM ${S}.jobs WHERE seq = ANY (ARRAY(SELECT seq FROM ${S}.jobs
         WHERE state = ANY ($1::text[]) AND ended_at IS NOT NULL AND ended_at < $2 ${queue} LIMIT $3 FOR UPDATE SKIP LOCKED))
       RETURNING id
     ), l AS (DELETE FROM ${S}.job_logs WHERE job_id IN (SELECT id FROM d))
     SELECT count(*)::integer AS n FROM d`,
    args,
  );
  return rows[0]!.n;
}
