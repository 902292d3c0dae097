// SQLite adds: jobs alike in all but their payload and creation time (an HTTP group commit, whose
// requests each read the clock) go in by one INSERT, each row with its own created_at and run_at;
// a job whose times the shared INSERT cannot give back exactly goes in alone, its times as they are.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteConnection } from '../../src/stores/sqlite/connection.js';
import { addJobs } from '../../src/stores/sqlite/jobs-in.js';
import { resolveSpec } from '../../src/core/spec.js';
import type { JobSpec } from '../../src/core/job.js';

const T0 = 1_700_000_000_000;

function withConnection(fn: (conn: SqliteConnection) => void): void {
  const conn = new SqliteConnection(':memory:');
  try {
    fn(conn);
  } finally {
    conn.db.close();
  }
}

const job = (createdAt: number, spec: Partial<JobSpec> = {}) => resolveSpec({ task: 't', queue: 'q', ...spec }, createdAt);
const rows = (conn: SqliteConnection) =>
  conn.db.prepare(`SELECT id, payload, state, run_at, created_at FROM jobs ORDER BY seq`).all() as { id: string; payload: string; state: string; run_at: number; created_at: number }[];

describe('sqlite store: adds of alike jobs', () => {
  it('puts jobs made in different milliseconds, with one delay, in one INSERT, each with its own times', () => withConnection((conn) => {
    const now = T0 + 10;
    const jobs = [job(T0, { payload: 0 }), job(T0 + 1, { payload: 1 }), job(T0 + 1, { payload: 2 }), job(T0 + 3, { payload: 3 })];
    const added = addJobs(conn, jobs, now);
    assert.deepEqual([...conn.insertsBySize.keys()], [4], 'one INSERT of four rows');
    assert.deepEqual(rows(conn).map((r) => [r.payload, r.state, r.run_at, r.created_at]), [
      ['0', 'queued', T0, T0], ['1', 'queued', T0 + 1, T0 + 1], ['2', 'queued', T0 + 1, T0 + 1], ['3', 'queued', T0 + 3, T0 + 3],
    ]);
    assert.deepEqual(added.map((a) => [a.job.id, a.job.runAt, a.job.createdAt]), rows(conn).map((r) => [r.id, r.run_at, r.created_at]));
  }));

  it('starts another INSERT where the delay or the state differs', () => withConnection((conn) => {
    const now = T0 + 10;
    // Delays 0, 0, 5000 (scheduled), 5000, then 5 (due by now: queued, not alike the scheduled ones).
    const jobs = [job(T0), job(T0 + 1), job(T0 + 2, { delay: 5000 }), job(T0 + 3, { delay: 5000 }), job(T0 + 4, { delay: 5 })];
    addJobs(conn, jobs, now);
    assert.deepEqual([...conn.insertsBySize.keys()].sort(), [1, 2]);
    assert.deepEqual(rows(conn).map((r) => [r.state, r.run_at - r.created_at, r.created_at]), [
      ['queued', 0, T0], ['queued', 0, T0 + 1], ['scheduled', 5000, T0 + 2], ['scheduled', 5000, T0 + 3], ['queued', 5, T0 + 4],
    ]);
  }));

  it('writes a job whose runAt is not its createdAt plus the difference, in doubles, as it is', () => withConnection((conn) => {
    // 1.1 + (5.3 - 1.1) is 5.299999999999999 in doubles, not 5.3.
    const odd = { ...job(1.1), runAt: 5.3 };
    assert.notEqual(odd.createdAt + (odd.runAt - odd.createdAt), odd.runAt);
    addJobs(conn, [job(1.1, { delay: 4 }), odd], 10);
    assert.deepEqual(rows(conn).map((r) => [r.run_at, r.created_at]), [[5.1, 1.1], [5.3, 1.1]]);
  }));
});
