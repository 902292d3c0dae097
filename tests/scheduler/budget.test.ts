// Trigger expansion does bounded work: any trigger and any start time either answers within a
// small CPU budget or is refused with a 4xx FusionError; a stored schedule whose rule never
// matches is ended by the scheduler's firing (logged), without blocking the other schedules.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ManualClock } from '../../src/core/clock.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { FusionError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { compileTrigger } from '../../src/core/triggers.js';
import { TIME_MAX, TIME_MIN } from '../../src/core/times.js';
import type { StoredSpec } from '../../src/core/schedule-spec.js';
import { tempStore } from './helpers.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
/** CPU time (not wall time: the test machine is shared). A search costs at most ~65 ms, a preview twice that. */
const CPU_LIMIT_MS = 1000;
const cpuMs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

const freq = fc.constantFrom('YEARLY', 'MONTHLY', 'WEEKLY', 'DAILY', 'HOURLY', 'MINUTELY', 'SECONDLY');
const part = fc.oneof(
  fc.integer({ min: 1, max: 1000 }).map((n) => `INTERVAL=${n}`),
  fc.integer({ min: 1, max: 100_000 }).map((n) => `COUNT=${n}`),
  fc.uniqueArray(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 3 }).map((xs) => `BYMONTH=${xs.join(',')}`),
  fc.uniqueArray(fc.integer({ min: -31, max: 31 }).filter((n) => n !== 0), { minLength: 1, maxLength: 3 }).map((xs) => `BYMONTHDAY=${xs.join(',')}`),
  fc.uniqueArray(fc.integer({ min: 0, max: 23 }), { minLength: 1, maxLength: 3 }).map((xs) => `BYHOUR=${xs.join(',')}`),
  fc.uniqueArray(fc.integer({ min: 0, max: 59 }), { minLength: 1, maxLength: 3 }).map((xs) => `BYMINUTE=${xs.join(',')}`),
  fc.uniqueArray(fc.integer({ min: 0, max: 59 }), { minLength: 1, maxLength: 3 }).map((xs) => `BYSECOND=${xs.join(',')}`),
  fc.uniqueArray(fc.constantFrom('MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU', '1MO', '-1FR'), { minLength: 1, maxLength: 3 }).map((xs) => `BYDAY=${xs.join(',')}`),
  fc.uniqueArray(fc.integer({ min: -366, max: 366 }).filter((n) => n !== 0), { minLength: 1, maxLength: 2 }).map((xs) => `BYYEARDAY=${xs.join(',')}`),
  fc.uniqueArray(fc.integer({ min: -53, max: 53 }).filter((n) => n !== 0), { minLength: 1, maxLength: 2 }).map((xs) => `BYWEEKNO=${xs.join(',')}`),
  fc.integer({ min: -3, max: 3 }).filter((n) => n !== 0).map((n) => `BYSETPOS=${n}`),
  fc.constantFrom('UNTIL=19700101T000000Z', 'UNTIL=21991231T000000Z', 'UNTIL=99991231T000000Z', 'WKST=SU'),
);
const rrule = fc.tuple(freq, fc.uniqueArray(part, { maxLength: 4, selector: (p) => p.split('=')[0] }), fc.option(fc.constantFrom('00010101T000000Z', '19700101T000000Z', '20260301T013000', '21991231T235959Z', '99991231T000000Z'), { nil: undefined }))
  .map(([f, parts, dtstart]) => `${dtstart ? `DTSTART:${dtstart}\n` : ''}RRULE:${['FREQ=' + f, ...parts].join(';')}`);
const time = fc.oneof(
  { arbitrary: fc.integer({ min: TIME_MIN, max: TIME_MAX }), weight: 4 },
  fc.constantFrom(-8.64e15, 8.64e15, -1, 0, TIME_MAX, TIME_MAX - 1, Number.MAX_SAFE_INTEGER + 1, 1e308, -0, 5e-324, Number.NaN),
  fc.double(),
);
const trigger = fc.oneof(
  fc.record({ rrule, tz: fc.constantFrom(undefined, 'UTC', 'Asia/Kolkata', 'America/New_York', 'Pacific/Chatham') }).map((t) => (t.tz === undefined ? { rrule: t.rrule } : t)),
  fc.record({ cron: fc.oneof(fc.constantFrom('* * * * *', '0 0 30 2 *', '0 0 29 2 1', '*/7 * * * * *', '59 23 31 12 *', '0 0 31 4 *', '0 0 1 1 *'), fc.string({ maxLength: 20 })) }),
  fc.record({ every: fc.oneof(fc.integer(), time, fc.constantFrom('1ms', '10ms', '366d', '367d', '9007199254740993', '1h30m')) }),
  fc.record({ at: time }),
);

describe('trigger expansion: bounded work (property)', () => {
  it('any trigger from any time: an answer within the CPU budget, or a 4xx FusionError', () => {
    let answered = 0;
    let refused = 0;
    fc.assert(
      fc.property(trigger, time, fc.integer({ min: 1, max: 50 }), (t, from, count) => {
        const c0 = process.cpuUsage();
        try {
          const s = new Scheduler(null as never, { clock: new ManualClock(Date.UTC(2026, 0, 1)) });
          const times = s.preview(t as never, count, from);
          assert.ok(times.every((x, i) => Number.isInteger(x) && x >= TIME_MIN && x < TIME_MAX && (i === 0 || x > times[i - 1]!)), JSON.stringify(times));
          // The other side of expansion, as a catch-up firing uses it.
          const c = compileTrigger(t as never, Date.UTC(2026, 0, 1));
          c.lastUpTo(Date.UTC(2100, 0, 1), 10);
          answered++;
        } catch (e) {
          assert.ok(e instanceof FusionError && e.status >= 400 && e.status < 500, `${JSON.stringify(t)} from ${from}: ${(e as Error).stack}`);
          assert.equal(typeof e.details.field, 'string');
          refused++;
        }
        const ms = cpuMs(c0);
        assert.ok(ms < CPU_LIMIT_MS, `${JSON.stringify(t)} from ${from} took ${ms} ms of CPU`);
      }),
      { numRuns: RUNS },
    );
    assert.ok(answered > 0 && refused > 0, `${answered} answered, ${refused} refused`);
  });

  it('rules that never match are refused within a second of CPU, ~30-65 ms here (before: 8-15 s, or an endless loop)', () => {
    const rules = ['FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30', 'FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30', 'FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31',
      'FREQ=HOURLY;INTERVAL=2;BYHOUR=1', 'FREQ=MINUTELY;INTERVAL=120;BYHOUR=1', 'FREQ=SECONDLY;INTERVAL=2;BYSECOND=1', 'FREQ=YEARLY;BYWEEKNO=53;BYMONTH=6'];
    for (const r of rules) {
      const c0 = process.cpuUsage();
      assert.throws(() => compileTrigger({ rrule: `DTSTART:20260101T000000Z\nRRULE:${r}` }, 0).next(Date.UTC(2026, 0, 1)),
        (e: FusionError) => e.status === 400 && e.details.field === 'trigger.rrule', r);
      const ms = cpuMs(c0);
      assert.ok(ms < CPU_LIMIT_MS, `${r}: ${ms} ms of CPU`);
    }
  });
});

describe('the scheduler firing a stored rule that never matches', () => {
  it('ends that schedule (logged), fires the others, and does not block', async () => {
    const env = tempStore();
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const errors: unknown[] = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (o: object) => void errors.push(o) };
    const s = new Scheduler(env.store, { clock, logger });
    try {
      await s.create({ id: 'good', trigger: { every: '1s' }, template: { task: 't' } });
      // Stored behind the API's back (an older version stored such rules): due now.
      const spec: StoredSpec = {
        v: 1, trigger: { rrule: 'FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30' }, anchor: clock.now(), template: { task: 't' }, startAt: null, endAt: null,
        limit: null, misfire: { policy: 'skip', maxCatchUp: 10, graceMs: 5000 }, description: null,
      };
      await env.store.saveSchedule({ schedule: { id: 'never', spec, nextRunAt: clock.now(), paused: false }, now: clock.now() });
      clock.set(clock.now() + 1000);
      const t0 = performance.now();
      await s.tick();
      const ms = performance.now() - t0;
      assert.ok(ms < CPU_LIMIT_MS, `a pass took ${ms} ms`);
      assert.equal((await s.get('never'))!.nextRunAt, null, 'ended');
      assert.ok((await s.get('good'))!.runCount >= 1, 'the other schedule fired');
      assert.ok(errors.some((e) => (e as { scheduleId?: string; budget?: boolean }).scheduleId === 'never' && (e as { budget?: boolean }).budget === true), JSON.stringify(errors));
    } finally {
      await env.cleanup();
    }
  });
});
