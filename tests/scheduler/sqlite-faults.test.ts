// A schedule the store refuses to advance (a real SQLite trigger raising an error) must neither stop
// the other schedules nor turn the scheduler into a hot loop.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { ManualClock } from '../../src/core/clock.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { tempStore } from './helpers.js';

const T0 = Date.UTC(2026, 0, 1);

describe('scheduler with a schedule the store refuses', () => {
  it('fires the others, backs off maxSleepMs, and recovers when the store accepts again', async () => {
    const env = tempStore();
    const clock = new ManualClock(T0);
    const s = new Scheduler(env.store, { clock, maxSleepMs: 5000 });
    const db = new Database(env.path);
    try {
      await s.create({ id: 'bad', trigger: { every: '1s' }, template: { task: 't' } });
      await s.create({ id: 'good', trigger: { every: '1s' }, template: { task: 't' } });
      db.exec(`CREATE TRIGGER refuse BEFORE UPDATE ON schedules WHEN NEW.id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END;`);
      s.start();
      await s.whenIdle();
      clock.set(T0 + 1000);
      await s.whenIdle(); // never resolves if a failing pass re-arms at once
      const jobs = async (id: string) => (await env.store.listJobs({ limit: 100 })).items.filter((j) => j.scheduleId === id).length;
      assert.equal(await jobs('good'), 1);
      assert.equal(await jobs('bad'), 0);
      assert.equal(s.stats.errors, 1);
      clock.set(T0 + 2000);
      await s.whenIdle();
      assert.equal(await jobs('good'), 1, 'backing off: no pass before maxSleepMs after a failure');
      assert.equal(s.stats.errors, 1);
      db.exec('DROP TRIGGER refuse');
      clock.set(T0 + 6000);
      await s.whenIdle();
      assert.equal(await jobs('bad'), 6, 'once accepted, the refused schedule fires its occurrences 1s..6s: all within the 5s grace');
      assert.ok(await jobs('good') >= 2);
    } finally {
      await s.stop();
      db.close();
      await env.cleanup();
    }
  });
});
