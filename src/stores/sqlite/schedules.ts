// Schedules: save (optionally only at an expected version and creation time), read, remove, the due
// ones, and the advance that adds a schedule's jobs in the same transaction as its version check.
import { ScheduleConflict, type AdvanceSchedule, type SaveSchedule, type ScheduleRecord, type StoreEvent } from '../../core/store.js';
import type { SqliteConnection } from './connection.js';
import { insertJobs } from './jobs-in.js';
import { rowToSchedule, type ScheduleRow } from './rows.js';

export function saveSchedule(conn: SqliteConnection, { schedule: rec, now, expectedVersion, expectedCreatedAt }: SaveSchedule): ScheduleRecord {
  const row = conn.tx(() => {
    if (expectedVersion !== undefined) {
      const stored = conn.statements.scheduleById.get(rec.id) as ScheduleRow | undefined;
      const version = stored?.version ?? 0;
      // The same version of another incarnation (removed and created again) is a conflict too.
      const otherIncarnation = expectedVersion > 0 && expectedCreatedAt !== undefined && stored?.created_at !== expectedCreatedAt;
      if (version !== expectedVersion || otherIncarnation) throw new ScheduleConflict(rec.id, expectedVersion, version);
    }
    return conn.statements.upsertSchedule.get({
      id: rec.id, spec: JSON.stringify(rec.spec), nextRunAt: rec.nextRunAt, paused: rec.paused ? 1 : 0,
      runCount: rec.runCount ?? 0, lastRunAt: rec.lastRunAt ?? null, now,
      runCountSet: rec.runCount ?? null, lastRunAtSet: rec.lastRunAt ?? null,
    }) as ScheduleRow;
  });
  return rowToSchedule(row);
}

export function getSchedule(conn: SqliteConnection, id: string): ScheduleRecord | null {
  const r = conn.statements.scheduleById.get(id) as ScheduleRow | undefined;
  return r ? rowToSchedule(r) : null;
}

export function listSchedules(conn: SqliteConnection): ScheduleRecord[] {
  return (conn.statements.allSchedules.all() as ScheduleRow[]).map(rowToSchedule);
}

export function removeSchedule(conn: SqliteConnection, id: string, expected?: { version: number; createdAt: number }): boolean {
  const s = conn.statements;
  return (expected ? s.deleteScheduleAt.run(id, expected.version, expected.createdAt) : s.deleteSchedule.run(id)).changes === 1;
}

export function dueSchedules(conn: SqliteConnection, now: number, limit: number): ScheduleRecord[] {
  return (conn.statements.dueSchedules.all(now, limit) as ScheduleRow[]).map(rowToSchedule);
}

export function nextScheduleAt(conn: SqliteConnection): number | null {
  return (conn.statements.nextScheduleAt.get() as { t: number | null }).t;
}

/**
 * Advance a schedule at `expectedVersion` (and `expectedCreatedAt`, when given) and add its jobs, all
 * or nothing; false if the version moved or the schedule was created again.
 */
export function advanceSchedule(conn: SqliteConnection, { id, expectedVersion, expectedCreatedAt, next, jobs, now }: AdvanceSchedule): boolean {
  const events: StoreEvent[] = [];
  const ok = conn.tx(() => {
    const params = { id, version: expectedVersion, createdAt: expectedCreatedAt ?? null, now, ...next };
    const changed = conn.statements.advanceSchedule.run(params).changes === 1;
    if (changed && jobs.length) insertJobs(conn, jobs, now, events);
    return changed;
  });
  conn.emit(events);
  return ok;
}
