import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../../src/core/store.js';
import { T0, job, useStore, claimer, type StoreFactory } from '../harness.js';


export function listsArea(make: StoreFactory): void {
  describe('lists', () => {
    let s!: Store;
    useStore(make, (store) => (s = store));
    const claim = claimer(() => s);

    it('lists newest first with cursor paging and filters', async () => {
      await s.addJobs({ jobs: Array.from({ length: 7 }, (_, i) => job({ id: `l${i}`, task: i % 2 ? 'odd' : 'even' })), now: T0 });
      await s.addJobs({ jobs: [job({ id: 'other', queue: 'z' })], now: T0 });
      const p1 = await s.listJobs({ queue: 'q', limit: 3 });
      assert.deepEqual(p1.items.map((j) => j.id), ['l6', 'l5', 'l4']);
      const p2 = await s.listJobs({ queue: 'q', limit: 3, cursor: p1.nextCursor! });
      assert.deepEqual(p2.items.map((j) => j.id), ['l3', 'l2', 'l1']);
      const p3 = await s.listJobs({ queue: 'q', limit: 3, cursor: p2.nextCursor! });
      assert.deepEqual(p3.items.map((j) => j.id), ['l0']);
      assert.equal(p3.nextCursor, null);
      assert.deepEqual((await s.listJobs({ task: 'odd' })).items.map((j) => j.id), ['l5', 'l3', 'l1']);
      await claim(1);
      assert.deepEqual((await s.listJobs({ queue: 'q', state: 'active' })).items.map((j) => j.id), ['l0']);
      assert.equal((await s.listJobs({})).items.length, 8);
    });

    it('lists one state in that state\'s own order, the same on every store, paging by cursor', async () => {
      // Each order differs from enqueue order, so a store that pages a state by seq fails here.
      const ids = async (state: 'queued' | 'scheduled' | 'active' | 'completed' | 'failed' | 'cancelled', queue?: string) => {
        const out: string[] = [];
        let cursor: string | undefined;
        do {
          const p = await s.listJobs({ ...(queue ? { queue } : {}), state, limit: 2, ...(cursor ? { cursor } : {}) });
          assert.ok(p.items.length <= 2);
          out.push(...p.items.map((j) => j.id));
          cursor = p.nextCursor ?? undefined;
        } while (cursor);
        return out;
      };
      // queued: run order (priority, then enqueue order).
      await s.addJobs({ jobs: [job({ id: 'r-low', priority: 'low' }), job({ id: 'r-mod1' }), job({ id: 'r-high1', priority: 'high' }), job({ id: 'r-mod2' }), job({ id: 'r-high2', priority: 'high' })], now: T0 });
      assert.deepEqual(await ids('queued', 'q'), ['r-high1', 'r-high2', 'r-mod1', 'r-mod2', 'r-low']);
      // A page that ends inside a priority band goes on inside it.
      await s.addJobs({ jobs: [job({ id: 'b-mod', queue: 'q2' }), job({ id: 'b-high1', queue: 'q2', priority: 'high' }), job({ id: 'b-high2', queue: 'q2', priority: 'high' }), job({ id: 'b-high3', queue: 'q2', priority: 'high' })], now: T0 });
      assert.deepEqual(await ids('queued', 'q2'), ['b-high1', 'b-high2', 'b-high3', 'b-mod']);
      // scheduled: due time, soonest first.
      await s.addJobs({ jobs: [job({ id: 'd-3', runAt: T0 + 3000 }), job({ id: 'd-1', runAt: T0 + 1000 }), job({ id: 'd-2', runAt: T0 + 2000 })], now: T0 });
      assert.deepEqual(await ids('scheduled', 'q'), ['d-1', 'd-2', 'd-3']);
      // active: lease expiry, soonest first (claimed one at a time with leases out of claim order).
      const taken: { id: string; token: string }[] = [];
      for (const [i, leaseMs] of [[1, 50_000], [2, 10_000], [3, 30_000], [4, 20_000], [5, 40_000]] as const) {
        const j = (await claim(1, ['q'], T0 + i, leaseMs)).jobs[0]!;
        taken.push({ id: j.id, token: j.leaseToken! });
      }
      assert.deepEqual(taken.map((t) => t.id), ['r-high1', 'r-high2', 'r-mod1', 'r-mod2', 'r-low']);
      assert.deepEqual(await ids('active', 'q'), ['r-high2', 'r-mod2', 'r-mod1', 'r-low', 'r-high1']);
      // finished: the latest to end first, not the latest enqueued.
      const end = { 'r-mod1': 10, 'r-low': 20, 'r-high1': 30, 'r-mod2': 40 } as Record<string, number>;
      for (const t of taken.filter((x) => end[x.id] !== undefined)) {
        assert.deepEqual(await s.finishJobs({ outcomes: [{ kind: 'completed', id: t.id, token: t.token, at: T0 + 100 + end[t.id]!, result: null }] }), [true]);
      }
      assert.deepEqual(await ids('completed', 'q'), ['r-mod2', 'r-high1', 'r-low', 'r-mod1']);
      assert.deepEqual(await ids('completed'), ['r-mod2', 'r-high1', 'r-low', 'r-mod1'], 'the same without a queue');
      const h2 = taken.find((x) => x.id === 'r-high2')!;
      await s.finishJobs({ outcomes: [{ kind: 'failed', id: h2.id, token: h2.token, at: T0 + 200, error: { message: 'x', retryable: false } }] });
      await s.cancelJob({ id: 'd-3', now: T0 + 300 });
      await s.cancelJob({ id: 'd-1', now: T0 + 400 });
      await s.cancelJob({ id: 'd-2', now: T0 + 350 });
      assert.deepEqual(await ids('failed', 'q'), ['r-high2']);
      assert.deepEqual(await ids('cancelled', 'q'), ['d-1', 'd-2', 'd-3']);
    });

    it('pages one state with a stable cursor while jobs come and go between pages', async () => {
      // An operator pages through failed jobs to retry them while others fail and are removed: every
      // job there from the first page to the last must come exactly once (an offset cursor repeats
      // jobs when newer ones arrive ahead and skips jobs when seen ones leave).
      const pageAll = async (state: 'cancelled' | 'scheduled', queue: string | undefined, between: (round: number, seen: string[]) => Promise<void>) => {
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let round = 0; ; round++) {
          const p = await s.listJobs({ ...(queue ? { queue } : {}), state, limit: 2, ...(cursor ? { cursor } : {}) });
          seen.push(...p.items.map((j) => j.id));
          if (!p.nextCursor) return seen;
          cursor = p.nextCursor;
          await between(round, seen);
        }
      };
      const once = (seen: string[], kept: string[]) => {
        for (const id of kept) assert.equal(seen.filter((x) => x === id).length, 1, `${id} listed once in ${seen.join(',')}`);
      };
      // Finished (newest end first), across two queues, with ends tied in threes.
      const kept = Array.from({ length: 12 }, (_, i) => `k${String(i).padStart(2, '0')}`);
      await s.addJobs({ jobs: kept.map((id, i) => job({ id, queue: i % 2 ? 'z' : 'q', runAt: T0 + 60_000 })), now: T0 });
      for (const [i, id] of kept.entries()) await s.cancelJob({ id, now: T0 + 100 + Math.floor(i / 3) });
      const seen = await pageAll('cancelled', undefined, async (round, sofar) => {
        // By turns: one ends after all the others (ahead of the cursor), or one already listed is removed.
        if (round % 2 === 0) {
          await s.addJobs({ jobs: [job({ id: `new${round}`, queue: round % 4 ? 'q' : 'z', runAt: T0 + 60_000 })], now: T0 });
          await s.cancelJob({ id: `new${round}`, now: T0 + 1000 + round });
        } else await s.removeJob({ id: sofar[sofar.length - 1]!, now: T0 + 2000 });
      });
      // Each removed job was the last one listed, so it too came once.
      once(seen, kept);
      // Scheduled (soonest first) in one queue, due times tied in pairs.
      const due = Array.from({ length: 10 }, (_, i) => `d${i}`);
      await s.addJobs({ jobs: due.map((id, i) => job({ id, queue: 'p', runAt: T0 + 10_000 + Math.floor(i / 2) })), now: T0 });
      const seenDue = await pageAll('scheduled', 'p', async (round, sofar) => {
        if (round % 2 === 0) await s.addJobs({ jobs: [job({ id: `early${round}`, queue: 'p', runAt: T0 + 5000 - round })], now: T0 });
        else await s.removeJob({ id: sofar[sofar.length - 1]!, now: T0 });
      });
      once(seenDue, due);
      // A cursor of an earlier version's offset form is refused as such, never read as a place.
      await assert.rejects(s.listJobs({ state: 'scheduled', cursor: 'o4' }), { code: 'invalid_cursor' });
    });

    it('counts jobs per state per queue', async () => {
      await s.addJobs({ jobs: [job({ id: 'a' }), job({ id: 'b' }), job({ id: 'c', runAt: T0 + 10 }), job({ id: 'd', queue: 'z' })], now: T0 });
      await claim(1);
      const c = await s.countJobs();
      assert.deepEqual(c.q, { scheduled: 1, queued: 1, active: 1, completed: 0, failed: 0, cancelled: 0 });
      assert.equal(c.z!.queued, 1);
      assert.deepEqual(Object.keys(await s.countJobs({ queue: 'z' })), ['z']);
    });

    it('reports queues with counts and the oldest queued job', async () => {
      await s.addJobs({ jobs: [job({ id: 'a' }, T0 - 50)], now: T0 });
      const q = (await s.listQueues()).find((x) => x.name === 'q')!;
      assert.equal(q.counts.queued, 1);
      assert.equal(q.oldestQueuedAt, T0 - 50);
      assert.equal(q.rateLimit, null);
    });

    it('lists live workers and forgets expired or gone ones', async () => {
      const info = { id: 'w1', host: 'h', pid: 1, queues: ['q'], concurrency: 2, running: [], startedAt: T0, lastSeenAt: T0 };
      await s.beatWorker({ worker: info, ttlMs: 1000 });
      await s.beatWorker({ worker: { ...info, id: 'w2' }, ttlMs: 1000 });
      assert.deepEqual((await s.listWorkers({ now: T0 + 500 })).map((w) => w.id), ['w1', 'w2']);
      await s.removeWorker({ id: 'w2' });
      assert.deepEqual((await s.listWorkers({ now: T0 + 500 })).map((w) => w.id), ['w1']);
      assert.deepEqual(await s.listWorkers({ now: T0 + 2000 }), []);
    });
  });
}
