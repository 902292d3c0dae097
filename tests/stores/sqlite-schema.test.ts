// The SQLite schema's indexes: a file made by an earlier version (one (queue, state, seq) index
// over every row) is brought to the current indexes on open, and its jobs stay listed and counted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { Queue } from '../../src/core/queue.js';
import { tempDir } from '../helpers/tmp.js';

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
      const claimed = await old.claim({ queues: ['q'], workerId: 'w', limit: 1, leaseMs: 60_000, now: Date.now() });
      await old.finish([{ kind: 'completed', id: claimed.jobs[0]!.id, token: claimed.jobs[0]!.leaseToken!, at: Date.now(), result: null }]);
      // What a file of the earlier schema had.
      old.db.exec(`CREATE INDEX jobs_list ON jobs(queue, state, seq); CREATE INDEX jobs_lease ON jobs(lease_until) WHERE state = 'active'`);
      await old.close();

      const store = new SqliteStore(file);
      try {
        assert.deepEqual(indexes(store), ['jobs_active', 'jobs_cancelled', 'jobs_completed', 'jobs_due', 'jobs_ended', 'jobs_failed', 'jobs_queue', 'jobs_ready']);
        assert.deepEqual((await store.counts('q')).q, { scheduled: 0, queued: 2, active: 0, completed: 1, failed: 0, cancelled: 0 });
        const queued = await store.list({ queue: 'q', state: 'queued' });
        assert.deepEqual(queued.items.map((j) => j.id), ['j3', 'j2']);
        const done = await store.list({ queue: 'q', state: 'completed' });
        assert.deepEqual(done.items.map((j) => j.id), ['j1']);
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
      // list() names its index; a list of every state of one queue must be accepted by the planner.
      for (const state of ['scheduled', 'queued', 'active', 'completed', 'failed', 'cancelled'] as const) {
        assert.deepEqual((await store.list({ queue: 'q', state })).items, []);
      }
    } finally {
      await store.close();
      t.remove();
    }
  });
});
