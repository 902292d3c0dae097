import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store, StoreEvent } from '../../../src/core/store.js';
import { T0, job, useStore, claimer, waitFor, type StoreFactory } from '../harness.js';


export function eventsArea(make: StoreFactory): void {
  describe('events', () => {
    let s!: Store;
    useStore(make, (store) => (s = store));
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
      await waitFor(() => seen.some((e) => e.type === 'removed') && seen.some((e) => e.type === 'resumed'));
      assert.equal(seen.find((e) => e.type === 'removed' && e.jobId === 'a')!.at, T0 + 11);
      assert.equal(seen.find((e) => e.type === 'resumed' && e.queue === 'q')!.at, T0 + 22);
      off();
    });

    it('answers ping', async () => {
      await s.ping();
    });
  });
}
