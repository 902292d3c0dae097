import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store, StoreEvent } from '../../../src/core/store.js';
import { openStore } from '../../../src/stores/index.js';
import { T0, job, useStore, claimer, waitFor, type StoreFactory, type StoreHarness } from '../harness.js';


export function eventsArea(make: StoreFactory): void {
  describe('events', () => {
    let s!: Store;
    let h!: StoreHarness;
    useStore(make, (store, harness) => ((s = store), (h = harness)));
    const claim = claimer(() => s);

    it('emits an event for each state change', async () => {
      const seen: StoreEvent[] = [];
      const off = s.subscribe((e) => seen.push(e));
      // Ids travel inside the event messages: one that needs escaping in JSON must come out whole.
      const odd = 'q"uo\\te\nline';
      await s.addJobs({ jobs: [job({ id: 'a' }), job({ id: 'b', runAt: T0 + 5 }), job({ id: odd, runAt: T0 + 7 })], now: T0 });
      const [j] = (await claim(1)).jobs;
      await s.finishJobs({ outcomes: [{ kind: 'completed', id: j!.id, token: j!.leaseToken!, at: T0, result: null }] });
      await s.cancelJob({ id: 'b', now: T0 });
      const want = (type: string, id: string) =>
        waitFor(() => seen.some((e) => e.type === type && e.jobId === id && e.queue === 'q'));
      await want('queued', 'a');
      await want('scheduled', 'b');
      await want('scheduled', odd);
      assert.equal(seen.find((e) => e.type === 'scheduled' && e.jobId === odd)!.runAt, T0 + 7);
      await want('active', 'a');
      await want('completed', 'a');
      await want('cancelled', 'b');
      off();
    });

    it('dates the events of operator actions with the time it is given, not its own clock', async () => {
      const seen: StoreEvent[] = [];
      const off = s.subscribe((e) => seen.push(e));
      await s.addJobs({ jobs: [job({ id: 'a' })], now: T0 });
      await s.removeJob({ id: 'a', now: T0 + 11 });
      await s.setQueueOptions({ queue: 'q', options: { concurrency: 2 }, now: T0 + 22 });
      await waitFor(() => seen.some((e) => e.type === 'removed') && seen.some((e) => e.type === 'limits-changed'));
      assert.equal(seen.find((e) => e.type === 'removed' && e.jobId === 'a')!.at, T0 + 11);
      assert.equal(seen.find((e) => e.type === 'limits-changed' && e.queue === 'q')!.at, T0 + 22);
      off();
    });

    // New limits used to go out as 'resumed' (to wake workers), which the event hub showed as
    // queue.resumed: after a pause, viewers saw a resume the queue never had.
    it('tells of new limits as limits-changed, here and on another connection, and of no resume', async () => {
      const other = await openStore(h.url, h.opening);
      const here: StoreEvent[] = [];
      const there: StoreEvent[] = [];
      const offs = [s.subscribe((e) => here.push(e)), other.subscribe((e) => there.push(e))];
      try {
        // The other connection listens before anything is sent (PostgreSQL's LISTEN; Redis's calls wait for their subscription).
        await (other as { listening?(): Promise<void> }).listening?.();
        await other.countJobs({ queue: 'q' });
        await s.pauseQueue({ queue: 'q', now: T0 });
        await s.setQueueOptions({ queue: 'q', options: { concurrency: 2 }, now: T0 + 1 });
        await s.setQueueOptions({ queue: 'open', options: { rateLimit: { max: 5, windowMs: 1000 } }, now: T0 + 2 });
        // A job added last: once each listener has its event (PostgreSQL tells other connections of
        // adds per queue, with no id), it has every queue event before it.
        await s.addJobs({ jobs: [job({ id: 'last', queue: 'open' })], now: T0 + 3 });
        const queueEvents = (seen: StoreEvent[]) => seen.filter((e) => e.type !== 'queued').map((e) => [e.type, e.queue]);
        for (const [name, seen] of [['this connection', here], ['the other connection', there]] as const) {
          await waitFor(() => seen.some((e) => e.type === 'queued' && e.queue === 'open'), 5000);
          assert.deepEqual(queueEvents(seen), [['paused', 'q'], ['limits-changed', 'q'], ['limits-changed', 'open']], name);
        }
        assert.equal((await s.listQueues()).find((q) => q.name === 'q')!.paused, true);
      } finally {
        offs.forEach((off) => off());
        await other.close();
      }
    });

    it('answers ping', async () => {
      await s.ping();
    });
  });
}
