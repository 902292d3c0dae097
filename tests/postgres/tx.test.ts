// Enqueue inside the caller's transaction: an application writes its own row and the job with one
// commit. Committed: the job exists and a worker elsewhere is woken (the notification goes out at
// commit). Rolled back: no job, no wake. Stores without transactions refuse { tx } clearly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { Fusion } from '../../src/fusion.js';
import type { StoreEvent } from '../../src/core/store.js';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { FusionError } from '../../src/core/errors.js';
import { dropSchema, pgSkip, schemaUrl, testSchema, PG_URL } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { deferred, within } from '../helpers/await.js';

const skip = await pgSkip();

describe('enqueue in the caller transaction (PostgreSQL)', { skip }, () => {
  it('commits the application row and the job together; a rollback keeps neither; other stores are woken only on commit', async () => {
    const schema = testSchema();
    const fusion = await Fusion.open({ store: schemaUrl(schema), channels: false });
    // Another process's store on the same schema: it hears of the job only through NOTIFY.
    const other = await PostgresStore.open(schemaUrl(schema));
    const app = new pg.Pool({ connectionString: PG_URL, max: 2 });
    const heard: StoreEvent[] = [];
    let heardCommit = deferred();
    const off = other.subscribe((e) => {
      heard.push(e);
      if (e.type === 'queued' && e.queue === 'orders') heardCommit.resolve();
    });
    try {
      await app.query(`CREATE TABLE "${schema}".orders (id text PRIMARY KEY, total integer NOT NULL)`);
      await other.listening();

      // Commit.
      const c = await app.connect();
      try {
        await c.query('BEGIN');
        await c.query(`INSERT INTO "${schema}".orders VALUES ('o1', 42)`);
        const job = await fusion.enqueue({ id: 'confirm-o1', task: 'confirm', queue: 'orders', payload: { order: 'o1' } }, { tx: c });
        assert.equal(job.state, 'queued');
        // Not visible outside the transaction yet, and no worker was told.
        assert.equal(await fusion.store.getJob({ id: 'confirm-o1' }), null);
        assert.equal(heard.length, 0);
        // Idempotent inside the transaction too.
        const again = await fusion.queue.enqueueMany([{ id: 'confirm-o1', task: 'confirm', queue: 'orders' }], { tx: c });
        assert.equal(again[0]!.created, false);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
      await within(heardCommit.promise, 5000, 'the commit woke the other store');
      assert.deepEqual((await fusion.store.getJob({ id: 'confirm-o1' }))!.payload, { order: 'o1' });
      assert.equal((await app.query(`SELECT total FROM "${schema}".orders WHERE id = 'o1'`)).rows[0].total, 42);

      // Rollback: neither the row nor the job, and no wake.
      heard.length = 0;
      heardCommit = deferred();
      const r = await app.connect();
      try {
        await r.query('BEGIN');
        await r.query(`INSERT INTO "${schema}".orders VALUES ('o2', 7)`);
        await fusion.enqueue({ id: 'confirm-o2', task: 'confirm', queue: 'orders', delay: 60_000 }, { tx: r });
        await r.query('ROLLBACK');
      } finally {
        r.release();
      }
      assert.equal(await fusion.store.getJob({ id: 'confirm-o2' }), null);
      assert.equal((await app.query(`SELECT count(*)::int AS n FROM "${schema}".orders WHERE id = 'o2'`)).rows[0].n, 0);
      // A later job's wake arrives; the rolled-back one's never did (notifications keep commit order).
      await fusion.enqueue({ id: 'marker', task: 'confirm', queue: 'orders' });
      await within(heardCommit.promise, 5000, 'the marker woke the other store');
      assert.deepEqual(heard.map((e) => `${e.type}:${e.queue}`), ['queued:orders']);
      assert.deepEqual((await fusion.store.countJobs({ queue: 'orders' })).orders, { scheduled: 0, queued: 2, active: 0, completed: 0, failed: 0, cancelled: 0 });
    } finally {
      off();
      await app.end();
      await other.close();
      await fusion.close();
      await dropSchema(schema);
    }
  });

  it('a store without transactions refuses { tx } with a clear error', async () => {
    const t = tempDir();
    const fusion = await Fusion.open({ store: `sqlite:${join(t.dir, 'f.db')}`, channels: false });
    try {
      await assert.rejects(
        fusion.enqueue({ task: 't' }, { tx: {} }),
        (e: FusionError) => e.code === 'tx_unsupported' && e.status === 400 && /PostgreSQL/.test(e.message),
      );
      assert.deepEqual(await fusion.store.countJobs(), {});
    } finally {
      await fusion.close();
      t.remove();
    }
  });
});
