// Reading jobs: one by id, pages of a list (keyset cursors, list-order.ts), counts per state, logs.
import type { Job, JobState, LogLine } from '../../core/job.js';
import { JOB_STATES } from '../../core/job.js';
import { FusionError } from '../../core/errors.js';
import { emptyCounts, type ListQuery, type Page, type StateCounts } from '../../core/store.js';
import { afterCursor, orderBy, parseStateCursor, stateCursor } from '../list-order.js';
import type { PostgresContext } from './context.js';
import { num, rowToJob, type JobRow } from './rows.js';

export async function getJob(ctx: PostgresContext, id: string): Promise<Job | null> {
  const { rows } = await ctx.pool.query<JobRow>({ ...ctx.statements.get, values: [id] });
  return rows[0] ? rowToJob(rows[0]) : null;
}

export async function listJobs(ctx: PostgresContext, q: ListQuery): Promise<Page<Job>> {
  const S = ctx.quotedSchema;
  const where: string[] = [];
  const args: unknown[] = [];
  const arg = (v: unknown) => (args.push(v), `$${args.length}`);
  if (q.queue !== undefined) where.push(`queue = ${arg(q.queue)}`);
  // A known state is written as a literal: only then may the plan use that state's partial index.
  const known = q.state !== undefined && (JOB_STATES as readonly string[]).includes(q.state);
  if (q.state !== undefined) where.push(known ? `state = '${q.state}'` : `state = ${arg(q.state)}`);
  if (q.task !== undefined) where.push(`task = ${arg(q.task)}`);
  // One state: that state's own order (list-order.ts); otherwise newest first by seq.
  const state = known ? q.state! : null;
  if (q.cursor !== undefined) {
    if (state) where.push(afterCursor(state, arg, parseStateCursor(q.cursor)));
    else {
      const seq = Number.parseInt(q.cursor, 36);
      if (!Number.isFinite(seq)) throw new FusionError('invalid_cursor', 'cursor is not one this store gave', { cursor: q.cursor });
      where.push(`seq < ${arg(seq)}`);
    }
  }
  const limit = Math.min(Math.max(q.limit ?? 50, 1), 1000);
  let sql = `SELECT * FROM ${S}.jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${state ? orderBy(state) : 'seq DESC'} LIMIT ${limit + 1}`;
  if (q.queue !== undefined && q.state === undefined) {
    // One queue, every state: walking the seq index from the newest job would pass over every
    // other queue's jobs. Each state's partial index leads with the queue instead: take the newest
    // of each, then the newest of those.
    const rest = where.join(' AND ');
    sql = `SELECT * FROM (${JOB_STATES.map((x) =>
      `(SELECT * FROM ${S}.jobs WHERE state = '${x}' AND ${rest} ORDER BY seq DESC LIMIT ${limit + 1})`).join(' UNION ALL ')}) u
      ORDER BY seq DESC LIMIT ${limit + 1}`;
  }
  const { rows } = await ctx.pool.query<JobRow>(sql, args);
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page.map(rowToJob), nextCursor: more && last ? (state ? stateCursor(last as unknown as { seq: number }, state) : num(last.seq).toString(36)) : null };
}

export async function countJobs(ctx: PostgresContext, queue?: string): Promise<Record<string, StateCounts>> {
  const out: Record<string, StateCounts> = {};
  if (queue !== undefined) {
    out[queue] = emptyCounts();
    const { rows } = await ctx.pool.query<{ state: JobState; n: number }>({ ...ctx.statements.countsOf, values: [queue] });
    for (const r of rows) out[queue][r.state] = r.n;
    return out;
  }
  const { rows } = await ctx.pool.query<{ queue: string; state: JobState; n: number }>(ctx.statements.counts);
  for (const r of rows) (out[r.queue] ??= emptyCounts())[r.state] = r.n;
  return out;
}

export async function jobLogs(ctx: PostgresContext, id: string): Promise<LogLine[]> {
  const { rows } = await ctx.pool.query<{ at: number; message: string }>({ ...ctx.statements.logs, values: [id] });
  return rows.map((r) => ({ at: num(r.at), message: r.message }));
}
