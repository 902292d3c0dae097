// The order of a one-state job list (the Store contract's, see ListQuery in core/store.ts) for the
// SQL stores, with a keyset cursor: (the state's sort column, seq) of the last row of a page.
// Redis keeps these orders in its per-state ZSETs; SQLite and PostgreSQL read them from the
// per-state partial indexes (queued: jobs_ready, scheduled: jobs_due, active: jobs_active,
// finished: jobs_<state>_end), so a page costs an index range whatever its depth.
import type { JobState } from '../core/job.js';
import { FusionError } from '../core/errors.js';

interface StateOrder {
  col: 'priority' | 'run_at' | 'lease_until' | 'ended_at';
  colDesc: boolean;
  seqDesc: boolean;
}

export const STATE_ORDER: Record<JobState, StateOrder> = {
  // Run order: the order claims take them.
  queued: { col: 'priority', colDesc: true, seqDesc: false },
  scheduled: { col: 'run_at', colDesc: false, seqDesc: false },
  active: { col: 'lease_until', colDesc: false, seqDesc: false },
  // Finished: the latest to end first.
  completed: { col: 'ended_at', colDesc: true, seqDesc: true },
  failed: { col: 'ended_at', colDesc: true, seqDesc: true },
  cancelled: { col: 'ended_at', colDesc: true, seqDesc: true },
};

export function orderBy(state: JobState): string {
  const o = STATE_ORDER[state];
  return `${o.col} ${o.colDesc ? 'DESC' : 'ASC'}, seq ${o.seqDesc ? 'DESC' : 'ASC'}`;
}

/** The rows after a cursor, as SQL whose placeholders `ph` makes (column value and seq). */
export function afterCursor(state: JobState, ph: (v: number) => string, cursor: { v: number; seq: number }): string {
  const o = STATE_ORDER[state];
  // Placeholders are made in the order they appear in the SQL (SQLite's ? are positional).
  if (o.colDesc === o.seqDesc) return `(${o.col}, seq) ${o.colDesc ? '<' : '>'} (${ph(cursor.v)}, ${ph(cursor.seq)})`;
  // Mixed directions (queued: priority down, seq up).
  const v1 = ph(cursor.v);
  const v2 = ph(cursor.v);
  const s = ph(cursor.seq);
  return `(${o.col} ${o.colDesc ? '<' : '>'} ${v1} OR (${o.col} = ${v2} AND seq ${o.seqDesc ? '<' : '>'} ${s}))`;
}

export function stateCursor(row: { seq: number | string; [k: string]: unknown }, state: JobState): string {
  const v = Number(row[STATE_ORDER[state].col] ?? 0);
  return `${v.toString(36)}.${Number(row.seq).toString(36)}`;
}

export function parseStateCursor(c: string): { v: number; seq: number } {
  const m = /^(-?[0-9a-z]+)\.([0-9a-z]+)$/.exec(c);
  const v = m ? Number.parseInt(m[1]!, 36) : NaN;
  const seq = m ? Number.parseInt(m[2]!, 36) : NaN;
  if (!Number.isSafeInteger(v) || !Number.isSafeInteger(seq)) throw new FusionError('invalid_cursor', 'cursor is not one this store gave', { cursor: c });
  return { v, seq };
}
