// Where autovacuum does not run for the jobs table (here: switched off on the test's own table, as a
// server with autovacuum = off has it for every table), the store vacuums its schema after retention
// has removed enough rows, so jobs turning over reuse the table's space instead of growing it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { resolveSpec } from '../../src/core/queue.js';
import { dropSchema, pgClient, pgSkip, schemaUrl, testSchema } from '../helpers/postgres.js';

const skip = await pgSkip();

describe('PostgreSQL vacuum where autovacuum is off', { skip }, () => {
  it('retention removing jobs leads to a VACUUM of the schema, and the table stops growing', async () => {
    const schema = testSchema();
    const store = await PostgresStore.open(schemaUrl(schema));
    const c = await pgClient();
    try {
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
      // With it the space is reused, give or take the last round: a VACUUM reclaims only rows no open
      // snapshot can see, and other test files on the server may hold one for a moment (seen in a full
      // run under load: 0, 0, 0, 0 bytes, then one round's 1.3 MB).
      assert.ok(roundBytes > 0);
      assert.ok(sizes[4]! <= 2 * roundBytes, `the jobs table kept its size: ${sizes.join(', ')} bytes after each round (one round: ${roundBytes})`);
    } finally {
      await c.end();
      await store.close();
      await dropSchema(schema);
    }
  });
});
