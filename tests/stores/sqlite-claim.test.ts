// The SQLite claim: its LIMIT is written into a statement per size (a bound LIMIT re-prepares the
// statement at each run), with a subquery form past the literal sizes; promotion runs only when a
// scheduled job is due. Every form must take the same jobs in the same order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { Queue } from '../../src/core/queue.js';
import { tempDir } from '../helpers/tmp.js';

/** A store on a file of its own, a Queue on it and the time now, closed and removed after `fn`. */
async function withStore(fn: (store: SqliteStore, q: Queue, now: number) => Promise<void>): Promise<void> {
  const t = tempDir();
  const store = new SqliteStore(join(t.dir, 'c.db'));
  try {
    await fn(store, new Queue(store), Date.now());
  } finally {
    await store.close();
    t.remove();
  }
}

describe('sqlite store: claim sizes', () => {
  it('takes priority order, then enqueue order, at literal and subquery sizes alike', () => withStore(async (store, q, now) => {
    // 600 jobs: every third high priority.
    await q.enqueueMany(Array.from({ length: 600 }, (_, i) => ({ id: `j${i}`, queue: 'q', task: 't', priority: i % 3 === 0 ? 2 : 1 })));
    const expected = [
      ...Array.from({ length: 200 }, (_, k) => `j${k * 3}`),
      ...Array.from({ length: 600 }, (_, i) => i).filter((i) => i % 3 !== 0).map((i) => `j${i}`),
    ];
    const taken: string[] = [];
    for (const limit of [1, 7, 256, 300, 1, 50]) {
      const res = await store.claimJobs({ queues: ['q'], workerId: 'w', limit, leaseMs: 60_000, now });
      assert.equal(res.jobs.length, Math.min(limit, 600 - taken.length), `limit ${limit}`);
      taken.push(...res.jobs.map((j) => j.id));
    }
    assert.deepEqual(taken, expected.slice(0, taken.length));
    assert.equal(taken.length, 600);
    assert.equal((await store.countJobs({ queue: 'q' })).q!.active, taken.length);
  }));

  it('promotes a due scheduled job in the claim, and reports the next one due', () => withStore(async (store, q, now) => {
    await q.enqueueMany([
      { id: 'later', queue: 'q', task: 't', runAt: now + 60_000 },
      { id: 'soon', queue: 'q', task: 't', runAt: now + 1_000 },
    ]);
    const none = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 5, leaseMs: 60_000, now });
    assert.deepEqual(none.jobs, []);
    assert.equal(none.nextWakeAt, now + 1_000);
    const one = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 5, leaseMs: 60_000, now: now + 1_000 });
    assert.deepEqual(one.jobs.map((j) => j.id), ['soon']);
    assert.equal(one.nextWakeAt, now + 60_000);
  }));

  it('hands over each field of a claimed job as a read of the job sees it, after an attempt has ended too', () => withStore(async (store, q, now) => {
    await q.enqueue({
      id: 'full', queue: 'q', task: 't', payload: { text: 'a "quoted" \\ line\n\u2028é😀', n: [1.5, -2, null] }, priority: 3,
      maxAttempts: 4, backoff: { type: 'fixed', delay: 5 }, timeout: 1234, description: 'every field', tags: ['a', 'b'],
      callbacks: { onSuccess: 'http://example.test/ok', format: 'form' },
    });
    await q.enqueue({ queue: 'q', task: 't', payload: 'plain', priority: 1 });
    const lease = { queues: ['q'], workerId: 'w', limit: 1, leaseMs: 60_000 };
    const first = (await store.claimJobs({ ...lease, now })).jobs[0]!;
    assert.deepEqual(first, await store.getJob({ id: 'full' }));
    // A retry ends the attempt (history, error) and the job comes back due: the next claim reads those too.
    const error = { message: 'boom', retryable: true, details: { code: 'E1' } };
    const [applied] = await store.finishJobs({ outcomes: [{ kind: 'retry', id: 'full', token: first.leaseToken!, at: now + 1, error, retryAt: now + 2 }] });
    assert.equal(applied, true);
    const second = (await store.claimJobs({ ...lease, now: now + 2 })).jobs[0]!;
    assert.equal(second.attempts, 2);
    assert.equal(second.history.length, 2);
    assert.equal(second.error?.message, 'boom');
    assert.deepEqual(second, await store.getJob({ id: 'full' }));
    // A job of Fusion's own id (one that carries its seq) is read alike.
    const plain = (await store.claimJobs({ ...lease, now: now + 3 })).jobs[0]!;
    assert.equal(plain.payload, 'plain');
    assert.deepEqual(plain, await store.getJob({ id: plain.id }));
  }));
});
