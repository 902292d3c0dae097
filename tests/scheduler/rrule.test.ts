// RRULE expansion against RFC 5545 §3.8.5.3. Every example there is here except:
// - "Every 3 hours from 09:00 to 17:00" (FREQ=HOURLY;INTERVAL=3;UNTIL=19970902T170000Z): the RFC lists
//   09:00, 12:00, 15:00 EDT, but its UTC UNTIL is 13:00 EDT (a known erratum); we pin the consistent
//   reading, 09:00 and 12:00.
// - Nothing else is missing: rrule.js 2.8 supports every BYxxx part used in §3.8.5.3, BYSETPOS and WKST
//   included. RDATE;VALUE=PERIOD (§3.8.5.2, not a recurrence rule) is refused with invalid_schedule.
// Known rrule.js limitation (not in §3.8.5.3): SECONDLY/MINUTELY/HOURLY with an INTERVAL that does not
// divide the next unit, combined with BYHOUR/BYMINUTE, loses the interval's phase when it skips
// filtered-out times (FREQ=MINUTELY;INTERVAL=7;BYHOUR=9 from 05:30 gives 09:05, RFC says 09:00).
// Expectations are wall times in America/New_York, formatted with Intl independently of our zone code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import rrulePkg from 'rrule';
import { compileTrigger } from '../../src/core/triggers.js';
import { FusionError } from '../../src/core/errors.js';
import { local } from './helpers.js';

const NY = 'America/New_York';

function expand(rule: string, max = 200, start = 'DTSTART;TZID=America/New_York:19970902T090000'): string[] {
  const t = compileTrigger({ rrule: `${start}\n${rule}` }, 0);
  const out: string[] = [];
  let n = t.next(-1);
  while (n !== null && out.length < max) {
    out.push(local(n, NY));
    n = t.next(n);
  }
  return out;
}
const days = (prefix: string, ds: number[], time = '09:00') => ds.map((d) => `${prefix}-${String(d).padStart(2, '0')} ${time}`);

describe('RRULE: RFC 5545 §3.8.5.3 examples', () => {
  it('daily for 10 occurrences', () => {
    assert.deepEqual(expand('RRULE:FREQ=DAILY;COUNT=10'), days('1997-09', [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]));
  });

  it('daily until December 24, 1997 (crosses the EDT→EST change, stays at 09:00 local)', () => {
    const r = expand('RRULE:FREQ=DAILY;UNTIL=19971224T000000Z');
    assert.equal(r.length, 113);
    assert.equal(r[0], '1997-09-02 09:00');
    assert.equal(r.at(-1), '1997-12-23 09:00');
    assert.ok(r.every((x) => x.endsWith('09:00')));
  });

  it('every other day, forever', () => {
    assert.deepEqual(expand('RRULE:FREQ=DAILY;INTERVAL=2', 5), days('1997-09', [2, 4, 6, 8, 10]));
  });

  it('every 10 days, 5 occurrences', () => {
    assert.deepEqual(expand('RRULE:FREQ=DAILY;INTERVAL=10;COUNT=5'), [...days('1997-09', [2, 12, 22]), ...days('1997-10', [2, 12])]);
  });

  it('every day in January, for 3 years (YEARLY and DAILY forms agree)', () => {
    const start = 'DTSTART;TZID=America/New_York:19980101T090000';
    const a = expand('RRULE:FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA', 200, start);
    const b = expand('RRULE:FREQ=DAILY;UNTIL=20000131T140000Z;BYMONTH=1', 200, start);
    assert.equal(a.length, 93);
    assert.deepEqual(a, b);
    assert.equal(a.at(-1), '2000-01-31 09:00');
  });

  it('weekly for 10 occurrences', () => {
    assert.deepEqual(expand('RRULE:FREQ=WEEKLY;COUNT=10'), [
      ...days('1997-09', [2, 9, 16, 23, 30]), ...days('1997-10', [7, 14, 21, 28]), '1997-11-04 09:00',
    ]);
  });

  it('weekly until December 24, 1997', () => {
    const r = expand('RRULE:FREQ=WEEKLY;UNTIL=19971224T000000Z');
    assert.equal(r.length, 17);
    assert.equal(r.at(-1), '1997-12-23 09:00');
  });

  it('every other week, forever', () => {
    assert.deepEqual(expand('RRULE:FREQ=WEEKLY;INTERVAL=2;WKST=SU', 4), [...days('1997-09', [2, 16, 30]), '1997-10-14 09:00']);
  });

  it('weekly on Tuesday and Thursday for five weeks (UNTIL and COUNT forms)', () => {
    const want = [...days('1997-09', [2, 4, 9, 11, 16, 18, 23, 25, 30]), '1997-10-02 09:00'];
    assert.deepEqual(expand('RRULE:FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH'), want);
    assert.deepEqual(expand('RRULE:FREQ=WEEKLY;COUNT=10;WKST=SU;BYDAY=TU,TH'), want);
  });

  it('every other week on Monday, Wednesday and Friday until December 24, 1997', () => {
    assert.deepEqual(expand('RRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR', 200, 'DTSTART;TZID=America/New_York:19970901T090000'), [
      ...days('1997-09', [1, 3, 5, 15, 17, 19, 29]), ...days('1997-10', [1, 3, 13, 15, 17, 27, 29, 31]),
      ...days('1997-11', [10, 12, 14, 24, 26, 28]), ...days('1997-12', [8, 10, 12, 22]),
    ]);
  });

  it('every other week on Tuesday and Thursday, for 8 occurrences', () => {
    assert.deepEqual(expand('RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=8;WKST=SU;BYDAY=TU,TH'), [
      ...days('1997-09', [2, 4, 16, 18, 30]), ...days('1997-10', [2, 14, 16]),
    ]);
  });

  it('monthly on the first Friday for 10 occurrences, and until December 24, 1997', () => {
    const s = 'DTSTART;TZID=America/New_York:19970905T090000';
    assert.deepEqual(expand('RRULE:FREQ=MONTHLY;COUNT=10;BYDAY=1FR', 200, s), [
      '1997-09-05 09:00', '1997-10-03 09:00', '1997-11-07 09:00', '1997-12-05 09:00', '1998-01-02 09:00',
      '1998-02-06 09:00', '1998-03-06 09:00', '1998-04-03 09:00', '1998-05-01 09:00', '1998-06-05 09:00',
    ]);
    assert.deepEqual(expand('RRULE:FREQ=MONTHLY;UNTIL=19971224T000000Z;BYDAY=1FR', 200, s), [
      '1997-09-05 09:00', '1997-10-03 09:00', '1997-11-07 09:00', '1997-12-05 09:00',
    ]);
  });

  it('every other month on the first and last Sunday, for 10 occurrences', () => {
    assert.deepEqual(expand('RRULE:FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU', 200, 'DTSTART;TZID=America/New_York:19970907T090000'), [
      '1997-09-07 09:00', '1997-09-28 09:00', '1997-11-02 09:00', '1997-11-30 09:00', '1998-01-04 09:00',
      '1998-01-25 09:00', '1998-03-01 09:00', '1998-03-29 09:00', '1998-05-03 09:00', '1998-05-31 09:00',
    ]);
  });

  it('monthly on the second-to-last Monday for 6 months', () => {
    assert.deepEqual(expand('RRULE:FREQ=MONTHLY;COUNT=6;BYDAY=-2MO', 200, 'DTSTART;TZID=America/New_York:19970922T090000'), [
      '1997-09-22 09:00', '1997-10-20 09:00', '1997-11-17 09:00', '1997-12-22 09:00', '1998-01-19 09:00', '1998-02-16 09:00',
    ]);
  });

  it('monthly on the third-to-the-last day, forever', () => {
    assert.deepEqual(expand('RRULE:FREQ=MONTHLY;BYMONTHDAY=-3', 6, 'DTSTART;TZID=America/New_York:19970928T090000'), [
      '1997-09-28 09:00', '1997-10-29 09:00', '1997-11-28 09:00', '1997-12-29 09:00', '1998-01-29 09:00', '1998-02-26 09:00',
    ]);
  });

  it('monthly on the 2nd and 15th for 10 occurrences', () => {
    assert.deepEqual(expand('RRULE:FREQ=MONTHLY;COUNT=10;BYMONTHDAY=2,15'), [
      ...days('1997-09', [2, 15]), ...days('1997-10', [2, 15]), ...days('1997-11', [2, 15]), ...days('1997-12', [2, 15]), ...days('1998-01', [2, 15]),
    ]);
  });

  it('monthly on the first and last day for 10 occurrences', () => {
    assert.deepEqual(expand('RRULE:FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1', 200, 'DTSTART;TZID=America/New_York:19970930T090000'), [
      '1997-09-30 09:00', ...days('1997-10', [1, 31]), ...days('1997-11', [1, 30]), ...days('1997-12', [1, 31]), ...days('1998-01', [1, 31]), '1998-02-01 09:00',
    ]);
  });

  it('every 18 months on the 10th through 15th, for 10 occurrences', () => {
    assert.deepEqual(expand('RRULE:FREQ=MONTHLY;INTERVAL=18;COUNT=10;BYMONTHDAY=10,11,12,13,14,15', 200, 'DTSTART;TZID=America/New_York:19970910T090000'), [
      ...days('1997-09', [10, 11, 12, 13, 14, 15]), ...days('1999-03', [10, 11, 12, 13]),
    ]);
  });

  it('every Tuesday, every other month', () => {
    assert.deepEqual(expand('RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=TU', 13), [
      ...days('1997-09', [2, 9, 16, 23, 30]), ...days('1997-11', [4, 11, 18, 25]), ...days('1998-01', [6, 13, 20, 27]),
    ]);
  });

  it('yearly in June and July for 10 occurrences', () => {
    const r = expand('RRULE:FREQ=YEARLY;COUNT=10;BYMONTH=6,7', 200, 'DTSTART;TZID=America/New_York:19970610T090000');
    assert.deepEqual(r, [1997, 1998, 1999, 2000, 2001].flatMap((y) => [`${y}-06-10 09:00`, `${y}-07-10 09:00`]));
  });

  it('every other year in January, February and March for 10 occurrences', () => {
    assert.deepEqual(expand('RRULE:FREQ=YEARLY;INTERVAL=2;COUNT=10;BYMONTH=1,2,3', 200, 'DTSTART;TZID=America/New_York:19970310T090000'), [
      '1997-03-10 09:00', ...[1999, 2001, 2003].flatMap((y) => [`${y}-01-10 09:00`, `${y}-02-10 09:00`, `${y}-03-10 09:00`]),
    ]);
  });

  it('every third year on the 1st, 100th and 200th day for 10 occurrences', () => {
    assert.deepEqual(expand('RRULE:FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200', 200, 'DTSTART;TZID=America/New_York:19970101T090000'), [
      '1997-01-01 09:00', '1997-04-10 09:00', '1997-07-19 09:00', '2000-01-01 09:00', '2000-04-09 09:00',
      '2000-07-18 09:00', '2003-01-01 09:00', '2003-04-10 09:00', '2003-07-19 09:00', '2006-01-01 09:00',
    ]);
  });

  it('every 20th Monday of the year, forever', () => {
    assert.deepEqual(expand('RRULE:FREQ=YEARLY;BYDAY=20MO', 3, 'DTSTART;TZID=America/New_York:19970519T090000'), [
      '1997-05-19 09:00', '1998-05-18 09:00', '1999-05-17 09:00',
    ]);
  });

  it('Monday of week number 20 (ISO 8601 weeks), forever', () => {
    assert.deepEqual(expand('RRULE:FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO', 3, 'DTSTART;TZID=America/New_York:19970512T090000'), [
      '1997-05-12 09:00', '1998-05-11 09:00', '1999-05-17 09:00',
    ]);
  });

  it('every Thursday in March, forever', () => {
    assert.deepEqual(expand('RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=TH', 11, 'DTSTART;TZID=America/New_York:19970313T090000'), [
      ...days('1997-03', [13, 20, 27]), ...days('1998-03', [5, 12, 19, 26]), ...days('1999-03', [4, 11, 18, 25]),
    ]);
  });

  it('every Thursday, but only during summer', () => {
    assert.deepEqual(expand('RRULE:FREQ=YEARLY;BYDAY=TH;BYMONTH=6,7,8', 14, 'DTSTART;TZID=America/New_York:19970605T090000'), [
      ...days('1997-06', [5, 12, 19, 26]), ...days('1997-07', [3, 10, 17, 24, 31]), ...days('1997-08', [7, 14, 21, 28]), '1998-06-04 09:00',
    ]);
  });

  it('every Friday the 13th, forever, with EXDATE of DTSTART', () => {
    assert.deepEqual(expand('EXDATE;TZID=America/New_York:19970902T090000\nRRULE:FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13', 5), [
      '1998-02-13 09:00', '1998-03-13 09:00', '1998-11-13 09:00', '1999-08-13 09:00', '2000-10-13 09:00',
    ]);
  });

  it('the first Saturday that follows the first Sunday of the month', () => {
    assert.deepEqual(expand('RRULE:FREQ=MONTHLY;BYDAY=SA;BYMONTHDAY=7,8,9,10,11,12,13', 10, 'DTSTART;TZID=America/New_York:19970913T090000'), [
      '1997-09-13 09:00', '1997-10-11 09:00', '1997-11-08 09:00', '1997-12-13 09:00', '1998-01-10 09:00',
      '1998-02-07 09:00', '1998-03-07 09:00', '1998-04-11 09:00', '1998-05-09 09:00', '1998-06-13 09:00',
    ]);
  });

  it('US Presidential Election day', () => {
    assert.deepEqual(expand('RRULE:FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8', 3, 'DTSTART;TZID=America/New_York:19961105T090000'), [
      '1996-11-05 09:00', '2000-11-07 09:00', '2004-11-02 09:00',
    ]);
  });

  it('the third instance of Tuesday, Wednesday or Thursday, for the next 3 months (BYSETPOS)', () => {
    assert.deepEqual(expand('RRULE:FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3', 200, 'DTSTART;TZID=America/New_York:19970904T090000'), [
      '1997-09-04 09:00', '1997-10-07 09:00', '1997-11-06 09:00',
    ]);
  });

  it('the second-to-last weekday of the month (BYSETPOS=-2)', () => {
    assert.deepEqual(expand('RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2', 7, 'DTSTART;TZID=America/New_York:19970929T090000'), [
      '1997-09-29 09:00', '1997-10-30 09:00', '1997-11-27 09:00', '1997-12-30 09:00', '1998-01-29 09:00', '1998-02-26 09:00', '1998-03-30 09:00',
    ]);
  });

  it('every 3 hours from 09:00 until 17:00 UTC (see the erratum note at the top)', () => {
    assert.deepEqual(expand('RRULE:FREQ=HOURLY;INTERVAL=3;UNTIL=19970902T170000Z'), ['1997-09-02 09:00', '1997-09-02 12:00']);
  });

  it('every 15 minutes for 6 occurrences, and every hour and a half for 4', () => {
    assert.deepEqual(expand('RRULE:FREQ=MINUTELY;INTERVAL=15;COUNT=6'), days('1997-09', [2]).flatMap(() => [
      '1997-09-02 09:00', '1997-09-02 09:15', '1997-09-02 09:30', '1997-09-02 09:45', '1997-09-02 10:00', '1997-09-02 10:15',
    ]));
    assert.deepEqual(expand('RRULE:FREQ=MINUTELY;INTERVAL=90;COUNT=4'), ['1997-09-02 09:00', '1997-09-02 10:30', '1997-09-02 12:00', '1997-09-02 13:30']);
  });

  it('every 20 minutes from 9:00 to 16:40 every day (DAILY with BYHOUR/BYMINUTE, and MINUTELY with BYHOUR)', () => {
    const a = expand('RRULE:FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40', 30);
    const b = expand('RRULE:FREQ=MINUTELY;INTERVAL=20;BYHOUR=9,10,11,12,13,14,15,16', 30);
    assert.deepEqual(a, b);
    assert.equal(a[0], '1997-09-02 09:00');
    assert.equal(a[23], '1997-09-02 16:40');
    assert.equal(a[24], '1997-09-03 09:00');
  });

  it('WKST changes which days an every-other-week rule picks', () => {
    const s = 'DTSTART;TZID=America/New_York:19970805T090000';
    assert.deepEqual(expand('RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO', 200, s), days('1997-08', [5, 10, 19, 24]));
    assert.deepEqual(expand('RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU', 200, s), days('1997-08', [5, 17, 19, 31]));
  });

  it('an invalid date (February 30) is skipped, not moved', () => {
    assert.deepEqual(expand('RRULE:FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5', 200, 'DTSTART;TZID=America/New_York:20070115T090000'), [
      '2007-01-15 09:00', '2007-01-30 09:00', '2007-02-15 09:00', '2007-03-15 09:00', '2007-03-30 09:00',
    ]);
  });
});

describe('RRULE: time zones and input forms', () => {
  it('TZID occurrences are real instants: 09:00 EDT is 13:00Z, 09:00 EST is 14:00Z', () => {
    const t = compileTrigger({ rrule: 'DTSTART;TZID=America/New_York:19971024T090000\nRRULE:FREQ=DAILY;COUNT=4' }, 0);
    const a = t.next(-1)!;
    assert.equal(new Date(a).toISOString(), '1997-10-24T13:00:00.000Z');
    assert.equal(new Date(t.next(t.next(t.next(a)!)!)!).toISOString(), '1997-10-27T14:00:00.000Z');
  });

  it('tz with a bare rule: DTSTART is the anchor read in that zone; UTC EXDATE and UNTIL are instants', () => {
    const anchor = Date.UTC(2026, 0, 5, 3, 30); // 09:00 in Kolkata, a Monday
    const t = compileTrigger({ rrule: 'FREQ=WEEKLY;BYDAY=MO,TU;UNTIL=20260120T033000Z\nEXDATE:20260106T033000Z', tz: 'Asia/Kolkata' }, anchor);
    const out: string[] = [];
    for (let n = t.next(anchor - 1); n !== null; n = t.next(n)) out.push(local(n, 'Asia/Kolkata'));
    assert.deepEqual(out, ['2026-01-05 09:00', '2026-01-12 09:00', '2026-01-13 09:00', '2026-01-19 09:00', '2026-01-20 09:00']);
  });

  it('DTSTART in UTC with a tz keeps the UTC instant as the first occurrence', () => {
    const t = compileTrigger({ rrule: 'DTSTART:20260105T033000Z\nRRULE:FREQ=DAILY;COUNT=2', tz: 'Asia/Kolkata' }, 0);
    assert.equal(t.next(-1), Date.UTC(2026, 0, 5, 3, 30));
  });

  it('RDATE adds an occurrence', () => {
    const t = compileTrigger({ rrule: 'DTSTART:20260101T090000Z\nRRULE:FREQ=WEEKLY;COUNT=2\nRDATE:20260103T120000Z' }, 0);
    const out: number[] = [];
    for (let n = t.next(-1); n !== null; n = t.next(n)) out.push(n);
    assert.deepEqual(out, [Date.UTC(2026, 0, 1, 9), Date.UTC(2026, 0, 3, 12), Date.UTC(2026, 0, 8, 9)]);
  });

  it('queries far from DTSTART (where the series is restarted near the query) agree with iterating from DTSTART', () => {
    const { RRule } = rrulePkg;
    const rules = ['FREQ=SECONDLY;INTERVAL=15', 'FREQ=MINUTELY', 'FREQ=HOURLY;INTERVAL=5;BYDAY=MO', 'FREQ=WEEKLY;INTERVAL=3;BYDAY=TU,FR;WKST=SU',
      'FREQ=DAILY;INTERVAL=9;BYSETPOS=1;BYHOUR=3,4', 'FREQ=DAILY;BYHOUR=9,17;BYMINUTE=15', 'FREQ=MONTHLY;BYDAY=-1FR'];
    const start = Date.UTC(2020, 0, 1, 0, 0, 7);
    for (const rule of rules) {
      const ref = new RRule({ ...RRule.parseString(rule), dtstart: new Date(start) });
      const t = compileTrigger({ rrule: `DTSTART:20200101T000007Z\nRRULE:${rule}` }, 0);
      // rrule.js walks from DTSTART to answer: a SECONDLY rule is queried days from it (tens of thousands
      // of occurrences), not months (millions, which took it minutes); the rest months and years away.
      const far = rule.startsWith('FREQ=SECONDLY')
        ? [Date.UTC(2020, 0, 1), Date.UTC(2020, 0, 2, 7, 11, 3), Date.UTC(2020, 0, 5)]
        : rule.startsWith('FREQ=MINUTELY')
          ? [Date.UTC(2020, 0, 1), Date.UTC(2020, 1, 5, 7, 11, 3), Date.UTC(2020, 2, 1)]
          : [Date.UTC(2020, 0, 1), Date.UTC(2020, 5, 5, 7, 11, 3), Date.UTC(2021, 6, 1)];
      for (const at of far) {
        assert.equal(t.next(at), ref.after(new Date(at))!.getTime(), `${rule} after ${new Date(at).toISOString()}`);
        // The reference walks every occurrence of its window: a day holds the last 3 of a SECONDLY or
        // MINUTELY rule (400 days of them took rrule.js minutes), 400 days those of the others.
        const span = /SECONDLY|MINUTELY/.test(rule) ? 86_400_000 : 400 * 86_400_000;
        const want = ref.between(new Date(at - span), new Date(at), true).slice(-3).map((d) => d.getTime());
        assert.deepEqual(t.lastUpTo(at, 3), want, `${rule} last 3 up to ${new Date(at).toISOString()}`);
      }
    }
  });

  it('lastUpTo returns the latest occurrences at or before a time', () => {
    const t = compileTrigger({ rrule: 'DTSTART:20260101T000000Z\nRRULE:FREQ=HOURLY' }, 0);
    assert.deepEqual(t.lastUpTo(Date.UTC(2026, 0, 1, 5), 3), [Date.UTC(2026, 0, 1, 3), Date.UTC(2026, 0, 1, 4), Date.UTC(2026, 0, 1, 5)]);
  });

  it('refuses bad rules with invalid_schedule naming the field', () => {
    const bad: [unknown, string][] = [
      [{ rrule: 'FREQ=SOMETIMES' }, 'trigger.rrule'],
      [{ rrule: 'hello' }, 'trigger.rrule'],
      [{ rrule: '' }, 'trigger.rrule'],
      [{ rrule: 'DTSTART:20260101T000000Z' }, 'trigger.rrule'],
      [{ rrule: 'DTSTART;TZID=Mars/Olympus:20260101T000000\nRRULE:FREQ=DAILY' }, 'trigger.rrule'],
      [{ rrule: 'FREQ=DAILY', tz: 'Nowhere/Land' }, 'trigger.tz'],
      [{ rrule: 'DTSTART;TZID=Europe/Berlin:20260101T000000\nRRULE:FREQ=DAILY', tz: 'Asia/Kolkata' }, 'trigger.tz'],
      [{ rrule: 'DTSTART:20261301T000000Z\nRRULE:FREQ=DAILY' }, 'trigger.rrule'],
    ];
    for (const [trigger, field] of bad) {
      assert.throws(() => compileTrigger(trigger as never, 0), (e: FusionError) => e.code === 'invalid_schedule' && e.details.field === field && e.status === 400, JSON.stringify(trigger));
    }
  });
});

describe('RRULE with COUNT: the COUNT-th occurrence found once (countEnds), then run as UNTIL', () => {
  // Each rule through the stored end against the same rule iterated from DTSTART with its COUNT
  // (countEnds [null]: how every query ran before). A New York DTSTART crosses DST changes.
  // Counts span several cycles of each rule, yet stay small: the comparison iterates from DTSTART
  // on every query.
  const rules = [
    'FREQ=HOURLY;COUNT=150',
    'FREQ=MINUTELY;INTERVAL=15;COUNT=150',
    'FREQ=HOURLY;BYHOUR=9,17;BYDAY=MO,WE;COUNT=30',
    'FREQ=DAILY;BYHOUR=8,20;BYMINUTE=0,30;COUNT=150',
    'FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,FR;COUNT=40',
    'FREQ=MINUTELY;INTERVAL=10;BYHOUR=9;COUNT=40',
    'FREQ=DAILY;INTERVAL=3;BYDAY=MO;COUNT=20', // no cycle (3 days against a week): iterated once
    'FREQ=MONTHLY;BYDAY=-1FR;COUNT=30', // a calendar rule: iterated once
  ];
  const all = (t: ReturnType<typeof compileTrigger>) => {
    const out: string[] = [];
    for (let n = t.next(-1); n !== null; n = t.next(n)) out.push(local(n, NY));
    return out;
  };
  for (const rule of rules) {
    it(rule, () => {
      const trigger = { rrule: `DTSTART;TZID=America/New_York:20261030T083000\n${rule}` };
      const compiled = compileTrigger(trigger, 0);
      assert.ok(compiled.countEnds?.[0] !== null && compiled.countEnds?.[0] !== undefined, 'an end was found');
      const expected = all(compileTrigger(trigger, 0, [null]));
      assert.equal(expected.length, Number(/COUNT=(\d+)/.exec(rule)![1]));
      assert.deepEqual(all(compiled), expected);
      // As stored and read back: the same answers without working the end out again.
      assert.deepEqual(all(compileTrigger(trigger, 0, compiled.countEnds)), expected);
    });
  }
});
