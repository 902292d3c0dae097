// Heartbeats find their jobs by primary key and check the lease by its token, as outcomes do since
// migration 009: a heartbeat reads its own jobs only, not every active job, whatever the table's
// statistics say. (Under a concurrent change of its rows: finish.test.ts.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { storeStatements } from '../../src/stores/postgres/statements.js';
import { quoteIdent } from '../../src/stores/postgres/sql.js';
import { resolveSpec } from '../../src/core/queue.js';
import { dropSchema, pgClient, pgSkip, schemaUrl, testSchema } from '../helpers/postgres.js';

const skip = await pgSkip();

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}

/** Rows the plan's scans of `jobs` returned, over all their loops. */
function jobRowsRead(n: PlanNode): number {
  const own = n['Relation Name'] === 'jobs' && n['Node Type'] !== 'ModifyTable' ? n['Actual Rows'] * n['Actual Loops'] : 0;
  return own + (n.Plans ?? []).reduce((s, p) => s + jobRowsRead(p), 0);
}

describe('PostgreSQL heartbeat plan', { skip }, () => {
  it('reads only the jobs it extends, though the statistics were taken when few jobs were active', async () => {
    const schema = testSchema();
    const store = await PostgresStore.open(schemaUrl(schema));
    const c = await pgClient();
    try {
      const now = Date.now();
      await store.addJobs({ jobs: Array.from({ length: 2000 }, () => resolveSpec({ task: 't', queue: 'q' }, now)), now });
      const claim = (limit: number) => store.claimJobs({ queues: ['q'], workerId: 'w', limit, leaseMs: 60_000, now });
      const { jobs: mine } = await claim(10);
      // Statistics of a quiet moment (10 active), then a busy one: 1,000 more active.
      await c.query(`ANALYZE "${schema}".jobs`);
      for (let k = 0; k < 10; k++) await claim(100);
      // The plan a pooled connection settles on after a few calls: the generic one.
      const text = storeStatements(quoteIdent(schema), schema).heartbeat.text;
      await c.query('BEGIN');
      await c.query('SET LOCAL plan_cache_mode = force_generic_plan');
      await c.query(`PREPARE beat(bigint, text[], text[]) AS ${text}`);
      const arr = (xs: string[]) => c.escapeLiteral(`{${xs.join(',')}}`);
      const { rows } = await c.query(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE beat(${now + 120_000},
        ${arr(mine.map((j) => j.id))}, ${arr(mine.map((j) => j.leaseToken!))})`);
      await c.query('ROLLBACK');
      await c.query('DEALLOCATE beat');
      const plan = (rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan;
      const read = jobRowsRead(plan);
      // Each lease twice: locked in id order (as outcomes lock theirs: no deadlock between the two), then updated.
      assert.ok(read <= 20, `the heartbeat of 10 leases read ${read} rows of jobs (every active job: 1,010)`);
    } finally {
      await c.end();
      await store.close();
      await dropSchema(schema);
    }
  });
});
