// cron, every and at triggers against known answers; DST rules for cron and RRULE; durations and times.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileTrigger, parseDuration, parseTime, type Trigger } from '../../src/core/triggers.js';
import { instantOf, wallOf } from '../../src/core/schedule-zone.js';
import { FusionError } from '../../src/core/errors.js';
import { iso, local } from './helpers.js';

function take(trigger: Trigger, n: number, from: number, anchor = from): number[] {
  const t = compileTrigger(trigger, anchor);
  const out: number[] = [];
  for (let x = t.next(from - 1); x !== null && out.length < n; x = t.next(x)) out.push(x);
  return out;
}
const isInvalid = (field: string) => (e: FusionError) => e instanceof FusionError && e.code === 'invalid_schedule' && e.details.field === field && e.status === 400;
const JAN1 = Date.UTC(2026, 0, 1); // a Thursday

describe('cron trigger', () => {
  it('5 fields: weekdays at 09:00 in Asia/Kolkata (UTC+05:30)', () => {
    assert.deepEqual(iso(take({ cron: '0 9 * * 1-5', tz: 'Asia/Kolkata' }, 4, JAN1)), [
      '2026-01-01T03:30:00.000Z', '2026-01-02T03:30:00.000Z', '2026-01-05T03:30:00.000Z', '2026-01-06T03:30:00.000Z',
    ]);
  });

  it('6 fields: seconds first', () => {
    assert.deepEqual(iso(take({ cron: '*/20 * * * * *' }, 3, JAN1 + 1)), ['2026-01-01T00:00:20.000Z', '2026-01-01T00:00:40.000Z', '2026-01-01T00:01:00.000Z']);
  });

  it('default zone is UTC; next is strictly after the given time', () => {
    const t = compileTrigger({ cron: '30 14 * * *' }, 0);
    assert.equal(t.next(Date.UTC(2026, 0, 1, 14, 30)), Date.UTC(2026, 0, 2, 14, 30));
    assert.equal(t.next(Date.UTC(2026, 0, 1, 14, 29, 59, 999)), Date.UTC(2026, 0, 1, 14, 30));
  });

  it('day-of-month and day-of-week combine with OR (Vixie cron)', () => {
    // the 13th, or any Friday: Jan 2 (Fri), 9 (Fri), 13 (Tue), 16 (Fri)
    assert.deepEqual(take({ cron: '0 0 13 * 5' }, 4, JAN1).map((t) => local(t, 'UTC')), [
      '2026-01-02 00:00', '2026-01-09 00:00', '2026-01-13 00:00', '2026-01-16 00:00',
    ]);
  });

  it('last day of month and month names', () => {
    assert.deepEqual(take({ cron: '0 12 L * *' }, 3, JAN1).map((t) => local(t, 'UTC')), ['2026-01-31 12:00', '2026-02-28 12:00', '2026-03-31 12:00']);
    assert.deepEqual(take({ cron: '0 0 1 jan,jul *' }, 3, JAN1 + 1).map((t) => local(t, 'UTC')), ['2026-07-01 00:00', '2027-01-01 00:00', '2027-07-01 00:00']);
  });

  it('a line that never matches is refused, naming the field', () => {
    for (const cron of ['0 0 30 2 *', '0 0 31 4 *', '* * * 31 11 *']) assert.throws(() => compileTrigger({ cron }, 0), isInvalid('trigger.cron'), cron);
  });

  it('lastUpTo gives the latest occurrences, ascending, inclusive', () => {
    const t = compileTrigger({ cron: '0 * * * *' }, 0);
    assert.deepEqual(iso(t.lastUpTo(Date.UTC(2026, 0, 1, 5), 2)), ['2026-01-01T04:00:00.000Z', '2026-01-01T05:00:00.000Z']);
  });

  it('refuses bad lines and zones, naming the field', () => {
    assert.throws(() => compileTrigger({ cron: '61 * * * *' }, 0), isInvalid('trigger.cron'));
    assert.throws(() => compileTrigger({ cron: '* * * * * * *' }, 0), isInvalid('trigger.cron'));
    assert.throws(() => compileTrigger({ cron: '* * *' }, 0), isInvalid('trigger.cron'));
    assert.throws(() => compileTrigger({ cron: '' }, 0), isInvalid('trigger.cron'));
    assert.throws(() => compileTrigger({ cron: '* * * * *', tz: 'Mars/Base' }, 0), isInvalid('trigger.tz'));
    assert.throws(() => compileTrigger({ cron: '* * * * *', every: 5 } as never, 0), isInvalid('trigger'));
    assert.throws(() => compileTrigger({} as never, 0), isInvalid('trigger'));
  });
});

describe('every and at triggers', () => {
  it('every: anchor, then whole multiples of the interval', () => {
    const anchor = JAN1 + 500;
    const t = compileTrigger({ every: '15m' }, anchor);
    assert.equal(t.next(0), anchor);
    assert.equal(t.next(anchor), anchor + 900_000);
    assert.equal(t.next(anchor + 900_000 * 7 + 3), anchor + 900_000 * 8);
    assert.deepEqual(t.lastUpTo(anchor + 900_000 * 3, 2), [anchor + 900_000 * 2, anchor + 900_000 * 3]);
    assert.deepEqual(t.lastUpTo(anchor - 1, 2), []);
  });

  it('durations: ms numbers and unit strings', () => {
    assert.equal(parseDuration(250, 'f'), 250);
    assert.equal(parseDuration('30s', 'f'), 30_000);
    assert.equal(parseDuration('15m', 'f'), 900_000);
    assert.equal(parseDuration('2h', 'f'), 7_200_000);
    assert.equal(parseDuration('1h30m', 'f'), 5_400_000);
    assert.equal(parseDuration('1d', 'f'), 86_400_000);
    assert.equal(parseDuration('500ms', 'f'), 500);
    assert.equal(parseDuration('1.5s', 'f'), 1500);
    for (const bad of ['', 'soon', '5', '5 minutes', -1, 0, 3, 1.5, '1.0001s', null]) {
      if (bad === '5') continue; // a numeric string is ms
      assert.throws(() => parseDuration(bad, 'trigger.every'), isInvalid('trigger.every'), String(bad));
    }
    assert.equal(parseDuration('5000', 'f'), 5000);
  });

  it('at: one occurrence, strictly after', () => {
    const t = compileTrigger({ at: '2026-01-01T10:00:00+05:30' }, 0);
    assert.equal(t.next(0), Date.UTC(2026, 0, 1, 4, 30));
    assert.equal(t.next(Date.UTC(2026, 0, 1, 4, 30)), null);
    assert.equal(parseTime('2026-01-01T10:00:00', 'at'), Date.UTC(2026, 0, 1, 10), 'no offset means UTC');
    assert.equal(parseTime(new Date(5), 'at'), 5);
    assert.throws(() => compileTrigger({ at: 'tomorrow' }, 0), isInvalid('trigger.at'));
    assert.throws(() => compileTrigger({ every: '1s', tz: 'UTC' } as never, 0), isInvalid('trigger.tz'));
  });
});

// Europe/Berlin: 2026-03-29 02:00 CET → 03:00 CEST (02:30 does not exist);
// 2026-10-25 03:00 CEST → 02:00 CET (02:30 happens twice).
describe('DST: a daily 02:30 schedule in Europe/Berlin', () => {
  const B = 'Europe/Berlin';
  const cronDaily = { cron: '30 2 * * *', tz: B };
  const rruleDaily = { rrule: 'DTSTART;TZID=Europe/Berlin:20260301T023000\nRRULE:FREQ=DAILY' };

  it('cron, spring forward: the missing 02:30 runs once, when the clock jumps (03:00 CEST)', () => {
    const r = take(cronDaily, 3, Date.UTC(2026, 2, 28));
    assert.deepEqual(r.map((t) => local(t, B)), ['2026-03-28 02:30', '2026-03-29 03:00', '2026-03-30 02:30']);
    assert.deepEqual(iso(r), ['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  });

  it('cron, fall back: 02:30 runs once, at its first occurrence (CEST)', () => {
    const r = take(cronDaily, 3, Date.UTC(2026, 9, 24));
    assert.deepEqual(iso(r), ['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('rrule, spring forward: RFC 5545 — the missing 02:30 is read with the offset before the gap (03:30 CEST)', () => {
    const r = take(rruleDaily, 3, Date.UTC(2026, 2, 28));
    assert.deepEqual(r.map((t) => local(t, B)), ['2026-03-28 02:30', '2026-03-29 03:30', '2026-03-30 02:30']);
  });

  it('rrule, fall back: 02:30 runs once, at its first occurrence (CEST)', () => {
    const r = take(rruleDaily, 3, Date.UTC(2026, 9, 24));
    assert.deepEqual(iso(r), ['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('interval crons (*/30) keep their rhythm through both changes', () => {
    const spring = take({ cron: '*/30 * * * *', tz: B }, 4, Date.UTC(2026, 2, 29, 0, 30));
    assert.deepEqual(spring.map((t) => local(t, B)), ['2026-03-29 01:30', '2026-03-29 03:00', '2026-03-29 03:30', '2026-03-29 04:00']);
    const fall = take({ cron: '*/30 * * * *', tz: B }, 4, Date.UTC(2026, 9, 25, 0, 30));
    assert.deepEqual(iso(fall), ['2026-10-25T00:30:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T01:30:00.000Z', '2026-10-25T02:00:00.000Z'],
      'both passes of 02:00-02:59 local run');
  });

  it('an hourly RRULE through fall back runs the repeated hour once (RFC: first occurrence) and skips nothing else', () => {
    const r = take({ rrule: 'DTSTART;TZID=Europe/Berlin:20261025T000000\nRRULE:FREQ=HOURLY;COUNT=5' }, 10, 0, 0);
    assert.deepEqual(r.map((t) => local(t, B)), ['2026-10-25 00:00', '2026-10-25 01:00', '2026-10-25 02:00', '2026-10-25 03:00', '2026-10-25 04:00']);
    assert.equal(r[3]! - r[2]!, 2 * 3_600_000, '02:00 CEST to 03:00 CET is two hours');
  });

  it('zone mapping: wallOf/instantOf round-trip, gap and overlap rules', () => {
    const t = Date.UTC(2026, 5, 1, 12);
    assert.equal(instantOf(wallOf(t, B), B), t);
    assert.equal(instantOf(Date.UTC(2026, 2, 29, 2, 30), B), Date.UTC(2026, 2, 29, 1, 30));
    assert.equal(instantOf(Date.UTC(2026, 9, 25, 2, 30), B), Date.UTC(2026, 9, 25, 0, 30));
    assert.equal(instantOf(Date.UTC(2026, 0, 1, 9), 'Asia/Kolkata'), Date.UTC(2026, 0, 1, 3, 30));
  });
});

describe('cron: a list or range of hours is fixed in time across DST (America/New_York)', () => {
  const NY = 'America/New_York';
  const take = (trigger: Trigger, n: number, from: number) => {
    const t = compileTrigger(trigger, from);
    const out: number[] = [];
    for (let x = t.next(from - 1); x !== null && out.length < n; x = t.next(x)) out.push(x);
    return out;
  };
  it('30 2,14 * * * on the spring-forward day: the missing 02:30 runs at 03:00, not skipped', () => {
    const got = take({ cron: '30 2,14 * * *', tz: NY }, 3, Date.UTC(2026, 2, 7, 20)).map((t) => local(t, NY));
    assert.deepEqual(got, ['2026-03-08 03:00', '2026-03-08 14:30', '2026-03-09 02:30']);
  });
  it('30 1,13 * * * on the fall-back day: 01:30 runs once, at its first occurrence', () => {
    const got = take({ cron: '30 1,13 * * *', tz: NY }, 3, Date.UTC(2026, 9, 31, 20)).map((t) => `${local(t, NY)} ${new Date(t).toISOString().slice(11, 16)}Z`);
    assert.deepEqual(got, ['2026-11-01 01:30 05:30Z', '2026-11-01 13:30 18:30Z', '2026-11-02 01:30 06:30Z']);
  });
  it('a day field starting with * (*/10 too) combines the two with AND, as Vixie cron does', () => {
    // Mondays that are the 1st, 11th, 21st or 31st; with OR it was every such day and every Monday.
    const got = take({ cron: '0 0 */10 * 1' }, 2, Date.UTC(2026, 0, 1)).map((t) => local(t, 'UTC'));
    assert.deepEqual(got, ['2026-05-11 00:00', '2026-06-01 00:00']);
  });
});

describe('RRULE EXDATE and RDATE with a TZID of their own', () => {
  it('EXDATE;TZID=America/New_York:...T030000 removes the 09:00 Berlin occurrence (the same instant)', () => {
    const t = compileTrigger({ rrule: 'DTSTART;TZID=Europe/Berlin:20260101T090000\nRRULE:FREQ=DAILY\nEXDATE;TZID=America/New_York:20260102T030000' }, 0);
    const first = t.next(Date.UTC(2026, 0, 1) - 1)!;
    assert.deepEqual([local(first, 'Europe/Berlin'), local(t.next(first)!, 'Europe/Berlin')], ['2026-01-01 09:00', '2026-01-03 09:00']);
  });
  it('RDATE;TZID=Asia/Kolkata adds that instant', () => {
    const t = compileTrigger({ rrule: 'DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY;COUNT=1\nRDATE;TZID=Asia/Kolkata:20260105T120000' }, 0);
    assert.deepEqual(iso([t.next(0)!, t.next(t.next(0)!)!]), ['2026-01-01T09:00:00.000Z', '2026-01-05T06:30:00.000Z']);
  });
});

describe('schedule times given as text (library)', () => {
  it('a time without an offset is UTC whatever the process zone, with a T or a space', () => {
    const before = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      assert.equal(new Date(parseTime('2026-03-01 10:00', 'trigger.at')).toISOString(), '2026-03-01T10:00:00.000Z');
      assert.equal(new Date(parseTime('2026-03-01T10:00', 'trigger.at')).toISOString(), '2026-03-01T10:00:00.000Z');
    } finally {
      if (before === undefined) delete process.env.TZ;
      else process.env.TZ = before;
    }
  });
  it('a day that does not exist is refused, not rolled over', () => {
    assert.throws(() => parseTime('2026-02-30T10:00:00Z', 'trigger.at'), (e: FusionError) => e.details.field === 'trigger.at');
  });
});
