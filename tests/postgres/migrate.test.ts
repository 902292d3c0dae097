// Migrations: an older schema is brought up to date in place at open, with its jobs intact;
// processes opening a fresh schema together apply each migration once; the version is visible.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { LATEST_VERSION, loadMigrations, migrate, migrationsDir } from '../../src/stores/postgres/migrate.js';
import { resolveSpec } from '../../src/core/queue.js';
import type { Job } from '../../src/core/job.js';
import { dropSchema, pgClient, pgSkip, schemaUrl, testSchema } from '../helpers/postgres.js';

const skip = await pgSkip();

/** The old version's store closes; a store of this version opens the schema and brings it up to date. */
async function upgraded(old: PostgresStore, c: pg.Client, schema: string): Promise<PostgresStore> {
  await old.close();
  const store = await PostgresStore.open(schemaUrl(schema));
  assert.equal(await store.schemaVersion(), LATEST_VERSION());
  return store;
}

/** The source of the schema's one finish_jobs (a migration replaces it in place, never beside). */
async function finishJobsSource(c: pg.Client, schema: string): Promise<string> {
  const { rows } = await c.query(`SELECT prosrc FROM pg_proc WHERE proname = 'finish_jobs' AND pronamespace = $1::regnamespace`, [schema]);
  assert.equal(rows.length, 1, 'one finish_jobs, replaced in place');
  return rows[0].prosrc as string;
}

describe('PostgreSQL migrations', { skip }, () => {
  it('finds its .sql files from the compiled module (tsc does not copy them)', () => {
    assert.match(migrationsDir(), /src\/stores\/postgres\/migrations\/$/);
    const ms = loadMigrations();
    assert.ok(ms.length >= 2);
    assert.deepEqual(ms.map((m) => m.version), ms.map((_, i) => i + 1), 'numbered 001, 002, ... without gaps');
  });

  it('migrates a version-1 schema in place at open: the job made before is intact and still runs', async () => {
    const schema = testSchema();
    const c = await pgClient();
    try {
      assert.deepEqual(await migrate(c, schema, 1), [1]);
      // A job written by a version-1 store.
      const old = await PostgresStore.open(schemaUrl(schema), { migrate: false });
      assert.equal(await old.schemaVersion(), 1);
      const now = Date.now();
      // As a version-1 store wrote it: whole jobs to the three-argument add_jobs (version 4 changed it).
      const job = resolveSpec({ id: 'old-1', task: 't', queue: 'q', payload: { keep: [1, 'two'] }, priority: 'high' }, now);
      await old.pool.query(`SELECT * FROM "${schema}".add_jobs($1, $2, $3)`, [JSON.stringify([job]), now, 'v1']);
      await old.close();

      const store = await PostgresStore.open(schemaUrl(schema));
      try {
        assert.equal(await store.schemaVersion(), LATEST_VERSION());
        const { rows } = await c.query(`SELECT version FROM "${schema}".schema_version ORDER BY version`);
        assert.deepEqual(rows.map((r) => r.version), loadMigrations().map((m) => m.version));
        const idx = async (name: string) => (await c.query(`SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = $2`, [schema, name])).rowCount;
        // Migration 5 lists the finished states by end time (the per-state seq indexes stay, for counts).
        assert.equal(await idx('jobs_completed_end'), 1, 'migration 5 applied');
        assert.equal(await idx('jobs_scheduled'), 1, 'migration 2 kept');
        const j = (await store.getJob({ id: 'old-1' }))!;
        assert.deepEqual([j.state, j.payload, j.priority], ['queued', { keep: [1, 'two'] }, 2]);
        const claimed = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 5, leaseMs: 1000, now: now + 1 });
        assert.deepEqual(claimed.jobs.map((x) => x.id), ['old-1']);
      } finally {
        await store.close();
      }
    } finally {
      await c.end();
      await dropSchema(schema);
    }
  });

  it('migrates a version-7 schema with a job in flight: its outcome lands after the upgrade and the claim by row address takes the next', async () => {
    const schema = testSchema();
    const c = await pgClient();
    try {
      assert.deepEqual(await migrate(c, schema, 7), [1, 2, 3, 4, 5, 6, 7]);
      const old = await PostgresStore.open(schemaUrl(schema), { migrate: false });
      const now = Date.now();
      const jobs = ['a', 'b', 'c'].map((id, i) => resolveSpec({ id, task: 't', queue: 'q', payload: { i }, priority: id === 'c' ? 'high' : undefined }, now));
      await old.addJobs({ jobs, now });
      const held = await old.claimJobs({ queues: ['q'], workerId: 'w', limit: 1, leaseMs: 60_000, now });
      assert.deepEqual(held.jobs.map((j) => j.id), ['c'], 'version 7 claimed the high-priority job');
      await old.close();

      const store = await PostgresStore.open(schemaUrl(schema));
      try {
        assert.equal(await store.schemaVersion(), LATEST_VERSION());
        const { rows } = await c.query(`SELECT prosrc FROM pg_proc WHERE proname = 'claim_jobs' AND pronamespace = $1::regnamespace`, [schema]);
        assert.match(rows[0].prosrc, /ctid = ANY/, 'claim_jobs replaced in place');
        const lease = held.jobs[0]!;
        const { applied, claim } = await store.capabilities.finishAndClaim!({
          outcomes: [{ id: lease.id, token: lease.leaseToken!, kind: 'completed', at: now + 1, result: 1 }],
          claim: { queues: ['q'], workerId: 'w', limit: 5, leaseMs: 60_000, now: now + 1 },
        });
        assert.deepEqual(applied, [true]);
        assert.deepEqual(claim.jobs.map((j) => j.id), ['a', 'b'], 'the rest, in order');
        assert.equal((await store.getJob({ id: 'c' }))!.state, 'completed');
      } finally {
        await store.close();
      }
    } finally {
      await c.end();
      await dropSchema(schema);
    }
  });

  it('migrates a version-8 schema with jobs in flight: outcomes found by primary key apply only with their live token', async () => {
    const schema = testSchema();
    const c = await pgClient();
    try {
      assert.deepEqual(await migrate(c, schema, 8), [1, 2, 3, 4, 5, 6, 7, 8]);
      const old = await PostgresStore.open(schemaUrl(schema), { migrate: false });
      const now = Date.now();
      const jobs = ['a', 'b', 'c', 'd'].map((id, i) => resolveSpec({ id, task: 't', queue: 'q', payload: { i } }, now));
      await old.addJobs({ jobs, now });
      const held = await old.claimJobs({ queues: ['q'], workerId: 'w', limit: 3, leaseMs: 60_000, now });
      assert.deepEqual(held.jobs.map((j) => j.id), ['a', 'b', 'c']);
      const store = await upgraded(old, c, schema);
      try {
        assert.match(await finishJobsSource(c, schema), /j\.id = ANY/, 'finish_jobs reads the jobs by primary key');
        const [a, b, cc] = held.jobs as [Job, Job, Job];
        // b's lease is lost meanwhile: recovered and claimed again under a new token.
        await c.query(`UPDATE "${schema}".jobs SET lease_until = $1 WHERE id = 'b'`, [now - 1]);
        await store.recoverExpiredJobs({ now: now + 1, limit: 10 });
        const { applied, claim } = await store.capabilities.finishAndClaim!({
          outcomes: [
            { id: a.id, token: a.leaseToken!, kind: 'completed', at: now + 2, result: 'a' },
            { id: b.id, token: b.leaseToken!, kind: 'completed', at: now + 2, result: 'stale' },
            { id: cc.id, token: cc.leaseToken!, kind: 'retry', at: now + 2, error: { message: 'again', retryable: true }, retryAt: now + 60_000 },
          ],
          claim: { queues: ['q'], workerId: 'w', limit: 5, leaseMs: 60_000, now: now + 2 },
        });
        assert.deepEqual(applied, [true, false, true], 'the stale token of b does not apply');
        assert.deepEqual(claim.jobs.map((j) => j.id), ['b', 'd'], 'b again (recovered), then d');
        const got = async (id: string) => (await store.getJob({ id }))!;
        assert.deepEqual([(await got('a')).state, (await got('a')).result], ['completed', 'a']);
        assert.equal((await got('c')).state, 'scheduled');
        assert.deepEqual((await got('c')).history.map((h) => h.outcome), ['retrying']);
        const b2 = await got('b');
        assert.deepEqual([b2.state, b2.result, b2.history.map((h) => h.outcome)], ['active', null, ['stalled', undefined]], 'stalled once, the open attempt is the new claim');
      } finally {
        await store.close();
      }
    } finally {
      await c.end();
      await dropSchema(schema);
    }
  });

  it('migrates a version-9 schema with jobs in flight: follow-ups of applied outcomes go in without add_jobs, an existing id left as it is', async () => {
    const schema = testSchema();
    const c = await pgClient();
    try {
      assert.deepEqual(await migrate(c, schema, 9), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const old = await PostgresStore.open(schemaUrl(schema), { migrate: false });
      const now = Date.now();
      const spec = (id: string, queue: string, extra: { payload?: unknown; runAt?: number; tags?: string[] } = {}) =>
        resolveSpec({ id, task: 't', queue, payload: null, ...extra }, now);
      await old.addJobs({ jobs: [spec('a', 'q'), spec('b', 'q'), spec('x', 'other', { payload: 'first' })], now });
      const held = await old.claimJobs({ queues: ['q'], workerId: 'w', limit: 2, leaseMs: 60_000, now });
      assert.deepEqual(held.jobs.map((j) => j.id), ['a', 'b']);
      const store = await upgraded(old, c, schema);
      try {
        assert.doesNotMatch(await finishJobsSource(c, schema), /add_jobs/, 'finish_jobs inserts follow-ups itself');
        const [a, b] = held.jobs as [Job, Job];
        // b's lease is lost meanwhile: its outcome, and its follow-up, do not apply.
        await c.query(`UPDATE "${schema}".jobs SET lease_until = $1 WHERE id = 'b'`, [now - 1]);
        await store.recoverExpiredJobs({ now: now + 1, limit: 10 });
        const applied = await store.finishJobs({
          outcomes: [
            {
              id: a.id, token: a.leaseToken!, kind: 'completed', at: now + 2, result: 'a',
              enqueue: [spec('fa1', 'callbacks', { tags: ['cb'] }), spec('fa2', 'callbacks', { runAt: now + 60_000 }), spec('x', 'other', { payload: 'second' })],
            },
            { id: b.id, token: b.leaseToken!, kind: 'completed', at: now + 2, result: 'stale', enqueue: [spec('fb1', 'callbacks')] },
          ],
        });
        assert.deepEqual(applied, [true, false], 'the stale token of b does not apply');
        const got = async (id: string) => store.getJob({ id });
        const fa1 = (await got('fa1'))!;
        assert.deepEqual([fa1.state, fa1.queue, fa1.tags], ['queued', 'callbacks', ['cb']]);
        assert.equal((await got('fa2'))!.state, 'scheduled', 'due later than its outcome: scheduled');
        assert.deepEqual([(await got('x'))!.payload, (await got('x'))!.queue], ['first', 'other'], 'an id that exists is left as it is');
        assert.equal(await got('fb1'), null, 'the stale outcome\'s follow-up is not added');
        const queues = await c.query(`SELECT name FROM "${schema}".queues WHERE name = 'callbacks'`);
        assert.equal(queues.rowCount, 1, 'the follow-ups\' queue has its row');
        const claim = await store.claimJobs({ queues: ['callbacks'], workerId: 'w', limit: 5, leaseMs: 60_000, now: now + 3 });
        assert.deepEqual(claim.jobs.map((j) => j.id), ['fa1'], 'the queued follow-up runs');
      } finally {
        await store.close();
      }
    } finally {
      await c.end();
      await dropSchema(schema);
    }
  });

  it('applies each migration once when several processes open a fresh schema together', async () => {
    const schema = testSchema();
    try {
      const stores = await Promise.all(Array.from({ length: 5 }, () => PostgresStore.open(schemaUrl(schema))));
      for (const s of stores) assert.equal(await s.schemaVersion(), LATEST_VERSION());
      const c = await pgClient();
      const { rows } = await c.query(`SELECT count(*)::int AS n FROM "${schema}".schema_version`);
      await c.end();
      assert.equal(rows[0].n, LATEST_VERSION());
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      await dropSchema(schema);
    }
  });

  it('opens a schema made for it by an administrator, as a role that may not create schemas; an up-to-date one as a role that may not change tables', async () => {
    const schema = testSchema();
    const owner = `${schema}_owner`;
    const runtime = `${schema}_runtime`;
    const admin = await pgClient();
    const as = (role: string) => {
      const u = new URL(schemaUrl(schema));
      u.username = role;
      return u.toString();
    };
    try {
      // A DBA's setup: the schema given to the application's role, which has no CREATE on the
      // database (the default for a new role), and a runtime role with rights on rows only.
      await admin.query(`CREATE ROLE "${owner}" LOGIN`);
      await admin.query(`CREATE ROLE "${runtime}" LOGIN`);
      await admin.query(`CREATE SCHEMA "${schema}" AUTHORIZATION "${owner}"`);
      const store = await PostgresStore.open(as(owner));
      assert.equal(await store.schemaVersion(), LATEST_VERSION());
      await store.close();
      await admin.query(`GRANT USAGE ON SCHEMA "${schema}" TO "${runtime}"`);
      await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO "${runtime}"`);
      await admin.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA "${schema}" TO "${runtime}"`);
      const worker = await PostgresStore.open(as(runtime));
      try {
        const now = Date.now();
        await worker.addJobs({ jobs: [resolveSpec({ id: 'a', task: 't', queue: 'q', payload: null }, now)], now });
        const { jobs } = await worker.claimJobs({ queues: ['q'], workerId: 'w', limit: 1, leaseMs: 60_000, now });
        assert.deepEqual(jobs.map((j) => j.id), ['a']);
        assert.deepEqual(await worker.finishJobs({ outcomes: [{ id: 'a', token: jobs[0]!.leaseToken!, kind: 'completed', at: now + 1, result: 1 }] }), [true]);
      } finally {
        await worker.close();
      }
    } finally {
      await dropSchema(schema);
      for (const role of [runtime, owner]) await admin.query(`DROP ROLE IF EXISTS "${role}"`);
      await admin.end();
    }
  });

  it('refuses a schema name it would have to quote, and hides the password in errors', async () => {
    await assert.rejects(PostgresStore.open(schemaUrl('Bad-Name')), /schema must be a lower-case identifier/);
    // Given as an option the same: a name past 58 characters makes a NOTIFY channel (<schema>:work)
    // longer than PostgreSQL takes, and adds failed ("channel name too long") once a worker waited.
    const long = `${testSchema()}_${'x'.repeat(50)}`;
    let opened: PostgresStore | undefined;
    try {
      await assert.rejects(
        PostgresStore.open(schemaUrl(testSchema()), { schema: long }).then((s) => (opened = s)),
        (e: Error & { code?: string }) => e.code === 'invalid_store' && /schema must be a lower-case identifier/.test(e.message),
      );
    } finally {
      await opened?.close();
      const c = await pgClient();
      await c.query(`DROP SCHEMA IF EXISTS "${long}" CASCADE`);
      await c.end();
    }
    await assert.rejects(
      PostgresStore.open('postgres://u:secret@127.0.0.1:1/none?schema=t_x'),
      (e: Error) => /could not open the PostgreSQL store/.test(e.message) && !e.message.includes('secret'),
    );
  });
});
