import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../../src/core/store.js';
import { FusionError } from '../../../src/core/errors.js';
import { T0, job, useStore, type StoreFactory } from '../harness.js';


export function schedulesArea(make: StoreFactory): void {
  describe('schedules', () => {
    let s!: Store;
    useStore(make, (store) => (s = store));

    const rec = (id: string, nextRunAt: number | null, paused = false) => ({ id, spec: { every: 1000, id }, nextRunAt, paused });

    it('upserts, gets, lists and removes', async () => {
      const a = await s.saveSchedule({ schedule: rec('a', T0 + 10), now: T0 });
      assert.equal(a.version, 1);
      assert.equal(a.runCount, 0);
      assert.deepEqual(a.spec, { every: 1000, id: 'a' });
      const a2 = await s.saveSchedule({ schedule: { ...rec('a', T0 + 20), spec: { changed: true } }, now: T0 + 1 });
      assert.equal(a2.version, 2);
      assert.equal(a2.createdAt, T0);
      assert.deepEqual(a2.spec, { changed: true });
      await s.saveSchedule({ schedule: rec('b', null), now: T0 });
      assert.deepEqual((await s.listSchedules()).map((x) => x.id), ['a', 'b']);
      assert.equal(await s.removeSchedule({ id: 'a' }), true);
      assert.equal(await s.removeSchedule({ id: 'a' }), false);
      assert.equal(await s.getSchedule({ id: 'a' }), null);
    });

    it('removes with expected version and createdAt only while the schedule is still that record (retention of ended ones)', async () => {
      const ended = await s.saveSchedule({ schedule: rec('a', null), now: T0 });
      const at = (v: { version: number; createdAt: number }) => ({ version: v.version, createdAt: v.createdAt });
      // Updated since it was read: kept.
      const revived = await s.saveSchedule({ schedule: rec('a', T0 + 10), now: T0 + 1 });
      assert.equal(await s.removeSchedule({ id: 'a', expected: at(ended) }), false);
      assert.equal((await s.getSchedule({ id: 'a' }))!.nextRunAt, T0 + 10);
      // Removed and made again: the same version, another createdAt, kept.
      await s.removeSchedule({ id: 'a' });
      const again = await s.saveSchedule({ schedule: rec('a', null), now: T0 + 2 });
      assert.equal(again.version, 1);
      assert.equal(await s.removeSchedule({ id: 'a', expected: { version: 1, createdAt: ended.createdAt } }), false);
      assert.equal(await s.removeSchedule({ id: 'a', expected: at(revived) }), false);
      assert.equal(await s.removeSchedule({ id: 'a', expected: at(again) }), true);
      assert.equal(await s.getSchedule({ id: 'a' }), null);
      assert.deepEqual(await s.listSchedules(), []);
    });

    it('saves with a version check: a stale version changes nothing and says conflict', async () => {
      const a = await s.saveSchedule({ schedule: rec('a', T0 + 10), now: T0, expectedVersion: 0 });
      assert.equal(a.version, 1);
      await assert.rejects(s.saveSchedule({ schedule: rec('a', T0 + 99), now: T0, expectedVersion: 0 }), (e: FusionError) => e.code === 'conflict' && e.status === 409);
      const advanced = await s.advanceSchedule({ id: 'a', expectedVersion: 1, next: { nextRunAt: T0 + 20, runCount: 1, lastRunAt: T0 + 10 }, jobs: [], now: T0 + 10 });
      assert.equal(advanced, true);
      // A write based on version 1 would undo the advance: refused.
      await assert.rejects(s.saveSchedule({ schedule: { ...rec('a', T0 + 10), paused: true }, now: T0 + 11, expectedVersion: 1 }),
        (e: FusionError) => e.code === 'conflict' && e.details.actual === 2);
      const kept = (await s.getSchedule({ id: 'a' }))!;
      assert.deepEqual([kept.nextRunAt, kept.paused, kept.version], [T0 + 20, false, 2]);
      const paused = await s.saveSchedule({ schedule: { ...rec('a', T0 + 20), paused: true }, now: T0 + 12, expectedVersion: 2 });
      assert.deepEqual([paused.paused, paused.version, paused.runCount], [true, 3, 1]);
      await assert.rejects(s.saveSchedule({ schedule: rec('none', T0), now: T0, expectedVersion: 4 }), (e: FusionError) => e.code === 'conflict');
      assert.equal(await s.getSchedule({ id: 'none' }), null);
    });

    it('finds due schedules, skipping paused and ended ones', async () => {
      await s.saveSchedule({ schedule: rec('a', T0 + 10), now: T0 });
      await s.saveSchedule({ schedule: rec('b', T0 + 5), now: T0 });
      await s.saveSchedule({ schedule: rec('p', T0, true), now: T0 });
      await s.saveSchedule({ schedule: rec('e', null), now: T0 });
      await s.saveSchedule({ schedule: rec('f', T0 + 100), now: T0 });
      assert.deepEqual((await s.dueSchedules({ now: T0 + 10, limit: 10 })).map((x) => x.id), ['b', 'a']);
      assert.equal(await s.nextScheduleAt(), T0 + 5);
    });

    it('advances a schedule and adds its jobs in one compare-and-set step', async () => {
      const a = await s.saveSchedule({ schedule: rec('a', T0), now: T0 });
      const j = job({ id: 'a@1', scheduleId: 'a' });
      assert.equal(await s.advanceSchedule({ id: 'a', expectedVersion: a.version, next: { nextRunAt: T0 + 1000, runCount: 1, lastRunAt: T0 }, jobs: [j], now: T0 }), true);
      assert.equal(await s.advanceSchedule({ id: 'a', expectedVersion: a.version, next: { nextRunAt: T0 + 1000, runCount: 1, lastRunAt: T0 }, jobs: [job({ id: 'a@dup' })], now: T0 }), false);
      assert.equal(await s.getJob({ id: 'a@dup' }), null);
      const after = (await s.getSchedule({ id: 'a' }))!;
      assert.equal(after.nextRunAt, T0 + 1000);
      assert.equal(after.runCount, 1);
      assert.equal(after.lastRunAt, T0);
      assert.equal(after.version, a.version + 1);
      assert.equal((await s.getJob({ id: 'a@1' }))!.scheduleId, 'a');
    });

    it('tells a schedule created again under the same id from the removed one, though both are at version 1', async () => {
      const old = await s.saveSchedule({ schedule: rec('a', T0 + 10), now: T0, expectedVersion: 0 });
      assert.equal(await s.removeSchedule({ id: 'a' }), true);
      const again = await s.saveSchedule({ schedule: { ...rec('a', T0 + 5000), spec: { again: true } }, now: T0 + 1, expectedVersion: 0 });
      assert.deepEqual([old.version, again.version, again.createdAt], [1, 1, T0 + 1]);
      // A fire and a save read from the removed schedule: refused, nothing changes.
      const advance = (createdAt: number, jobId: string) => s.advanceSchedule({
        id: 'a', expectedVersion: 1, expectedCreatedAt: createdAt, next: { nextRunAt: T0 + 6000, runCount: 1, lastRunAt: T0 + 5000 },
        jobs: [job({ id: jobId, scheduleId: 'a' })], now: T0 + 5000,
      });
      assert.equal(await advance(old.createdAt, 'a@old'), false);
      const pause = { ...rec('a', T0 + 6000), paused: true };
      await assert.rejects(s.saveSchedule({ schedule: pause, now: T0 + 5001, expectedVersion: 1, expectedCreatedAt: old.createdAt }),
        (e: FusionError) => e.code === 'conflict' && e.status === 409 && e.details.actual === 1);
      assert.equal(await s.getJob({ id: 'a@old' }), null);
      const kept = (await s.getSchedule({ id: 'a' }))!;
      assert.deepEqual([kept.spec, kept.nextRunAt, kept.paused, kept.runCount, kept.lastRunAt, kept.version, kept.createdAt],
        [{ again: true }, T0 + 5000, false, 0, null, 1, T0 + 1]);
      // The same with the new schedule's creation time: applied (the save at the version the advance left).
      assert.equal(await advance(again.createdAt, 'a@new'), true);
      assert.equal((await s.getJob({ id: 'a@new' }))!.scheduleId, 'a');
      const paused = await s.saveSchedule({ schedule: pause, now: T0 + 5001, expectedVersion: 2, expectedCreatedAt: again.createdAt });
      assert.deepEqual([paused.paused, paused.version, paused.runCount, paused.lastRunAt, paused.createdAt], [true, 3, 1, T0 + 5000, T0 + 1]);
    });
  });
}
