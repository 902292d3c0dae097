// The Scheduler suite, written against the Store contract and run against every store (like the
// contract suite): operations, firing, misfire policies with a ManualClock, limits and bounds, DST
// days through the store, and several instances (each with its own store connection) racing.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { FusionError } from '../../src/core/errors.js';
import { Scheduler, occurrenceJobId, type ScheduleInput } from '../../src/core/scheduler.js';
import type { Job } from '../../src/core/job.js';
import { TaskRegistry } from '../../src/core/registry.js';
import type { Store } from '../../src/core/store.js';
import { iso, local } from './helpers.js';

export interface SchedulerHarness {
  store: Store;
  /** Another connection to the same store, as a second scheduler process would have. */
  connect(): Promise<Store>;
  cleanup(): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const MIN = 60_000;
const tpl = { task: 'remind', payload: { to: '+15550100' } };
const isInvalid = (field: string) => (e: FusionError) => e instanceof FusionError && e.code === 'invalid_schedule' && e.details.field === field && e.status === 400;

export function schedulerSuite(name: string, make: () => Promise<SchedulerHarness>): void {
  describe(`Scheduler on ${name}`, () => {
    let env: SchedulerHarness;
    let clock: ManualClock;
    let s: Scheduler;
    const jobsOf = async (id: string): Promise<Job[]> => {
      const all = await env.store.listJobs({ limit: 1000 });
      return all.items.filter((j) => j.scheduleId === id).sort((a, b) => a.runAt - b.runAt || a.id.localeCompare(b.id));
    };

    beforeEach(async () => {
      env = await make();
      clock = new ManualClock(T0);
      s = new Scheduler(env.store, { clock });
    });
    afterEach(async () => {
      await s.stop();
      await env.cleanup();
    });

    describe('operations', () => {
      it('creates, gets, lists, upserts by id, and removes', async () => {
        const a = await s.create({ id: 'a', trigger: { cron: '*/5 * * * *' }, template: tpl, description: 'five' });
        assert.equal(a.nextRunAt, T0 + 5 * MIN, 'T0 matches */5 but is "now": the first occurrence is after now');
        assert.equal(a.runCount, 0);
        assert.equal(a.misfire.policy, 'skip');
        assert.equal(a.description, 'five');
        const b = await s.create({ trigger: { every: '30s' }, template: tpl });
        assert.match(b.id, /^[0-9a-f-]{36}$/);
        assert.equal(b.nextRunAt, T0 + 30_000);
        assert.deepEqual((await s.list()).map((x) => x.id).sort(), ['a', b.id].sort());
        const a2 = await s.create({ id: 'a', trigger: { cron: '0 * * * *' }, template: { ...tpl, priority: 'high' } });
        assert.equal(a2.nextRunAt, T0 + 60 * MIN);
        assert.equal(a2.createdAt, a.createdAt);
        assert.ok(a2.version > a.version);
        assert.deepEqual((await s.get('a'))!.template, { ...tpl, priority: 'high' });
        assert.equal(await s.remove('a'), true);
        assert.equal(await s.remove('a'), false);
        assert.equal(await s.get('a'), null);
      });

      it('refuses invalid input with invalid_schedule naming the field', async () => {
        const ok: ScheduleInput = { trigger: { every: '1m' }, template: tpl };
        const cases: [Partial<ScheduleInput> & Record<string, unknown>, string][] = [
          [{ id: 'has space' }, 'id'],
          [{ trigger: { cron: 'nope' } }, 'trigger.cron'],
          [{ trigger: { every: 'often' } }, 'trigger.every'],
          [{ trigger: { at: 'someday' } }, 'trigger.at'],
          [{ trigger: { cron: '* * * * *', tz: 'Atlantis/Capital' } }, 'trigger.tz'],
          [{ trigger: { cron: '* * * * *', junk: 1 } as never }, 'trigger.junk'],
          [{ trigger: null as never }, 'trigger'],
          [{ template: { payload: 1 } as never }, 'template.task'],
          [{ template: { task: 't', queue: 'bad queue' } }, 'template.queue'],
          [{ template: { task: 't', priority: 'urgent' as never } }, 'template.priority'],
          [{ template: { task: 't', runAt: 5 } as never }, 'template.runAt'],
          [{ startAt: 'later' }, 'startAt'],
          [{ startAt: T0 + 10, endAt: T0 }, 'endAt'],
          [{ limit: 0 }, 'limit'],
          [{ misfire: 'retry' as never }, 'misfire.policy'],
          [{ misfire: { policy: 'catch-up', maxCatchUp: 0 } }, 'misfire.maxCatchUp'],
          [{ misfire: { graceMs: -1 } }, 'misfire.graceMs'],
          [{ trigger: { at: T0 - 3_600_000 } }, 'trigger.at'],
          [{ paused: 'yes' as never }, 'paused'],
          [{ description: 5 as never }, 'description'],
        ];
        for (const [patch, field] of cases) {
          await assert.rejects(s.create({ ...ok, ...patch } as ScheduleInput), isInvalid(field), `${JSON.stringify(patch)} → ${field}`);
        }
        assert.deepEqual(await s.list(), [], 'nothing was stored');
      });

      it('update changes the trigger or template, keeps the run count, refuses unknown ids', async () => {
        await s.create({ id: 'u', trigger: { every: '1m' }, template: tpl });
        clock.set(T0 + MIN);
        await s.tick();
        const u = await s.update('u', { trigger: { cron: '0 12 * * *', tz: 'Asia/Kolkata' } });
        assert.equal(u.runCount, 1);
        assert.equal(local(u.nextRunAt!, 'Asia/Kolkata'), '2026-01-01 12:00');
        assert.deepEqual(u.template, tpl);
        const u2 = await s.update('u', { template: { task: 'other' } });
        assert.equal(u2.nextRunAt, u.nextRunAt);
        assert.equal(u2.template.task, 'other');
        await assert.rejects(s.update('u', { trigger: { every: 'x' } }), isInvalid('trigger.every'));
        await assert.rejects(s.update('nope', { limit: 3 }), (e: FusionError) => e.code === 'not_found' && e.status === 404);
      });

      it('refuses an id that is not text in every operation, and leaves the schedules named "undefined", "null" and "5" alone', async () => {
        // Each store did its own thing: Redis paused, resumed, fired, updated and removed the schedule
        // named "undefined" (or "null"), SQLite threw a bare RangeError for an object, PostgreSQL and
        // Redis found "5" for the number 5 and SQLite did not.
        for (const id of ['undefined', 'null', '5']) await s.create({ id, trigger: { every: '1h' }, template: tpl, description: id });
        for (const bad of [undefined, null, 5, {}] as never[]) {
          const what = String(bad);
          await assert.rejects(s.get(bad), isInvalid('id'), `get ${what}`);
          await assert.rejects(s.update(bad, { description: 'changed' }), isInvalid('id'), `update ${what}`);
          await assert.rejects(s.pause(bad), isInvalid('id'), `pause ${what}`);
          await assert.rejects(s.resume(bad), isInvalid('id'), `resume ${what}`);
          await assert.rejects(s.runNow(bad), isInvalid('id'), `runNow ${what}`);
          await assert.rejects(s.previewSchedule(bad, 1), isInvalid('id'), `previewSchedule ${what}`);
          await assert.rejects(s.remove(bad), isInvalid('id'), `remove ${what}`);
        }
        const left = (await s.list()).map((x) => [x.id, x.description, x.paused]).sort();
        assert.deepEqual(left, [['5', '5', false], ['null', 'null', false], ['undefined', 'undefined', false]]);
        assert.deepEqual((await env.store.listJobs({ limit: 10 })).items, [], 'no job was run now');
        assert.equal((await s.get('5'))!.id, '5', 'a text id works as before');
      });

      it('update leaves a field given as undefined as it was (a limit or a start was dropped, a trigger refused)', async () => {
        const spec: ScheduleInput = {
          id: 'k', trigger: { every: '1m' }, template: tpl, limit: 3, misfire: 'catch-up', description: 'kept', startAt: T0 + 2 * MIN, endAt: T0 + 60 * MIN,
        };
        const { updatedAt: _u, version: _v, ...before } = await s.create(spec);
        const { updatedAt: _u2, version: _v2, ...after } = await s.update('k', {
          trigger: undefined, template: undefined, limit: undefined, misfire: undefined, description: undefined, startAt: undefined, endAt: undefined, paused: undefined,
        });
        assert.deepEqual(after, before);
        assert.equal((await s.update('k', { limit: null })).limit, null, 'null still clears');
      });

      it('pauses and resumes a schedule whose stored template holds a number as its description (taken before the enqueue checks)', async () => {
        // PostgreSQL's save looked for a NUL in the template's text fields with a string's includes: a TypeError.
        const made = await s.create({ id: 'num', trigger: { every: '1m' }, template: tpl });
        const spec = { ...((await env.store.getSchedule({ id: 'num' }))!.spec as object), template: { ...tpl, description: 42 } };
        await env.store.saveSchedule({ schedule: { id: 'num', spec, nextRunAt: made.nextRunAt, paused: false }, now: T0 });
        assert.equal((await s.pause('num')).paused, true);
        const back = await s.resume('num');
        assert.equal(back.paused, false);
        assert.equal(back.template.description, 42);
      });

      it('checks a template in its stored (JSON) form: a payload its task takes only before JSON is refused at create, not at every fire', async () => {
        const registry = new TaskRegistry().register('dated', () => undefined, {
          validate(p) {
            if (!((p as { when?: unknown }).when instanceof Date)) throw new FusionError('invalid_job', 'when must be a Date', { field: 'when' }, 400);
          },
        });
        const r = new Scheduler(env.store, { clock, registry });
        await assert.rejects(r.create({ id: 'd', trigger: { every: '1m' }, template: { task: 'dated', payload: { when: new Date(T0) } } }), isInvalid('template.payload.when'));
        assert.equal(await r.get('d'), null);
        // What JSON keeps as it is goes in as before, in its JSON form.
        const ok = await r.create({ id: 'n', trigger: { every: '1m' }, template: { task: 'other', payload: { at: new Date(T0), n: Number.NaN } } });
        assert.deepEqual(ok.template.payload, { at: new Date(T0).toISOString(), n: null });
      });

      it('re-declaring an unchanged every schedule keeps its phase', async () => {
        const a = await s.create({ id: 'p', trigger: { every: '10m' }, template: tpl });
        clock.advance(3 * MIN);
        const b = await s.create({ id: 'p', trigger: { every: '10m' }, template: tpl });
        assert.equal(b.nextRunAt, a.nextRunAt);
        const c = await s.create({ id: 'p', trigger: { every: '5m' }, template: tpl });
        assert.equal(c.nextRunAt, T0 + 3 * MIN + 5 * MIN, 'a new interval starts from now');
      });

      it('previews any trigger without storing it, and a stored schedule with its bounds', async () => {
        assert.deepEqual(iso(s.preview({ cron: '0 9 * * 1', tz: 'Asia/Kolkata' }, 2)), ['2026-01-05T03:30:00.000Z', '2026-01-12T03:30:00.000Z']);
        assert.deepEqual(s.preview({ every: '1h' }, 3, T0 + 5), [T0 + 5, T0 + 5 + 3_600_000, T0 + 5 + 7_200_000]);
        assert.deepEqual(s.preview({ at: T0 + 10 }, 5), [T0 + 10]);
        assert.deepEqual(iso(s.preview({ rrule: 'DTSTART:20260101T000000Z\nRRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=2' }, 5, '2026-01-01')), ['2026-01-30T00:00:00.000Z', '2026-02-27T00:00:00.000Z']);
        assert.throws(() => s.preview({ every: '1s' }, 0), isInvalid('count'));
        assert.throws(() => s.preview({ cron: 'bad' }, 1), isInvalid('trigger.cron'));
        assert.deepEqual(await s.list(), []);
        await s.create({ id: 'b', trigger: { every: '1m' }, template: tpl, endAt: T0 + 3 * MIN });
        assert.deepEqual(await s.previewSchedule('b', 10), [T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]);
      });

      it('runNow enqueues one job outside the series', async () => {
        await s.create({ id: 'r', trigger: { every: '1h' }, template: tpl, limit: 1 });
        const j = await s.runNow('r');
        assert.equal(j.state, 'queued');
        assert.equal(j.scheduleId, 'r');
        assert.equal(j.task, 'remind');
        assert.notEqual((await s.runNow('r')).id, j.id);
        const r = (await s.get('r'))!;
        assert.equal(r.runCount, 0);
        assert.equal(r.nextRunAt, T0 + 3_600_000);
        await assert.rejects(s.runNow('none'), (e: FusionError) => e.code === 'not_found');
      });
    });

    describe('firing', () => {
      it('sleeps until the next due time and enqueues the occurrence with a derived id', async () => {
        s.start();
        await s.create({ id: 'f', trigger: { every: '1m' }, template: tpl });
        await s.whenIdle();
        clock.set(T0 + MIN - 1);
        await s.whenIdle();
        assert.deepEqual(await jobsOf('f'), []);
        clock.set(T0 + MIN);
        await s.whenIdle();
        const [j] = await jobsOf('f');
        assert.equal(j!.id, occurrenceJobId('f', T0 + MIN));
        assert.equal(j!.id, 'f@2026-01-01T00:01:00.000Z');
        assert.equal(j!.runAt, T0 + MIN);
        assert.equal(j!.createdAt, T0 + MIN, 'fired at the due time');
        assert.equal(j!.state, 'queued');
        assert.deepEqual(j!.payload, tpl.payload);
        const f = (await s.get('f'))!;
        assert.equal(f.runCount, 1);
        assert.equal(f.lastRunAt, T0 + MIN);
        assert.equal(f.nextRunAt, T0 + 2 * MIN);
      });

      it('a schedule created while running wakes the scheduler (no waiting for the poll)', async () => {
        const slow = new Scheduler(env.store, { clock, maxSleepMs: 3_600_000 });
        slow.start();
        await slow.whenIdle();
        await slow.create({ id: 'now', trigger: { at: T0 }, template: tpl });
        await slow.whenIdle();
        assert.equal((await jobsOf('now')).length, 1);
        const done = (await slow.get('now'))!;
        assert.equal(done.nextRunAt, null, 'a one-off ends after it fires');
        await slow.stop();
      });

      it('pause stops firing; resume continues from now without running the paused period', async () => {
        await s.create({ id: 'p', trigger: { every: '1m' }, template: tpl, misfire: 'catch-up' });
        clock.set(T0 + MIN);
        await s.tick();
        const paused = await s.pause('p');
        assert.equal(paused.paused, true);
        clock.set(T0 + 10 * MIN + 30_000);
        await s.tick();
        assert.equal((await jobsOf('p')).length, 1);
        assert.equal((await s.resume('p')).nextRunAt, T0 + 11 * MIN);
        clock.set(T0 + 11 * MIN);
        await s.tick();
        assert.deepEqual((await jobsOf('p')).map((j) => j.runAt), [T0 + MIN, T0 + 11 * MIN]);
        assert.equal((await s.get('p'))!.paused, false);
      });

      it('a schedule created paused does not fire until resumed', async () => {
        await s.create({ id: 'cp', trigger: { every: '1m' }, template: tpl, paused: true });
        clock.set(T0 + 5 * MIN);
        await s.tick();
        assert.equal((await jobsOf('cp')).length, 0);
      });

      it('misfire skip (default): missed occurrences are dropped, the on-time one runs, the series goes on', async () => {
        await s.create({ id: 'm', trigger: { every: '1m' }, template: tpl });
        clock.set(T0 + 10 * MIN + 1000); // down from T0+1m to T0+10m+1s
        const r = await s.tick();
        assert.equal(r.enqueued, 1);
        assert.equal(r.dropped, 1, 'reported as "at least one dropped"');
        assert.deepEqual((await jobsOf('m')).map((j) => j.runAt), [T0 + 10 * MIN], 'the 1s-late one is within the 5s grace');
        const m = (await s.get('m'))!;
        assert.equal(m.nextRunAt, T0 + 11 * MIN);
        assert.equal(m.runCount, 1);
      });

      it('misfire skip with nothing on time: no job, next future occurrence', async () => {
        await s.create({ id: 'm2', trigger: { cron: '0 * * * *' }, template: tpl });
        clock.set(T0 + 5 * 3_600_000 + 30 * MIN);
        await s.tick();
        assert.deepEqual(await jobsOf('m2'), []);
        assert.equal((await s.get('m2'))!.nextRunAt, T0 + 6 * 3_600_000);
      });

      it('misfire catch-up: enqueues the latest maxCatchUp missed occurrences, then goes on', async () => {
        await s.create({ id: 'c', trigger: { every: '1m' }, template: tpl, misfire: { policy: 'catch-up', maxCatchUp: 3 } });
        clock.set(T0 + 10 * MIN + 1000);
        const r = await s.tick();
        assert.deepEqual((await jobsOf('c')).map((j) => (j.runAt - T0) / MIN), [7, 8, 9, 10]);
        assert.equal(r.dropped, 1, 'at least one older missed occurrence was dropped');
        const c = (await s.get('c'))!;
        assert.equal(c.runCount, 4);
        assert.equal(c.nextRunAt, T0 + 11 * MIN);
        assert.ok((await jobsOf('c')).every((j) => j.state === 'queued' && j.createdAt === T0 + 10 * MIN + 1000));
      });

      it('misfire catch-up with few missed: all of them, nothing dropped', async () => {
        await s.create({ id: 'c2', trigger: { cron: '0 * * * *' }, template: tpl, misfire: 'catch-up' });
        clock.set(T0 + 3 * 3_600_000 + 10 * MIN);
        const r = await s.tick();
        assert.equal(r.dropped, 0);
        assert.deepEqual((await jobsOf('c2')).map((j) => (j.runAt - T0) / 3_600_000), [1, 2, 3]);
      });

      it('a missed one-off runs late by default (catch-up); with skip it ends without running', async () => {
        await s.create({ id: 'late', trigger: { at: T0 + 3_600_000 }, template: tpl });
        await s.create({ id: 'gone', trigger: { at: T0 + 3_600_000 }, template: tpl, misfire: 'skip' });
        clock.set(T0 + 5 * 3_600_000);
        await s.tick();
        assert.deepEqual((await jobsOf('late')).map((j) => j.runAt), [T0 + 3_600_000]);
        assert.deepEqual(await jobsOf('gone'), []);
        assert.equal((await s.get('gone'))!.nextRunAt, null);
        assert.equal((await s.get('late'))!.runCount, 1);
      });

      it('updating a one-off that just fired (within its grace) does not fire it again', async () => {
        await s.create({ id: 'once', trigger: { at: T0 + 1000 }, template: tpl });
        clock.set(T0 + 1500);
        await s.tick();
        const u = await s.update('once', { description: 'edited' });
        assert.equal(u.nextRunAt, null);
        clock.set(T0 + 2000);
        await s.tick();
        assert.equal((await s.get('once'))!.runCount, 1);
      });

      it('resuming through update (paused: false) starts from now, like resume', async () => {
        await s.create({ id: 'up', trigger: { every: '1m' }, template: tpl, misfire: 'catch-up' });
        await s.pause('up');
        clock.set(T0 + 10 * MIN + 30_000);
        const u = await s.update('up', { paused: false });
        assert.equal(u.nextRunAt, T0 + 11 * MIN);
        await s.tick();
        assert.deepEqual(await jobsOf('up'), []);
      });

      it('a one-off slightly in the past (within the grace) still runs', async () => {
        const o = await s.create({ id: 'o', trigger: { at: T0 - 2000 }, template: tpl });
        assert.equal(o.nextRunAt, T0 - 2000);
        await s.tick();
        assert.equal((await jobsOf('o')).length, 1);
      });

      it('limit: stops after N runs, also when catching up', async () => {
        await s.create({ id: 'l', trigger: { every: '1s' }, template: tpl, limit: 3 });
        for (let i = 1; i <= 6; i++) {
          clock.set(T0 + i * 1000);
          await s.tick();
        }
        assert.deepEqual((await jobsOf('l')).map((j) => j.runAt - T0), [1000, 2000, 3000]);
        assert.equal((await s.get('l'))!.nextRunAt, null);
        await s.create({ id: 'l2', trigger: { every: '1m' }, template: tpl, limit: 2, misfire: { policy: 'catch-up', maxCatchUp: 10 } });
        clock.set(T0 + 30 * MIN);
        await s.tick();
        assert.equal((await jobsOf('l2')).length, 2);
        assert.equal((await s.get('l2'))!.nextRunAt, null);
        const more = await s.update('l2', { limit: 3 });
        assert.equal(more.runCount, 2);
        assert.equal(more.nextRunAt, T0 + 30 * MIN + 6000, 'raising the limit revives the schedule (anchored at its creation, T0+6s, + 1m)');
      });

      it('startAt and endAt bound the occurrences (inclusive)', async () => {
        await s.create({ id: 'b', trigger: { cron: '* * * * *' }, template: tpl, startAt: T0 + 2 * MIN, endAt: '2026-01-01T00:04:00Z' });
        assert.equal((await s.get('b'))!.nextRunAt, T0 + 2 * MIN);
        for (let i = 1; i <= 8; i++) {
          clock.set(T0 + i * MIN);
          await s.tick();
        }
        assert.deepEqual((await jobsOf('b')).map((j) => (j.runAt - T0) / MIN), [2, 3, 4]);
        assert.equal((await s.get('b'))!.nextRunAt, null);
        const past = await s.create({ id: 'b2', trigger: { every: '1m' }, template: tpl, endAt: T0 });
        assert.equal(past.nextRunAt, null, 'an end already past: ended at once');
      });

      it('every with startAt: the first occurrence is startAt', async () => {
        await s.create({ id: 'e', trigger: { every: '15m' }, template: tpl, startAt: T0 + 7 * MIN });
        assert.deepEqual(await s.previewSchedule('e', 3), [T0 + 7 * MIN, T0 + 22 * MIN, T0 + 37 * MIN]);
      });

      it('template defaults: queue, priority and retry policy reach the job', async () => {
        await s.create({ id: 't', trigger: { every: '1s' }, template: { task: 'sms', queue: 'otp', priority: 'high', maxAttempts: 7, backoff: { type: 'fixed', delay: 100 }, tags: ['x'] } });
        clock.set(T0 + 1000);
        await s.tick();
        const [j] = await jobsOf('t');
        assert.equal(j!.queue, 'otp');
        assert.equal(j!.priority, 2);
        assert.equal(j!.maxAttempts, 7);
        assert.deepEqual(j!.backoff, { type: 'fixed', delay: 100 });
        assert.deepEqual(j!.tags, ['x']);
      });

      it('a stored spec that no longer compiles ends that schedule and leaves the others firing', async () => {
        await s.create({ id: 'good', trigger: { every: '1m' }, template: tpl });
        await env.store.saveSchedule({ schedule: { id: 'broken', spec: { v: 1, trigger: { cron: 'garbage' } }, nextRunAt: T0 + MIN, paused: false }, now: T0 });
        clock.set(T0 + MIN);
        assert.deepEqual(await s.tick(), { enqueued: 1, lost: 0, dropped: 0, errors: 1, ended: 1 }, 'the end counts as an error of the pass');
        assert.equal((await jobsOf('good')).length, 1);
        assert.equal((await env.store.getSchedule({ id: 'broken' }))!.nextRunAt, null);
      });

      it('a stored template the enqueue checks refuse ends its schedule as an error of the pass, the rest fire, and an update with a good template brings it back', async () => {
        // As a version before those checks stored it: callbacks.format "xml", a number as description, a priority past 2^31-1.
        const stale = [
          { ...tpl, callbacks: { onSuccess: 'https://example.com/done', format: 'xml' } },
          { ...tpl, description: 42 },
          { ...tpl, priority: 2 ** 31 },
        ];
        for (const [i, template] of stale.entries()) {
          const id = `old${i}`;
          const rec = await env.store.getSchedule({ id: (await s.create({ id, trigger: { every: '1m' }, template: tpl })).id });
          await env.store.saveSchedule({ schedule: { id, spec: { ...(rec!.spec as object), template }, nextRunAt: T0 + 30_000 + i, paused: false }, now: T0 });
        }
        await s.create({ id: 'good', trigger: { every: '1m' }, template: tpl });
        clock.set(T0 + MIN);
        // One schedule per store read: the ended ones, due first, do not keep the good one from firing in this pass.
        const one = new Scheduler(env.store, { clock, batch: 1 });
        assert.deepEqual(await one.tick(), { enqueued: 1, lost: 0, dropped: 0, errors: 3, ended: 3 });
        assert.equal(one.stats.errors, 3);
        assert.equal((await jobsOf('good')).length, 1);
        for (const id of ['old0', 'old1', 'old2']) assert.equal((await s.get(id))!.nextRunAt, null, id);
        await assert.rejects(s.update('old0', { description: 'x' }), isInvalid('template.callbacks.format'), 'an update names the stale field');
        const back = await s.update('old0', { template: tpl });
        assert.equal(back.nextRunAt, T0 + 2 * MIN);
        clock.set(T0 + 2 * MIN);
        assert.deepEqual(await one.tick(), { enqueued: 2, lost: 0, dropped: 0, errors: 0, ended: 0 });
        assert.equal((await jobsOf('old0')).length, 1);
      });

      it('a store that fails does not make the scheduler spin: it retries after maxSleepMs', async () => {
        const conn = await env.connect();
        const sick = new Scheduler(conn, { clock, maxSleepMs: 1000 });
        await s.create({ id: 'k', trigger: { every: '1s' }, template: tpl });
        await conn.close(); // every store call of `sick` now fails
        sick.start();
        await sick.whenIdle(); // resolves only if the failure did not re-arm at once
        assert.equal(sick.stats.errors, 1);
        clock.advance(999);
        await sick.whenIdle();
        assert.equal(sick.stats.errors, 1, 'no retry before maxSleepMs');
        clock.advance(1);
        await sick.whenIdle();
        assert.equal(sick.stats.errors, 2);
        await sick.stop();
      });
    });

    describe('DST days through the store (Europe/Berlin, daily 02:30)', () => {
      // Step the clock every 10 minutes over three days and fire at each step: each day gets one job.
      async function run(trigger: ScheduleInput['trigger'], from: number): Promise<string[]> {
        await s.create({ id: 'dst', trigger, template: tpl });
        for (let t = from; t <= from + 3 * 86_400_000; t += 10 * MIN) {
          clock.set(t);
          await s.tick();
        }
        return (await jobsOf('dst')).map((j) => local(j.runAt, 'Europe/Berlin'));
      }

      it('cron, spring forward: once per day, the missing 02:30 at 03:00', async () => {
        clock.set(Date.UTC(2026, 2, 27, 12));
        assert.deepEqual(await run({ cron: '30 2 * * *', tz: 'Europe/Berlin' }, Date.UTC(2026, 2, 27, 12)), ['2026-03-28 02:30', '2026-03-29 03:00', '2026-03-30 02:30']);
      });

      it('cron, fall back: once per day, the first 02:30', async () => {
        clock.set(Date.UTC(2026, 9, 23, 12));
        const r = await run({ cron: '30 2 * * *', tz: 'Europe/Berlin' }, Date.UTC(2026, 9, 23, 12));
        assert.deepEqual(r, ['2026-10-24 02:30', '2026-10-25 02:30', '2026-10-26 02:30']);
        assert.equal((await jobsOf('dst'))[1]!.runAt, Date.UTC(2026, 9, 25, 0, 30), 'CEST, the first pass');
      });

      it('rrule, spring forward and fall back: RFC 5545 rule, once per day', async () => {
        clock.set(Date.UTC(2026, 2, 27, 12));
        const spring = await run({ rrule: 'DTSTART;TZID=Europe/Berlin:20260301T023000\nRRULE:FREQ=DAILY' }, Date.UTC(2026, 2, 27, 12));
        assert.deepEqual(spring, ['2026-03-28 02:30', '2026-03-29 03:30', '2026-03-30 02:30']);
        await s.remove('dst');
        clock.set(Date.UTC(2026, 9, 23, 12));
        const before = (await jobsOf('dst')).length;
        const fall = (await run({ rrule: 'DTSTART;TZID=Europe/Berlin:20260301T023000\nRRULE:FREQ=DAILY' }, Date.UTC(2026, 9, 23, 12))).slice(before);
        assert.deepEqual(fall, ['2026-10-24 02:30', '2026-10-25 02:30', '2026-10-26 02:30']);
      });
    });

    describe('racing instances on one store', () => {
      it('four schedulers, each with its own connection, fire every occurrence exactly once', async () => {
        const stores = await Promise.all([0, 1, 2, 3].map(() => env.connect()));
        const racers = stores.map((st) => new Scheduler(st, { clock, batch: 7 }));
        try {
          const ids = Array.from({ length: 20 }, (_, i) => `race-${i}`);
          for (const id of ids) await racers[0]!.create({ id, trigger: { every: '1s' }, template: tpl, misfire: 'catch-up' });
          let lost = 0;
          let enqueued = 0;
          for (let step = 1; step <= 30; step++) {
            clock.set(T0 + step * 1000 + (step % 3) * 700); // some steps cover two occurrences
            const reports = await Promise.all(racers.map((r) => r.tick()));
            for (const r of reports) {
              lost += r.lost;
              enqueued += r.enqueued;
            }
          }
          assert.ok(lost > 0, 'the instances really raced');
          const last = Math.floor((clock.now() - T0) / 1000);
          for (const id of ids) {
            const jobs = await jobsOf(id);
            assert.deepEqual(jobs.map((j) => (j.runAt - T0) / 1000), Array.from({ length: last }, (_, i) => i + 1), id);
            assert.equal((await racers[1]!.get(id))!.runCount, last, 'the count agrees with the jobs: no double advance');
          }
          assert.equal(enqueued, ids.length * last, 'each job was created by exactly one instance');
        } finally {
          for (const st of stores) await st.close();
        }
      });

      it('timer-driven instances started together do not double-fire', async () => {
        const stores = await Promise.all([0, 1, 2].map(() => env.connect()));
        const racers = stores.map((st) => new Scheduler(st, { clock }).start());
        try {
          await racers[0]!.create({ id: 'tick', trigger: { cron: '* * * * * *' }, template: tpl });
          for (let i = 1; i <= 20; i++) {
            clock.set(T0 + i * 1000);
            await Promise.all(racers.map((r) => r.whenIdle()));
          }
          const jobs = await jobsOf('tick');
          assert.deepEqual(jobs.map((j) => (j.runAt - T0) / 1000), Array.from({ length: 20 }, (_, i) => i + 1));
          assert.equal((await s.get('tick'))!.runCount, 20);
        } finally {
          for (const r of racers) await r.stop();
          for (const st of stores) await st.close();
        }
      });
    });
  });
}
