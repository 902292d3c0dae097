// Schedules far along their series, or whose next occurrence is far away, and an update that would
// leave a one-off in the past: what fires, what is refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { Scheduler } from '../../src/core/scheduler.js';
import type { Store } from '../../src/core/store.js';
import { tempStore } from './helpers.js';

const template = { task: 'remind', payload: { to: '+15550100' } };
const HOUR = 3_600_000;

const jobIds = async (store: Store, scheduleId: string) =>
  (await store.listJobs({ limit: 1000 })).items.filter((j) => j.scheduleId === scheduleId).map((j) => j.id).sort();

describe('an RRULE with COUNT, thousands of occurrences along', () => {
  it('keeps firing an hourly COUNT=20000 rule past its 6,248th occurrence (before, the series ended there)', async () => {
    const env = tempStore();
    try {
      // 2026-09-18 02:30Z: about 6,240 hourly occurrences after DTSTART, 13,750 still to come.
      const clock = new ManualClock(Date.UTC(2026, 8, 18, 2, 30));
      const s = new Scheduler(env.store, { clock });
      await s.create({ id: 'h', trigger: { rrule: 'DTSTART:20260101T000000Z\nRRULE:FREQ=HOURLY;COUNT=20000' }, template });
      const fired: string[] = [];
      for (let i = 0; i < 8; i++) {
        const cur = (await s.get('h'))!;
        assert.notEqual(cur.nextRunAt, null, `the series ended after ${cur.runCount} runs, at ${cur.lastRunAt && new Date(cur.lastRunAt).toISOString()}`);
        clock.set(cur.nextRunAt!);
        await s.tick();
        fired.push(new Date(cur.nextRunAt!).toISOString());
      }
      assert.deepEqual(await jobIds(env.store, 'h'), fired.map((t) => `h@${t}`).sort());
    } finally {
      await env.cleanup();
    }
  });

  it('ends at its COUNT-th occurrence, however far along', async () => {
    const env = tempStore();
    try {
      // The 20,000th hourly occurrence from 2026-01-01 00:00Z is 2028-04-13 07:00Z.
      const clock = new ManualClock(Date.UTC(2028, 3, 13, 5, 30));
      const s = new Scheduler(env.store, { clock });
      const c = await s.create({ id: 'h', trigger: { rrule: 'DTSTART:20260101T000000Z\nRRULE:FREQ=HOURLY;COUNT=20000' }, template });
      assert.equal(new Date(c.nextRunAt!).toISOString(), '2028-04-13T06:00:00.000Z');
      for (const hour of [6, 7]) {
        clock.set(Date.UTC(2028, 3, 13, hour));
        await s.tick();
      }
      assert.deepEqual(await jobIds(env.store, 'h'), ['h@2028-04-13T06:00:00.000Z', 'h@2028-04-13T07:00:00.000Z']);
      assert.equal((await s.get('h'))!.nextRunAt, null);
    } finally {
      await env.cleanup();
    }
  });
});

describe('a due occurrence whose successor is out of reach', () => {
  it('Feb 29 on a Monday: the 2044 occurrence is enqueued, though the next (2072) is past the search budget', async () => {
    const env = tempStore();
    try {
      const clock = new ManualClock(Date.UTC(2044, 1, 28, 9));
      const s = new Scheduler(env.store, { clock });
      const c = await s.create({ id: 'leap', trigger: { rrule: 'DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO' }, template });
      assert.equal(new Date(c.nextRunAt!).toISOString(), '2044-02-29T09:00:00.000Z');
      clock.set(c.nextRunAt!);
      await s.tick();
      assert.deepEqual(await jobIds(env.store, 'leap'), ['leap@2044-02-29T09:00:00.000Z']);
    } finally {
      await env.cleanup();
    }
  });
});

describe('an update that moves a one-off into the past', () => {
  it('is refused like a create, not stored as a schedule that never fires', async () => {
    const env = tempStore();
    try {
      const T0 = Date.UTC(2026, 0, 1);
      const clock = new ManualClock(T0);
      const s = new Scheduler(env.store, { clock });
      await s.create({ id: 'a', trigger: { at: T0 + HOUR }, template });
      await assert.rejects(s.update('a', { trigger: { at: T0 - HOUR } }), /past/);
      assert.equal((await s.get('a'))!.nextRunAt, T0 + HOUR, 'unchanged');
      // One that keeps the trigger of a one-off fired long ago is not refused for it.
      clock.set(T0 + HOUR);
      await s.tick();
      clock.set(T0 + 5 * HOUR);
      assert.equal((await s.update('a', { description: 'sent' })).description, 'sent');
    } finally {
      await env.cleanup();
    }
  });
});
