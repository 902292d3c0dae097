// Outcomes (finish_jobs, migration 009) find their jobs by primary key: one that waits on a
// concurrent change of its row (a heartbeat of the same lease) applies once that commits, and one
// whose lease was lost meanwhile does not. A lookup by row address (ctid) would skip the row the
// heartbeat moved and lose the outcome.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { resolveSpec } from '../../src/core/queue.js';
import { dropSchema, pgClient, pgSkip, schemaUrl, testSchema } from '../helpers/postgres.js';

const skip = await pgSkip();

describe('PostgreSQL outcomes by primary key', { skip }, () => {
  it('an outcome waiting on its own lease\'s heartbeat applies after it; one on a lease lost meanwhile does not', async () => {
    const schema = testSchema();
    const store = await PostgresStore.open(schemaUrl(schema));
    const c = await pgClient();
    try {
      const now = Date.now();
      await store.addJobs({ jobs: ['a', 'b'].map((id) => resolveSpec({ id, task: 't', queue: 'q', payload: null }, now)), now });
      const { jobs: [a, b] } = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 2, leaseMs: 60_000, now });
      assert.ok(a && b);
      // Another connection changes both rows and holds them: a heartbeat of a's lease, and b's
      // lease lost (recovered to queued, its token cleared).
      await c.query('BEGIN');
      await c.query(`UPDATE "${schema}".jobs SET lease_until = lease_until + 1000 WHERE id = 'a'`);
      await c.query(`UPDATE "${schema}".jobs SET state = 'queued', lease_token = NULL, lease_until = NULL, worker_id = NULL WHERE id = 'b'`);
      const finish = store.finishJobs({
        outcomes: [
          { id: a.id, token: a.leaseToken!, kind: 'completed', at: now + 1, result: 'a' },
          { id: b.id, token: b.leaseToken!, kind: 'completed', at: now + 1, result: 'b' },
        ],
      });
      // The finish waits for those row locks: its statement (named by this schema) waits on a lock.
      const waiting = async () => (await c.query(`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE NOT l.granted AND a.query LIKE '%' || $1 || '%finish_jobs%'`, [schema])).rows[0].n as number;
      let n = 0;
      for (let i = 0; i < 500 && n === 0; i++) n = await waiting();
      assert.ok(n > 0, 'the finish waits on the rows held');
      await c.query('COMMIT');
      assert.deepEqual(await finish, [true, false]);
      const ja = (await store.getJob({ id: 'a' }))!;
      assert.deepEqual([ja.state, ja.result, ja.history.map((h) => h.outcome)], ['completed', 'a', ['completed']]);
      assert.equal((await store.getJob({ id: 'b' }))!.state, 'queued');
    } finally {
      await c.end();
      await store.close();
      await dropSchema(schema);
    }
  });
});
