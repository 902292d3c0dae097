// The SQLite schema: numbered migrations (src/stores/sqlite/migrations/) with the version recorded
// in the meta table. A new file gets the latest version; a file made before versions were recorded
// (the schema SQL those builds ran, kept as a fixture) is recognised and brought up to date on open,
// its jobs intact; every count and list is planned on an index.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { LATEST_SQLITE_VERSION, migrate, migrationsDir, sqliteMigrations } from '../../src/stores/sqlite/migrate.js';
import { STATE_INDEX } from '../../src/stores/sqlite/lists.js';
import { sourceDir } from '../../src/stores/source-dir.js';
import { Queue, resolveSpec } from '../../src/core/queue.js';
import { tempDir } from '../helpers/tmp.js';
import { afterCursor, orderBy } from '../../src/stores/list-order.js';

const CURRENT_INDEXES = ['jobs_active', 'jobs_cancelled_end', 'jobs_completed_end', 'jobs_due', 'jobs_failed_end', 'jobs_given_id', 'jobs_queue', 'jobs_ready'];

const indexes = (db: Database.Database) =>
  (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL ORDER BY name`).all() as { name: string }[])
    .map((r) => r.name);
const recorded = (db: Database.Database) => db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).pluck().get();

/** The schema SQL the store ran at every open before versions were recorded (tsc does not copy .sql: read from tests/). */
const UNVERSIONED_SCHEMA = readFileSync(
  join(sourceDir(import.meta.url, ['./fixtures/', '../../../tests/stores/fixtures/'], 'test fixtures'), 'sqlite-schema-unversioned.sql'), 'utf8');

describe('sqlite store: schema', () => {
  it('finds its numbered .sql files from the compiled module', () => {
    assert.match(migrationsDir(), /src\/stores\/sqlite\/migrations\/$/);
    const ms = sqliteMigrations();
    assert.ok(ms.length >= 2);
    assert.deepEqual(ms.map((m) => m.version), ms.map((_, i) => i + 1), 'numbered 001, 002, ... without gaps');
  });

  it('gives a new file the latest version, and reopening applies nothing', async () => {
    const t = tempDir();
    const file = join(t.dir, 'new.db');
    try {
      const store = new SqliteStore(file);
      assert.equal(store.schemaVersion(), LATEST_SQLITE_VERSION());
      assert.equal(recorded(store.db), String(LATEST_SQLITE_VERSION()));
      assert.deepEqual(indexes(store.db), CURRENT_INDEXES);
      assert.deepEqual(migrate(store.db), [], 'nothing left to apply');
      await store.close();
    } finally {
      t.remove();
    }
  });

  for (const variant of ['as the last unversioned builds left it', 'with the (queue, seq) list indexes of earlier builds'] as const) {
    it(`recognises a file made before versions were recorded (${variant}) and brings it up to date with its jobs`, async () => {
      const t = tempDir();
      const file = join(t.dir, 'old.db');
      try {
        // The file as those builds wrote it: their schema, their rows, no version.
        const old = new Database(file);
        old.pragma('journal_mode = WAL');
        old.exec(UNVERSIONED_SCHEMA);
        if (variant !== 'as the last unversioned builds left it') {
          old.exec(`CREATE INDEX jobs_queued ON jobs(queue, seq) WHERE state = 'queued';
            CREATE INDEX jobs_completed ON jobs(queue, seq) WHERE state = 'completed'; CREATE INDEX jobs_failed ON jobs(queue, seq) WHERE state = 'failed'`);
        }
        const now = Date.now();
        const insert = old.prepare(`INSERT INTO jobs (id, queue, task, payload, priority, state, max_attempts, backoff, timeout,
          max_stalls, run_at, created_at, ended_at, history) VALUES (?, 'q', 't', ?, ?, ?, 3, ?, 30000, 1, ?, ?, ?, ?)`);
        for (const [id, state, priority] of [['a', 'queued', 0], ['b', 'queued', 5], ['c', 'completed', 0]] as const) {
          const j = resolveSpec({ id, task: 't', queue: 'q', payload: { id } }, now);
          insert.run(id, JSON.stringify(j.payload), priority, state, JSON.stringify(j.backoff), now, now, state === 'completed' ? now : null,
            state === 'completed' ? JSON.stringify([{ attempt: 1, workerId: 'w0', startedAt: now - 5, endedAt: now, outcome: 'completed' }]) : '[]');
        }
        old.exec(`INSERT INTO queues (name) VALUES ('q')`);
        assert.equal(old.prepare(`SELECT count(*) FROM meta`).pluck().get(), 0, 'no version recorded');
        old.close();

        const store = new SqliteStore(file);
        try {
          assert.equal(store.schemaVersion(), LATEST_SQLITE_VERSION());
          assert.equal(recorded(store.db), String(LATEST_SQLITE_VERSION()));
          assert.deepEqual(indexes(store.db), CURRENT_INDEXES);
          assert.deepEqual((await store.countJobs({ queue: 'q' })).q, { scheduled: 0, queued: 2, active: 0, completed: 1, failed: 0, cancelled: 0 });
          assert.deepEqual((await store.listJobs({ queue: 'q', state: 'queued' })).items.map((j) => j.id), ['b', 'a']);
          const done = (await store.getJob({ id: 'c' }))!;
          assert.deepEqual(done.history.map((a) => [a.attempt, a.workerId, a.outcome]), [[1, 'w0', 'completed']]);
          const claimed = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 1, leaseMs: 60_000, now: now + 1 });
          assert.deepEqual(claimed.jobs.map((j) => [j.id, j.payload]), [['b', { id: 'b' }]]);
          const [applied] = await store.finishJobs({ outcomes: [{ kind: 'completed', id: 'b', token: claimed.jobs[0]!.leaseToken!, at: now + 2, result: 7 }] });
          assert.equal(applied, true);
          assert.deepEqual((await store.getJob({ id: 'b' }))!.result, 7);
          // New jobs go in as before.
          await new Queue(store).enqueue({ id: 'd', queue: 'q', task: 't', payload: {} });
          assert.equal((await store.countJobs({ queue: 'q' })).q!.queued, 2);
        } finally {
          await store.close();
        }
      } finally {
        t.remove();
      }
    });
  }

  it('brings a file at an older version up through the later migrations only', async () => {
    const t = tempDir();
    const file = join(t.dir, 'v1.db');
    try {
      const db = new Database(file);
      assert.deepEqual(migrate(db, 1), [1]);
      assert.equal(recorded(db), '1');
      db.exec(`CREATE INDEX jobs_scheduled ON jobs(queue, seq) WHERE state = 'scheduled'`);
      db.close();
      const store = new SqliteStore(file);
      assert.equal(store.schemaVersion(), LATEST_SQLITE_VERSION());
      assert.ok(!indexes(store.db).includes('jobs_scheduled'), 'migration 2 applied');
      await store.close();
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
      // The list of one queue across states and the cleaning name their indexes too (migration 003).
      await new Queue(store).enqueueMany([{ task: 't', queue: 'q', priority: 2 }, { task: 't', queue: 'q' }]);
      assert.equal((await store.listJobs({ queue: 'q' })).items.length, 2);
      assert.equal(await store.cleanJobs({ endedBefore: Date.now() + 1 }), 0);
    } finally {
      await store.close();
      t.remove();
    }
  });
});
