// A schedule removed and created again under the same id while a scheduler fires the old one: the
// new schedule starts at version 1 again, like the old one read, so only the creation time tells a
// write read from the old schedule from one read from the new.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { Scheduler } from '../../src/core/scheduler.js';
import type { Store } from '../../src/core/store.js';
import { tempStore } from './helpers.js';

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

/**
 * Schedule 'x' (hourly, task 'remind') created at T0, the clock then at `at`; `recreate` removes it
 * and creates a new 'x' (daily at 09:00, task 'other') through `admin`, a scheduler on the store itself.
 */
async function withOldSchedule(
  at: number, test: (t: { store: Store; clock: ManualClock; admin: Scheduler; recreate(): Promise<void> }) => Promise<void>,
): Promise<void> {
  const env = tempStore();
  try {
    const clock = new ManualClock(T0);
    const admin = new Scheduler(env.store, { clock });
    await admin.create({ id: 'x', trigger: { cron: '0 * * * *' }, template: { task: 'remind', payload: {} } });
    clock.set(at);
    const recreate = async () => {
      await admin.remove('x');
      await admin.create({ id: 'x', trigger: { cron: '0 9 * * *' }, template: { task: 'other', payload: {} } });
    };
    await test({ store: env.store, clock, admin, recreate });
  } finally {
    await env.cleanup();
  }
}

describe('a schedule removed and created again while it fires', () => {
  it('the old schedule\'s advance, landing after, changes nothing of the new one', () =>
    withOldSchedule(T0 + HOUR, async ({ store, clock, admin, recreate }) => {
      // The scheduler has read 'x' as due; before its advance lands, 'x' is removed and created again.
      const racing = Object.create(store) as Store;
      racing.advanceSchedule = async (p) => {
        await recreate();
        return store.advanceSchedule(p);
      };
      const report = await new Scheduler(racing, { clock }).tick();
      const x = (await admin.get('x'))!;
      assert.equal(new Date(x.nextRunAt!).toISOString(), '2026-01-01T09:00:00.000Z');
      assert.deepEqual([x.runCount, x.lastRunAt, x.template.task], [0, null, 'other']);
      assert.deepEqual((await store.listJobs({ limit: 100 })).items.map((j) => j.id), []);
      assert.deepEqual([report.enqueued, report.lost], [0, 1]);
    }));

  it('an update read from the old schedule is applied to the new one as read again, not saved over it', () =>
    withOldSchedule(T0 + 1, async ({ store, clock, recreate }) => {
      // The update reads 'x'; before its save lands, 'x' is removed and created again.
      const racing = Object.create(store) as Store;
      let raced = false;
      racing.saveSchedule = async (p) => {
        if (!raced) {
          raced = true;
          await recreate();
        }
        return store.saveSchedule(p);
      };
      const updated = await new Scheduler(racing, { clock }).update('x', { description: 'patched' });
      // Saved over the new schedule as read after the conflict: its trigger and template, the patch.
      assert.deepEqual([updated.trigger, updated.template.task, updated.description], [{ cron: '0 9 * * *' }, 'other', 'patched']);
      assert.equal(new Date(updated.nextRunAt!).toISOString(), '2026-01-01T09:00:00.000Z');
    }));
});
