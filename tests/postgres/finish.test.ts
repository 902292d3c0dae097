// Outcomes (finish_jobs, migration 009) and heartbeats find their jobs by primary key: one that
// waits on a concurrent change of its row applies once that commits, and one whose lease was lost
// meanwhile does not. A lookup by row address (ctid) would skip the row the change moved and lose
// the outcome or the heartbeat. Both lock their rows in id order, so the two never deadlock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { Job } from '../../src/core/job.js';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { dropSchema, pgClient, pgSkip, schemaUrl, testSchema, twoClaimedJobs, waitsOnLock } from '../helpers/postgres.js';

const skip = await pgSkip();

interface Held {
  store: PostgresStore;
  c: pg.Client;
  schema: string;
  a: Job;
  b: Job;
  now: number;
}

/**
 * Jobs a and b claimed on a fresh schema; another connection (`c`) then changes both rows and holds
 * them in its open transaction: a by `changeA` (the same lease goes on), b's lease lost (recovered
 * to queued, its token cleared). `run` commits it.
 */
async function withHeldRows(changeA: string, run: (h: Held) => Promise<void>): Promise<void> {
  const schema = testSchema();
  const store = await PostgresStore.open(schemaUrl(schema));
  const c = await pgClient();
  try {
    const now = Date.now();
    const [a, b] = await twoClaimedJobs(store, now);
    await c.query('BEGIN');
    await c.query(`UPDATE "${schema}".jobs SET ${changeA} WHERE id = 'a'`);
    await c.query(`UPDATE "${schema}".jobs SET state = 'queued', lease_token = NULL, lease_until = NULL, worker_id = NULL WHERE id = 'b'`);
    await run({ store, c, schema, a, b, now });
  } finally {
    await c.end();
    await store.close();
    await dropSchema(schema);
  }
}

describe('PostgreSQL outcomes and heartbeats by primary key', { skip }, () => {
  it('an outcome waiting on its own lease\'s heartbeat applies after it; one on a lease lost meanwhile does not', async () => {
    await withHeldRows('lease_until = lease_until + 1000', async ({ store, c, schema, a, b, now }) => {
      const finish = store.finishJobs({
        outcomes: [
          { id: a.id, token: a.leaseToken!, kind: 'completed', at: now + 1, result: 'a' },
          { id: b.id, token: b.leaseToken!, kind: 'completed', at: now + 1, result: 'b' },
        ],
      });
      assert.ok(await waitsOnLock(c, schema, 'finish_jobs'), 'the finish waits on the rows held');
      await c.query('COMMIT');
      assert.deepEqual(await finish, [true, false]);
      const ja = (await store.getJob({ id: 'a' }))!;
      assert.deepEqual([ja.state, ja.result, ja.history.map((h) => h.outcome)], ['completed', 'a', ['completed']]);
      assert.equal((await store.getJob({ id: 'b' }))!.state, 'queued');
    });
  });

  it('a heartbeat waiting on its own job\'s progress applies after it; one on a lease lost meanwhile does not', async () => {
    await withHeldRows(`progress = '1'`, async ({ store, c, schema, a, b, now }) => {
      const beat = store.heartbeatJobs({ leases: [a, b].map((j) => ({ id: j.id, token: j.leaseToken! })), leaseMs: 120_000, now: now + 1 });
      assert.ok(await waitsOnLock(c, schema, 'lease_until = $1'), 'the heartbeat waits on the rows held');
      await c.query('COMMIT');
      assert.deepEqual((await beat).map((r) => [r.id, r.ok]), [['a', true], ['b', false]]);
      assert.equal((await store.getJob({ id: 'a' }))!.leaseUntil, now + 1 + 120_000);
      assert.equal((await store.getJob({ id: 'b' }))!.leaseUntil, null);
    });
  });

  it('a heartbeat and an outcome batch of the same jobs lock them in one order: both apply once a third holder lets go, no deadlock', async () => {
    const schema = testSchema();
    const store = await PostgresStore.open(schemaUrl(schema, '&max=4'));
    const holder = await pgClient();
    const watcher = await pgClient();
    try {
      const now = Date.now();
      const [a, b] = await twoClaimedJobs(store, now);
      // Another transaction holds a (an operator's action, a sweep): the heartbeat waits for it first.
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "${schema}".jobs WHERE id = 'a' FOR UPDATE`);
      const beat = store.heartbeatJobs({ leases: [a, b].map((j) => ({ id: j.id, token: j.leaseToken! })), leaseMs: 120_000, now: now + 1 });
      assert.ok(await waitsOnLock(watcher, schema, 'lease_until = $1'), 'the heartbeat waits on a');
      // The outcomes in the order their jobs ended, b first. Locked in that order, b was the
      // outcomes' while they waited for a and the heartbeat's next: a deadlock, found after the
      // 1 s deadlock_timeout, that failed one of the two.
      const finish = store.finishJobs({
        outcomes: [b, a].map((j) => ({ id: j.id, token: j.leaseToken!, kind: 'completed' as const, at: now + 2, result: j.id })),
      });
      assert.ok(await waitsOnLock(watcher, schema, 'finish_jobs'), 'the outcomes wait too');
      await holder.query('COMMIT');
      const [beats, applied] = await Promise.all([beat, finish]);
      assert.deepEqual(beats.map((r) => [r.id, r.ok]), [['a', true], ['b', true]]);
      assert.deepEqual(applied, [true, true]);
      for (const id of ['a', 'b']) assert.deepEqual([(await store.getJob({ id }))!.state, (await store.getJob({ id }))!.result], ['completed', id]);
    } finally {
      await holder.end();
      await watcher.end();
      await store.close();
      await dropSchema(schema);
    }
  });
  it('an outcome of an earlier version (no cancelError) applies as before to a job asked to cancel: given back, its snoozes merged', async () => {
    // A rolling upgrade: workers of the version before migration 013 send no cancelError, and the
    // function must apply their outcomes as version 12 did (their jobs yield to no cancel request).
    const schema = testSchema();
    const store = await PostgresStore.open(schemaUrl(schema));
    const c = await pgClient();
    try {
      const now = Date.now();
      const [a, first] = await twoClaimedJobs(store, now);
      // b has snoozed once already: the earlier version's snooze merges into that record.
      await store.finishJobs({ outcomes: [{ kind: 'snoozed', id: 'b', token: first.leaseToken!, at: now, retryAt: now }] });
      const { jobs: [b] } = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 1, leaseMs: 60_000, now });
      assert.equal(b?.id, 'b');
      await store.cancelJob({ id: 'a', now });
      await store.cancelJob({ id: 'b', now });
      const outcomes = [
        { id: a.id, token: a.leaseToken, kind: 'released', at: now + 1 },
        { id: 'b', token: b.leaseToken, kind: 'snoozed', at: now + 1, retryAt: now + 60_000 },
      ];
      const { rows } = await c.query(`SELECT state, attempts, cancel_requested FROM "${schema}".finish_jobs($1, NULL, 'earlier')`, [JSON.stringify(outcomes)]);
      assert.deepEqual(rows.map((r) => [r.state, r.attempts, r.cancel_requested]), [['#applied', 1, false], ['#applied', 2, false]], 'applied as sent');
      const ja = (await store.getJob({ id: 'a' }))!;
      const jb = (await store.getJob({ id: 'b' }))!;
      assert.deepEqual([ja.state, ja.attempts, ja.history.map((h) => h.outcome)], ['queued', 0, ['released']]);
      assert.deepEqual([jb.state, jb.attempts, jb.runAt, jb.history.map((h) => [h.outcome, h.snoozes])], ['scheduled', 0, now + 60_000, [['snoozed', 2]]]);
    } finally {
      await c.end();
      await store.close();
      await dropSchema(schema);
    }
  });
});
