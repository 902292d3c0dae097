// Where autovacuum does not run for the jobs table (here: switched off on the test's own table, as a
// server with autovacuum = off has it for every table), the store vacuums its schema after retention
// has removed enough rows, so jobs turning over reuse the table's space instead of growing it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { resolveSpec } from '../../src/core/queue.js';
import { PG_ADMIN_URL, pgSkip, testSchema } from '../helpers/postgres.js';

const skip = await pgSkip();

describe('PostgreSQL vacuum where autovacuum is off', { skip }, () => {
  it('retention removing jobs leads to a VACUUM of the schema, and the table stops growing', async () => {
    // A database of the test's own: a VACUUM reclaims only rows no snapshot in the same database can
    // see, and other test files hold snapshots in the shared test database for seconds (under load
    // one left the table growing by a round's rows every round).
    const database = `fusion_vacuum_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const url = PG_ADMIN_URL.replace(/\/[^/?]*(\?|$)/, `/${database}$1`);
    const schema = testSchema();
    let store: PostgresStore | null = null;
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      store = await PostgresStore.open(`${url}${url.includes('?') ? '&' : '?'}schema=${schema}`);
      await c.query(`ALTER TABLE "${schema}".jobs SET (autovacuum_enabled = false)`);
      const tableBytes = async () => Number((await c.query(`SELECT pg_relation_size('"${schema}".jobs') AS b`)).rows[0].b);
      const lastVacuum = async () => (await c.query(`SELECT last_vacuum FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'jobs'`, [schema])).rows[0]?.last_vacuum as Date | null;
      const sizes: number[] = [];
      let roundBytes = 0;
      // Rounds of 1,500 jobs added, run and removed by retention: each leaves 1,500 dead rows and more.
      for (let round = 0; round < 5; round++) {
        const now = Date.now();
        await store.addJobs({ jobs: Array.from({ length: 1500 }, (_, i) => resolveSpec({ task: 't', queue: 'q', payload: { round, i } }, now)), now });
        for (;;) {
          const { jobs } = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 500, leaseMs: 60_000, now });
          if (jobs.length === 0) break;
          await store.finishJobs({ outcomes: jobs.map((j) => ({ id: j.id, token: j.leaseToken!, kind: 'completed' as const, at: now, result: null })) });
        }
        if (round === 0) roundBytes = await tableBytes();
        assert.equal(await store.cleanJobs({ endedBefore: now + 1, limit: 100_000 }), 1500);
        if (round === 0) assert.ok(await lastVacuum(), 'vacuumed after the first 1,500 rows removed');
        sizes.push(await tableBytes());
      }
      // Without the vacuum every round adds its rows' space: five rounds, about five times one round's.
      // With it the space is reused, give or take a round's.
      assert.ok(roundBytes > 0);
      assert.ok(sizes[4]! <= 2 * roundBytes, `the jobs table kept its size: ${sizes.join(', ')} bytes after each round (one round: ${roundBytes})`);
    } finally {
      await c.end().catch(() => {});
      await store?.close();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
  });
});
