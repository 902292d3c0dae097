// The PostgreSQL enqueue statements (add-one.ts for one job, add-many.ts for several): every field
// lands on the job, an existing id answers with the stored job and neither emits nor wakes, the
// queue gets its row, and other processes' stores hear of new work by NOTIFY, one per queue and
// state, carrying the due time of delayed jobs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import type { StoreEvent } from '../../src/core/store.js';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { pgHarness, pgSkip, schemaUrl } from '../helpers/postgres.js';
import { deferred, within } from '../helpers/await.js';

const skip = await pgSkip();

describe('PostgreSQL enqueue statements', { skip }, () => {
  let h: Awaited<ReturnType<typeof pgHarness>>;
  let other: PostgresStore;
  const heard: StoreEvent[] = [];
  let marker = deferred();
  before(async () => {
    h = await pgHarness();
    // Another process's store on the same schema: it hears of jobs only through NOTIFY.
    other = await PostgresStore.open(schemaUrl(h.schema));
    other.subscribe((e) => (e.queue === 'marker' ? marker.resolve() : heard.push(e)));
    await other.listening();
  });
  after(async () => {
    await other?.close();
    await h?.cleanup();
  });

  /** What the other store heard up to a marker job enqueued after (notifications keep commit order). */
  async function heardSoFar(): Promise<string[]> {
    marker = deferred();
    const now = Date.now();
    await h.store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'marker' }, now)], now });
    await within(marker.promise, 5000, 'the marker woke the other store');
    const out = heard.map((e) => `${e.type}:${e.queue}${e.type === 'scheduled' ? `@${e.runAt}` : ''}`);
    heard.length = 0;
    return out;
  }

  it('one job: every field stored; an existing id returns the stored job, emits nothing and wakes nobody', async () => {
    const now = Date.now();
    const runAt = now + 60_000;
    const job = resolveSpec({
      id: 'one', task: 't1', queue: 'solo', payload: 'plain', priority: 'high', maxAttempts: 4, backoff: { type: 'fixed', delay: 50 },
      timeout: 500, maxStalls: 2, runAt, description: 'd', tags: ['x', 'y'], callbacks: { onSuccess: 'http://127.0.0.1:9/done' }, scheduleId: 's1',
    }, now);
    const mine: StoreEvent[] = [];
    const off = h.store.subscribe((e) => mine.push(e));
    try {
      const [made] = await h.store.addJobs({ jobs: [job], now });
      assert.deepEqual([made!.created, made!.job.state], [true, 'scheduled']);
      const got = (await h.store.getJob({ id: 'one' }))!;
      assert.deepEqual(
        [got.queue, got.task, got.payload, got.priority, got.maxAttempts, got.backoff, got.timeout, got.maxStalls, got.runAt, got.createdAt,
          got.description, got.tags, got.callbacks, got.scheduleId, got.state],
        [job.queue, job.task, job.payload, job.priority, job.maxAttempts, job.backoff, job.timeout, job.maxStalls, job.runAt, job.createdAt,
          job.description, job.tags, job.callbacks, job.scheduleId, 'scheduled'],
      );
      assert.deepEqual((await h.store.listQueues()).map((q) => q.name).filter((n) => n === 'solo'), ['solo'], 'the queue has its row');

      const again = resolveSpec({ id: 'one', task: 'other', queue: 'elsewhere', payload: { new: true } }, now);
      const [existing] = await h.store.addJobs({ jobs: [again], now });
      assert.deepEqual([existing!.created, existing!.job.queue, existing!.job.payload, existing!.job.runAt], [false, 'solo', 'plain', runAt]);
      assert.deepEqual(mine.map((e) => `${e.type}:${e.jobId}`), ['scheduled:one'], 'no event for the existing id');
      assert.deepEqual(await heardSoFar(), [`scheduled:solo@${runAt}`], 'one wake-up, for the job made');
      assert.equal((await h.store.listQueues()).some((q) => q.name === 'elsewhere'), false, 'nothing of the second call was stored');
    } finally {
      off();
    }
  });

  it('several jobs: one wake-up per queue and state, none for ids that exist', async () => {
    const now = Date.now();
    const due = now + 30_000;
    const jobs = [
      resolveSpec({ id: 'm1', task: 't', queue: 'qa', payload: 1 }, now),
      resolveSpec({ id: 'm2', task: 't', queue: 'qa', payload: 2 }, now),
      resolveSpec({ id: 'm3', task: 't', queue: 'qb', payload: 3, runAt: due + 5 }, now),
      resolveSpec({ id: 'm4', task: 't', queue: 'qb', payload: 4, runAt: due }, now),
    ];
    const out = await h.store.addJobs({ jobs: jobs, now });
    assert.deepEqual(out.map((o) => o.created), [true, true, true, true]);
    assert.deepEqual((await heardSoFar()).sort(), ['queued:qa', `scheduled:qb@${due}`], 'the earliest due time of qb');

    const again = await h.store.addJobs({ jobs: [resolveSpec({ id: 'm1', task: 't', queue: 'qc' }, now), resolveSpec({ id: 'm3', task: 't', queue: 'qc' }, now)], now });
    assert.deepEqual(again.map((o) => [o.created, o.job.queue, o.job.payload]), [[false, 'qa', 1], [false, 'qb', 3]]);
    assert.deepEqual(await heardSoFar(), [], 'nothing made, nobody woken');
    assert.equal((await h.store.listQueues()).some((q) => q.name === 'qc'), false, 'no queue row for jobs not made');
  });
});
