// Listing one queue across every state (a union over the per-state indexes) and counts (one
// index-only count per state) give what a plain scan gives: same order, pages, filters, numbers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import { pgHarness, pgSkip } from '../helpers/postgres.js';

const skip = await pgSkip();

describe('PostgreSQL listing and counts over the state indexes', { skip }, () => {
  let h: Awaited<ReturnType<typeof pgHarness>>;
  const T = 1_000_000;
  before(async () => {
    h = await pgHarness();
    const s = h.store;
    // 40 jobs in q across every state, interleaved with jobs of another queue.
    const jobs = Array.from({ length: 60 }, (_, i) =>
      resolveSpec({ id: `j${String(i).padStart(2, '0')}`, task: i % 3 ? 't' : 'u', queue: i % 3 === 2 ? 'other' : 'q', runAt: i % 5 === 0 ? T + 1e9 : T }, T));
    await s.addJobs({ jobs, now: T });
    const c1 = await s.claimJobs({ queues: ['q'], workerId: 'w', limit: 12, leaseMs: 60_000, now: T });
    const [a, b, c, ...rest] = c1.jobs;
    await s.finishJobs({ outcomes: [
      { kind: 'completed', id: a!.id, token: a!.leaseToken!, at: T, result: 1 },
      { kind: 'failed', id: b!.id, token: b!.leaseToken!, at: T, error: { message: 'x', retryable: false } },
      ...rest.slice(0, 5).map((j) => ({ kind: 'completed' as const, id: j.id, token: j.leaseToken!, at: T, result: null })),
    ] });
    void c;
    await s.cancelJob({ id: 'j58', now: T });
  });
  after(async () => h?.cleanup());

  it('pages of one queue come newest first across states, as the seq order of a full scan', async () => {
    const { rows } = await h.store.pool.query(`SELECT id FROM "${h.schema}".jobs WHERE queue = 'q' ORDER BY seq DESC`);
    const want = rows.map((r) => r.id as string);
    const states = new Set((await Promise.all(want.map((id) => h.store.getJob({ id })))).map((j) => j!.state));
    assert.ok(states.size >= 5, `several states in the queue (${[...states].join(', ')})`);
    const got: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await h.store.listJobs({ queue: 'q', limit: 7, cursor });
      assert.ok(page.items.every((j) => j.queue === 'q'));
      got.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.deepEqual(got, want);
    const tasks = (await h.store.listJobs({ queue: 'q', task: 'u', limit: 100 })).items.map((j) => j.id);
    assert.deepEqual(tasks, want.filter((id) => Number(id.slice(1)) % 3 === 0));
  });

  it('counts equal a GROUP BY over the table, for all queues and for one', async () => {
    const { rows } = await h.store.pool.query(`SELECT queue, state, count(*)::int AS n FROM "${h.schema}".jobs GROUP BY queue, state`);
    const all = await h.store.countJobs();
    for (const r of rows) assert.equal(all[r.queue]![r.state as 'queued'], r.n, `${r.queue}/${r.state}`);
    const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    assert.equal(sum(all.q!) + sum(all.other!), 60);
    assert.deepEqual((await h.store.countJobs({ queue: 'q' })).q, all.q);
    assert.deepEqual(await h.store.countJobs({ queue: 'none' }), { none: { scheduled: 0, queued: 0, active: 0, completed: 0, failed: 0, cancelled: 0 } });
  });
});
