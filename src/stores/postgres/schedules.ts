// Schedules: saving (with an optional compare-and-set on the version and creation time), reading,
// the due ones, and the advance that fires an occurrence's jobs in the same transaction.
import { ScheduleConflict, type AdvanceSchedule, type SaveSchedule, type ScheduleRecord, type StoreEvent } from '../../core/store.js';
import { FusionError } from '../../core/errors.js';
import type { StoredSpec } from '../../core/schedule-spec.js';
import type { PostgresContext } from './context.js';
import { insertJobs } from './jobs-in.js';
import { numOrNull, rowToSchedule, type ScheduleRow } from './rows.js';
import { untextableField } from './text.js';

export async function saveSchedule(
  ctx: PostgresContext, { schedule: rec, now, expectedVersion, expectedCreatedAt }: SaveSchedule,
): Promise<ScheduleRecord> {
  // Its occurrences could never be added (insertJobs refuses a NUL in a job's text): refused now,
  // rather than stored and then failing at every pass of every scheduler.
  const template = (rec.spec as Partial<StoredSpec> | null)?.template;
  const field = template ? untextableField(template) : null;
  if (field) throw new FusionError('invalid_schedule', `template.${field} must not contain a NUL character (\\u0000): PostgreSQL text cannot hold one`, { field: `template.${field}` });
  const values = [rec.id, JSON.stringify(rec.spec), rec.nextRunAt, rec.paused, rec.runCount ?? null, rec.lastRunAt ?? null, now];
  if (expectedVersion === undefined) {
    const { rows } = await ctx.pool.query<ScheduleRow>({ ...ctx.statements.schedUpsert, values });
    return rowToSchedule(rows[0]!);
  }
  // One statement either way, so the check and the write are one atomic step: create only if
  // absent (version 0), else update only the version (and incarnation, if given) that was read.
  const { rows } = expectedVersion === 0
    ? await ctx.pool.query<ScheduleRow>(ctx.statements.schedCreate, values)
    : await ctx.pool.query<ScheduleRow>(ctx.statements.schedUpdate, [...values, expectedVersion, expectedCreatedAt ?? null]);
  if (rows[0]) return rowToSchedule(rows[0]);
  const current = await getSchedule(ctx, rec.id);
  throw new ScheduleConflict(rec.id, expectedVersion, current?.version ?? 0);
}

export async function getSchedule(ctx: PostgresContext, id: string): Promise<ScheduleRecord | null> {
  const { rows } = await ctx.pool.query<ScheduleRow>({ ...ctx.statements.schedGet, values: [id] });
  return rows[0] ? rowToSchedule(rows[0]) : null;
}

export async function listSchedules(ctx: PostgresContext): Promise<ScheduleRecord[]> {
  return (await ctx.pool.query<ScheduleRow>(ctx.statements.schedAll)).rows.map(rowToSchedule);
}

export async function removeSchedule(ctx: PostgresContext, id: string, expected?: { version: number; createdAt: number }): Promise<boolean> {
  const r = expected
    ? await ctx.pool.query(ctx.statements.schedRemoveAt, [id, expected.version, expected.createdAt])
    : await ctx.pool.query(ctx.statements.schedRemove, [id]);
  return (r.rowCount ?? 0) === 1;
}

export async function dueSchedules(ctx: PostgresContext, now: number, limit: number): Promise<ScheduleRecord[]> {
  return (await ctx.pool.query<ScheduleRow>({ ...ctx.statements.schedDue, values: [now, limit] })).rows.map(rowToSchedule);
}

export async function nextScheduleAt(ctx: PostgresContext): Promise<number | null> {
  const { rows } = await ctx.pool.query<{ t: number | null }>(ctx.statements.schedNext);
  return numOrNull(rows[0]?.t ?? null);
}

/** Compare-and-set on the version (and creation time, if given), and the jobs, in one transaction: an occurrence fires once. */
export async function advanceSchedule(ctx: PostgresContext, { id, expectedVersion, expectedCreatedAt, next, jobs, now }: AdvanceSchedule): Promise<boolean> {
  const events: StoreEvent[] = [];
  const ok = await ctx.tx(async (c) => {
    const values = [id, expectedVersion, next.nextRunAt, next.runCount, next.lastRunAt, now, expectedCreatedAt ?? null];
    const r = await c.query(ctx.statements.schedAdvance, values);
    if (r.rowCount !== 1) return false;
    if (jobs.length) await insertJobs(ctx, c, jobs, now, ctx.origin, events);
    return true;
  });
  ctx.emit(events);
  return ok;
}
