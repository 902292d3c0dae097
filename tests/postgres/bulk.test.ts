// Bulk enqueue on PostgreSQL sends each field as one array, what the jobs share as one element
// (encode.ts, add-many.ts): every field still lands on its own job whether shared or not, ids given
// twice or existing return the job that exists (the careful form after the plain insert's unique
// violation), and nothing is left behind by the plain insert that failed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import type { JobSpec } from '../../src/core/job.js';
import { FIELDS, jobColumns } from '../../src/stores/postgres/encode.js';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { pgClient, pgHarness, pgSkip, schemaUrl } from '../helpers/postgres.js';

const skip = await pgSkip();

describe('PostgreSQL bulk enqueue', { skip }, () => {
  let h: Awaited<ReturnType<typeof pgHarness>>;
  before(async () => (h = await pgHarness()));
  after(async () => h?.cleanup());

  it('a field every job has alike goes as one element; id, payload and differing fields as one per job', () => {
    const now = 1000;
    const jobs = [
      resolveSpec({ task: 't', queue: 'a', payload: { n: 1 }, description: 'x' }, now),
      resolveSpec({ task: 't', queue: 'a', payload: { n: 2 }, description: null as unknown as undefined }, now),
    ];
    const cols = jobColumns(jobs);
    const at = (column: string) => cols[2 + FIELDS.findIndex((f) => f.column === column)]!;
    assert.deepEqual(cols[0], jobs.map((j) => j.id));
    assert.deepEqual(cols[1], ['{"n":1}', '{"n":2}']);
    assert.deepEqual(at('queue'), ['a']);
    assert.deepEqual(at('backoff'), [JSON.stringify(jobs[0]!.backoff)]);
    assert.deepEqual(at('tags'), [null], 'no tags: NULL');
    assert.deepEqual(at('description'), ['x', null], 'description differs: one per job');
    assert.equal(cols.length, 2 + FIELDS.length);
  });

  it('mixed jobs in one call: each stored with its own fields', async () => {
    const now = Date.now();
    const specs: JobSpec[] = [
      { id: 'm1', task: 't1', queue: 'qa', payload: { a: 1 }, priority: 'high', tags: ['x'], description: 'one' },
      { id: 'm2', task: 't2', queue: 'qb', payload: null, priority: 0, maxAttempts: 3, backoff: { type: 'fixed', delay: 50 } },
      { id: 'm3', task: 't1', queue: 'qa', payload: [1, 'two'], runAt: now + 60_000, callbacks: { onSuccess: 'http://127.0.0.1:9/done' } },
      { id: 'm4', task: 't1', queue: 'qa', payload: 'plain', timeout: 500, maxStalls: 1, scheduleId: 's1' },
    ];
    const jobs = specs.map((s) => resolveSpec(s, now));
    const out = await h.store.addJobs({ jobs, now });
    assert.deepEqual(out.map((o) => o.created), [true, true, true, true]);
    for (const want of jobs) {
      const got = (await h.store.getJob({ id: want.id }))!;
      assert.deepEqual(
        [got.queue, got.task, got.payload, got.priority, got.maxAttempts, got.backoff, got.timeout, got.maxStalls, got.runAt, got.createdAt,
          got.description, got.tags, got.callbacks, got.scheduleId],
        [want.queue, want.task, want.payload, want.priority, want.maxAttempts, want.backoff, want.timeout, want.maxStalls, want.runAt, want.createdAt,
          want.description, want.tags, want.callbacks, want.scheduleId],
        want.id,
      );
      assert.equal(got.state, want.runAt > now ? 'scheduled' : 'queued');
    }
    const counts = await h.store.countJobs();
    assert.deepEqual([counts.qa!.queued, counts.qa!.scheduled, counts.qb!.queued], [2, 1, 1]);
  });

  it('1,000 alike jobs in one call, with an existing id and a repeated one among them', async () => {
    const now = Date.now();
    const jobs = Array.from({ length: 1000 }, (_, i) => resolveSpec({ id: `b${i}`, task: 't', queue: 'bulk', payload: { i } }, now));
    jobs[500] = resolveSpec({ id: 'm1', task: 't', queue: 'bulk', payload: { other: true } }, now);
    jobs[999] = resolveSpec({ id: 'b0', task: 't', queue: 'bulk', payload: { again: true } }, now);
    const out = await h.store.addJobs({ jobs, now });
    assert.equal(out.filter((o) => o.created).length, 998);
    assert.deepEqual([out[500]!.created, out[500]!.job.queue, out[500]!.job.payload], [false, 'qa', { a: 1 }], 'the existing job, unchanged');
    assert.deepEqual([out[999]!.created, out[999]!.job.payload], [false, { i: 0 }], 'the first of a repeated id made it');
    assert.equal((await h.store.countJobs({ queue: 'bulk' })).bulk!.queued, 998);
    const page = await h.store.listJobs({ queue: 'bulk', limit: 3 });
    assert.deepEqual(page.items.map((j) => j.id), ['b998', 'b997', 'b996'], 'enqueue order kept');
  });

  it('bulk adds of the same ids in opposite orders, at once from two processes, all answer: no deadlock error reaches a caller', async () => {
    // Each insert waits on the other's uncommitted keys: taken in opposite orders, two of them can
    // deadlock, and the server ends one. Which rounds meet so is up to timing: many rounds.
    const other = await PostgresStore.open(schemaUrl(h.schema));
    try {
      const failures: string[] = [];
      const rounds = 24;
      for (let round = 0; round < rounds; round++) {
        const now = Date.now();
        const ids = Array.from({ length: 300 }, (_, i) => `dl${round}-${i}`);
        const jobs = (list: string[]) => list.map((id) => resolveSpec({ id, task: 't', queue: 'dl', payload: { id } }, now));
        const answers = await Promise.allSettled([h.store.addJobs({ jobs: jobs(ids), now }), other.addJobs({ jobs: jobs([...ids].reverse()), now })]);
        const made = new Map<string, number>();
        for (const a of answers) {
          if (a.status === 'rejected') {
            failures.push(`round ${round}: ${(a.reason as { code?: string }).code} ${(a.reason as Error).message}`);
            continue;
          }
          assert.equal(a.value.length, ids.length);
          for (const x of a.value) if (x.created) made.set(x.job.id, (made.get(x.job.id) ?? 0) + 1);
        }
        assert.ok(ids.every((id) => made.get(id) === 1) || failures.length > 0, `round ${round}: each job made once`);
      }
      assert.deepEqual(failures, []);
      assert.equal((await h.store.countJobs({ queue: 'dl' })).dl!.queued, rounds * 300);
    } finally {
      await other.close();
    }
  });
});
