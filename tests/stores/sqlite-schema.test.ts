// The SQLite schema: a file made by the first version (one (queue, state, seq) index over every
// row, open attempts written into history) is brought up to date on open, its jobs intact.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { Queue } from '../../src/core/queue.js';
import { tempDir } from '../helpers/tmp.js';
import { STATE_INDEX } from '../../src/stores/sqlite/schema.js';
import { afterCursor, orderBy } from '../../src/stores/list-order.js';

const indexes = (s: SqliteStore) =>
  (s.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL ORDER BY name`).all() as { name: string }[])
    .map((r) => r.name);

describe('sqlite store: schema', () => {
  it('drops the indexes of earlier files and keeps their jobs listed and counted', async () => {
    const t = tempDir();
    const file = join(t.dir, 'old.db');
    try {
      const old = new SqliteStore(file);
      await new Queue(old).enqueueMany([1, 2, 3].map((i) => ({ id: `j${i}`, queue: 'q', task: 't', payload: { i } })));
      const claimed = await old.claimJobs({ queues: ['q'], workerId: 'w', limit: 2, leaseMs: 60_000, now: Date.now() });
      await old.finishJobs({ outcomes: [{ kind: 'completed', id: 'j1', token: claimed.jobs[0]!.leaseToken!, at: Date.now(), result: null }] });
      // What a file of the earlier schema had: its indexes, and the open attempt in an active job's history.
      old.db.exec(`CREATE INDEX jobs_list ON jobs(queue, state, seq); CREATE INDEX jobs_lease ON jobs(lease_until) WHERE state = 'active';
        UPDATE jobs SET history = json_array(json_object('attempt', 1, 'workerId', 'w', 'startedAt', started_at)) WHERE id = 'j2'`);
      await old.close();

      const store = new SqliteStore(file);
      try {
        assert.deepEqual(indexes(store), ['jobs_active', 'jobs_cancelled_end', 'jobs_completed_end', 'jobs_due', 'jobs_ended', 'jobs_failed_end', 'jobs_queue', 'jobs_ready']);
        assert.deepEqual((await store.countJobs({ queue: 'q' })).q, { scheduled: 0, queued: 1, active: 1, completed: 1, failed: 0, cancelled: 0 });
        assert.deepEqual((await store.listJobs({ queue: 'q', state: 'queued' })).items.map((j) => j.id), ['j3']);
        assert.deepEqual((await store.listJobs({ queue: 'q', state: 'completed' })).items.map((j) => j.id), ['j1']);
        const active = (await store.getJob({ id: 'j2' }))!;
        assert.deepEqual(active.history.map((a) => [a.attempt, a.workerId, a.endedAt]), [[1, 'w', undefined]]);
        await store.finishJobs({ outcomes: [{ kind: 'completed', id: 'j2', token: active.leaseToken!, at: Date.now(), result: null }] });
        const done = (await store.getJob({ id: 'j2' }))!;
        assert.deepEqual(done.history.map((a) => [a.attempt, a.workerId, a.outcome]), [[1, 'w', 'completed']]);
      } finally {
        await store.close();
      }
    } finally {
      t.remove();
    }
  });

  it('plans every count and state list on an index, never a scan of the whole table', async () => {
    const t = tempDir();
    const store = new SqliteStore(join(t.dir, 'plan.db'));
    try {
      const plan = (sql: string) => (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail);
      // Each part of the counts query reads one state's partial index.
      for (const state of ['scheduled', 'queued', 'active', 'completed', 'failed', 'cancelled']) {
        const p = plan(`SELECT queue, count(*) FROM jobs WHERE state = '${state}' GROUP BY queue`);
        assert.ok(p.every((d) => /USING COVERING INDEX/.test(d)), `${state}: ${p.join(' | ')}`);
      }
      // A page of one state walks that state's index in the state's order: no sort, so its cost is its
      // length however many jobs of other states the queue holds (the form list() builds).
      for (const state of ['scheduled', 'queued', 'active', 'completed', 'failed', 'cancelled'] as const) {
        const after = afterCursor(state, (v) => String(v), { v: 5, seq: 100 });
        const p = plan(`SELECT * FROM jobs INDEXED BY ${STATE_INDEX[state]} WHERE queue = 'q' AND state = '${state}' AND ${after} ORDER BY ${orderBy(state)} LIMIT 51`);
        assert.ok(p.length === 1 && p[0]!.includes(`USING INDEX ${STATE_INDEX[state]}`), `${state}: ${p.join(' | ')}`);
      }
      // list() names its index; a list of every state of one queue must be accepted by the planner.
      for (const state of ['scheduled', 'queued', 'active', 'completed', 'failed', 'cancelled'] as const) {
        assert.deepEqual((await store.listJobs({ queue: 'q', state })).items, []);
      }
    } finally {
      await store.close();
      t.remove();
    }
  });
});
