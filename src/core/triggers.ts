// Triggers: when a schedule fires. Each kind compiles to an occurrence function over epoch ms.
// cron expansion is croner's, RRULE grammar and expansion are rrule's; this module validates,
// pins time zones and bridges rrule's "floating" dates to instants (see schedule-zone.ts).
import { Cron } from 'croner';
import rrulePkg from 'rrule';
import type { Options as RRuleOptions } from 'rrule';
import { FusionError } from './errors.js';
import { TIME_MAX, TIME_MIN, WINDOW_TEXT, parseIso } from './times.js';
import { instantOf, isValidZone, offsetAt, wallOf } from './schedule-zone.js';
import { SEARCH_BUDGET, SearchBudget, SearchExhausted, charge, metered } from './search-budget.js';

const { RRule, RRuleSet } = rrulePkg;

/** Wall-time length of one period of each rrule frequency with a fixed length (YEARLY, MONTHLY have none). */
const PERIOD_MS: Record<number, number> = {
  [RRule.WEEKLY]: 7 * 86_400_000,
  [RRule.DAILY]: 86_400_000,
  [RRule.HOURLY]: 3_600_000,
  [RRule.MINUTELY]: 60_000,
  [RRule.SECONDLY]: 1000,
};

export type CronTrigger = { cron: string; tz?: string };
/** RFC 5545 lines: optional DTSTART[;TZID=..], one or more RRULE, optional EXDATE/RDATE. A bare "FREQ=..." works too. */
export type RRuleTrigger = { rrule: string; tz?: string };
/** A fixed interval: ms as a number, or "500ms", "30s", "15m", "2h", "1d", "1h30m". */
export type EveryTrigger = { every: number | string };
/** One time: epoch ms, an ISO 8601 string with offset, or a Date. */
export type AtTrigger = { at: number | string | Date };
export type Trigger = CronTrigger | RRuleTrigger | EveryTrigger | AtTrigger;
export type TriggerKind = 'cron' | 'rrule' | 'every' | 'at';

export const MIN_EVERY_MS = 10;
/** Longest `every` interval: a year and a day. Longer periods are calendar periods; use cron or rrule. */
export const MAX_EVERY_MS = 366 * 86_400_000;
/**
 * Refuse a time outside the window (times.ts), naming the field. Every time a schedule's caller gives
 * (at, startAt, endAt, from, DTSTART, RDATE) lies in [TIME_MIN, TIME_MAX), years 1970 to 2199; a
 * series ends at TIME_MAX. Outside it a time is almost always a unit mix-up, and searching there
 * costs without bound.
 */
export function checkTimeWindow(t: number, field: string, value: unknown = t): number {
  if (!(t >= TIME_MIN && t < TIME_MAX)) throw invalidSchedule(field, `${field} must lie between ${WINDOW_TEXT}`, { value, min: TIME_MIN, max: TIME_MAX });
  return t;
}

export const invalidSchedule = (field: string, message: string, extra: Record<string, unknown> = {}) =>
  new FusionError('invalid_schedule', message, { field, ...extra }, 400);

export interface CompiledTrigger {
  kind: TriggerKind;
  /** The first occurrence strictly after `after`, or null when there is none. */
  next(after: number): number | null;
  /** Up to `n` latest occurrences at or before `t`, ascending. */
  lastUpTo(t: number, n: number): number[];
  /**
   * RRULE only: per RRULE line, the wall time of its COUNT-th occurrence (null: no COUNT, or too
   * costly to find: it then iterates from DTSTART as rrule.js does). Costly to work out, so stored
   * with the schedule and passed back to compileTrigger.
   */
  countEnds?: readonly (number | null)[];
}

export function triggerKind(t: unknown): TriggerKind {
  if (!t || typeof t !== 'object' || Array.isArray(t)) throw invalidSchedule('trigger', 'trigger must be an object with one of cron, rrule, every, at');
  const kinds = (['cron', 'rrule', 'every', 'at'] as const).filter((k) => k in (t as object));
  if (kinds.length !== 1) {
    throw invalidSchedule('trigger', 'trigger must have exactly one of cron, rrule, every, at', { found: kinds });
  }
  return kinds[0]!;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30s", "15m", "1h30m", "250ms", or a number of ms. */
export function parseDuration(v: unknown, field: string): number {
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string' && /^\s*\d+\s*$/.test(v)) ms = Number(v);
  else if (typeof v === 'string' && /^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(v.trim())) {
    ms = 0;
    for (const [, n, , unit] of v.trim().matchAll(/(\d+(\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(n) * UNIT_MS[unit!]!;
  } else {
    throw invalidSchedule(field, `${field} must be a number of ms or a duration like "30s", "15m", "2h", "1h30m"`, { value: v });
  }
  if (!Number.isFinite(ms) || !Number.isInteger(ms) || ms < MIN_EVERY_MS || ms > MAX_EVERY_MS) {
    throw invalidSchedule(field, `${field} must be a whole number of ms from ${MIN_EVERY_MS} to ${MAX_EVERY_MS} (366 days)`, { value: v, min: MIN_EVERY_MS, max: MAX_EVERY_MS });
  }
  return ms;
}

/** Epoch ms from a number, a Date or an ISO 8601 string. A string without offset is UTC. */
export function parseTime(v: unknown, field: string): number {
  let t: number;
  if (typeof v === 'number') t = v;
  else if (v instanceof Date) t = v.getTime();
  else if (typeof v === 'string') t = parseIso(v) ?? NaN;
  else t = NaN;
  if (!Number.isFinite(t)) throw invalidSchedule(field, `${field} must be a time: epoch ms or an ISO 8601 string`, { value: v });
  return checkTimeWindow(Math.round(t), field, v);
}

function zoneOf(tz: unknown, field: string): string {
  if (tz === undefined || tz === null) return 'UTC';
  if (typeof tz !== 'string' || !isValidZone(tz)) throw invalidSchedule(field, `${field} must be an IANA time zone name like "Asia/Kolkata"`, { value: tz });
  return tz;
}

// ---- cron ----

function compileCron(t: CronTrigger): CompiledTrigger {
  if (typeof t.cron !== 'string' || t.cron.trim() === '') throw invalidSchedule('trigger.cron', 'cron must be a 5- or 6-field cron line');
  const timezone = zoneOf(t.tz, 'trigger.tz');
  let cron: Cron;
  const line = t.cron.trim();
  try {
    // 5 fields = minute precision, 6 = seconds first. Day-of-month and day-of-week combine as in
    // Vixie cron: with OR, unless either field starts with '*' ('*/10' too), then with AND. A list
    // or range of hours is as fixed in time as a single hour: across a DST change it runs once,
    // never skipped nor twice ('no-wildcard'; croner's default treats only single values so).
    cron = new Cron(line, { timezone, paused: true, mode: '5-or-6-parts', domAndDow: dayFieldStarred(line), fixedTimeRule: 'no-wildcard' });
  } catch (e) {
    throw invalidSchedule('trigger.cron', `invalid cron line: ${(e as Error).message}`, { value: t.cron });
  }
  // croner searches up to year 3000 at most, in about a millisecond; answers past the window end the series.
  const next = (after: number): number | null => {
    if (after >= TIME_MAX) return null;
    const t = cron.nextRun(new Date(Math.max(after, TIME_MIN - 1)))?.getTime() ?? null;
    return t === null || t >= TIME_MAX ? null : t;
  };
  if (next(TIME_MIN - 1) === null) throw invalidSchedule('trigger.cron', 'the cron line never matches (e.g. a day that no month has)', { value: t.cron });
  return {
    kind: 'cron',
    next,
    lastUpTo: (t, n) => (t < TIME_MIN ? [] : cron.previousRuns(n, new Date(Math.min(t, TIME_MAX - 1) + 1)).map((d) => d.getTime()).reverse()),
  };
}

/** Whether a cron line's day-of-month or day-of-week field starts with '*' (Vixie cron's DOM_STAR, DOW_STAR). */
function dayFieldStarred(line: string): boolean {
  const fields = line.split(/\s+/);
  if (fields.length < 5) return false; // a nickname (@daily): no day fields
  const [dom, , dow] = fields.slice(-3);
  return dom!.startsWith('*') || dow!.startsWith('*');
}

// ---- every / at ----

/** `anchor` is the first occurrence; the rest follow at whole multiples of the interval. */
function compileEvery(intervalMs: number, anchor: number): CompiledTrigger {
  return {
    kind: 'every',
    next(after) {
      const t = after < anchor ? anchor : anchor + (Math.floor((after - anchor) / intervalMs) + 1) * intervalMs;
      return t >= TIME_MAX ? null : t;
    },
    lastUpTo(t, n) {
      if (t < anchor) return [];
      const k = Math.floor((Math.min(t, TIME_MAX - 1) - anchor) / intervalMs);
      const out: number[] = [];
      for (let i = Math.max(0, k - n + 1); i <= k; i++) out.push(anchor + i * intervalMs);
      return out;
    },
  };
}

function compileAt(at: number): CompiledTrigger {
  return { kind: 'at', next: (after) => (at > after ? at : null), lastUpTo: (t, n) => (at <= t && n > 0 ? [at] : []) };
}

// ---- rrule ----

// DTSTART/EXDATE/RDATE values: a date, a floating or UTC date-time. Parsed here because rrule.js
// folds UTC and TZID values into the same Date and cannot tell them apart afterwards.
const DATE_VALUE = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/;

interface ParsedDate {
  /** wall ms if floating/TZID, instant ms if utc */
  ms: number;
  utc: boolean;
}

function parseDateValue(v: string, field: string): ParsedDate {
  const m = DATE_VALUE.exec(v.trim());
  if (!m) throw invalidSchedule(field, `invalid date-time "${v}" (use YYYYMMDD or YYYYMMDDTHHMMSS[Z])`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', z] = m;
  const ms = Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +s);
  const back = new Date(ms);
  if (Number.isNaN(ms) || back.getUTCMonth() !== +mo! - 1 || back.getUTCDate() !== +d! || +h > 23 || +mi > 59 || +s > 59) throw invalidSchedule(field, `invalid date-time "${v}"`);
  return { ms, utc: z === 'Z' };
}

function splitProp(line: string): { name: string; params: Record<string, string>; value: string } {
  const colon = line.indexOf(':');
  const head = colon < 0 ? line : line.slice(0, colon);
  const value = colon < 0 ? '' : line.slice(colon + 1);
  const [name, ...ps] = head.split(';');
  const params: Record<string, string> = {};
  for (const p of ps) {
    const eq = p.indexOf('=');
    if (eq > 0) params[p.slice(0, eq).toUpperCase()] = p.slice(eq + 1);
  }
  return { name: name!.toUpperCase(), params, value };
}

/**
 * Work units per step of rrule's main loop, by frequency (YEARLY=0 .. SECONDLY=6): a yearly step
 * scans a year of days, a sub-daily step that skips a filtered day costs about a daily one.
 * Calibrated so one unit is one to three microseconds of CPU whatever the rule (tests/scheduler/budget.test.ts bounds it).
 */
const STEP_COST = [12, 2, 2, 1, 1, 1, 1];

/**
 * Meter a rule's iteration against the active search budget. rrule.js (2.8) has no hook in its
 * loops, but reads `options.interval` once per step of its main loop, and calls `indexOf` on
 * BYHOUR/BYMINUTE/BYSECOND once per turn of the inner loops that look for the next matching time
 * of day (which never end when INTERVAL and those lists never line up). Both reads are charged.
 */
function meterRule(rule: InstanceType<typeof RRule>): InstanceType<typeof RRule> {
  const o = rule.options as unknown as Record<string, unknown>;
  const interval = o.interval;
  // BYSETPOS makes each step build and sort the period's whole set.
  const cost = (STEP_COST[o.freq as number] ?? 1) + (Array.isArray(o.bysetpos) && o.bysetpos.length > 0 ? 1 : 0);
  Object.defineProperty(o, 'interval', { get: () => (charge(cost), interval), enumerable: true, configurable: true });
  for (const k of ['byhour', 'byminute', 'bysecond']) {
    const list = o[k];
    // Parsed lists are shared by the rules a trigger builds per query: meter each once.
    if (Array.isArray(list) && list.length > 0 && !Object.prototype.hasOwnProperty.call(list, 'indexOf')) {
      Object.defineProperty(list, 'indexOf', {
        value(this: unknown[], v: unknown) {
          charge(1);
          return Array.prototype.indexOf.call(this, v);
        },
      });
    }
  }
  return rule;
}

const DAY_MS = 86_400_000;
/** A series ends at the window's end: in wall time, with a day of margin for any zone's offset. */
const LAST_WALL = TIME_MAX + DAY_MS;
const given = (v: unknown) => v !== undefined && v !== null && (!Array.isArray(v) || v.length > 0);

/**
 * The wall-time length after which a rule's occurrences repeat shifted by it, or null. A rule of
 * fixed period (SECONDLY..WEEKLY) whose filters name no calendar part (month, day of month or year,
 * week number, nth weekday, set position) repeats every period; a weekday filter repeats weekly and
 * an hour, minute or second filter daily, so the whole rule repeats at the longer of the two when
 * one divides the other.
 */
function cycleOf(o: Partial<RRuleOptions>): number | null {
  const unit = PERIOD_MS[o.freq as number];
  if (unit === undefined) return null;
  if ([o.bymonth, o.bymonthday, o.byyearday, o.byweekno, o.bysetpos, o.byeaster].some(given)) return null;
  const weekdays = o.byweekday === undefined || o.byweekday === null ? [] : [o.byweekday].flat();
  if (weekdays.some((d) => typeof d === 'object' && d !== null && 'n' in d && d.n)) return null;
  const period = unit * (o.interval ?? 1);
  const within = weekdays.length > 0 ? 7 * DAY_MS : [o.byhour, o.byminute, o.bysecond].some(given) ? DAY_MS : period;
  // Where neither divides the other, rrule.js loses the interval's phase as it skips filtered
  // times (see tests/scheduler/rrule.test.ts): no cycle to rely on.
  if (within % period !== 0 && period % within !== 0) return null;
  const cycle = Math.max(period, within);
  return cycle < TIME_MAX - TIME_MIN ? cycle : null;
}

/**
 * The wall time of a COUNT rule's last occurrence (before the window's end), or null when finding
 * it costs more than a search may (the rule then keeps its COUNT). A repeating rule (cycleOf) needs
 * only its first cycle: the COUNT-th occurrence is one of those, moved by whole cycles.
 */
function countEndOf(o: Partial<RRuleOptions>, startWall: number): number | null {
  const count = o.count!;
  const cycle = cycleOf(o);
  const cycleEnd = cycle === null ? Infinity : startWall + cycle;
  const first: number[] = [];
  const budget = new SearchBudget(SEARCH_BUDGET, 'trigger.rrule');
  try {
    metered(() => {
      meterRule(new RRule(o, true)).all((d) => {
        charge(1);
        const w = d.getTime();
        if (w >= cycleEnd || w > LAST_WALL) return false;
        first.push(w);
        return true;
      });
    }, budget);
  } catch (e) {
    // This search's own budget spent: keep COUNT. An enclosing one spent: its caller's to handle.
    if (e instanceof SearchExhausted && budget.exhausted) return null;
    throw e;
  }
  if (first.length === 0) return startWall - 1; // no occurrence at all
  if (first.length >= count || cycle === null) return first[first.length - 1]!;
  return first[(count - 1) % first.length]! + Math.floor((count - 1) / first.length) * cycle;
}

/**
 * Compile an RRULE trigger. `defaultStart` (instant) is DTSTART when the text has none; the
 * scheduler passes the schedule's start so the series stays put once stored.
 */
function compileRRule(t: RRuleTrigger, defaultStart: number, countEnds?: readonly (number | null)[]): CompiledTrigger {
  if (typeof t.rrule !== 'string' || t.rrule.trim() === '') throw invalidSchedule('trigger.rrule', 'rrule must be RFC 5545 text, e.g. "FREQ=WEEKLY;BYDAY=MO"');
  // Unfold RFC 5545 continuation lines, then read property by property.
  const lines = t.rrule.replace(/\r?\n[ \t]/g, '').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  let tz: string | null = t.tz !== undefined && t.tz !== null ? zoneOf(t.tz, 'trigger.tz') : null;
  let dtstart: ParsedDate | null = null;
  const ruleTexts: string[] = [];
  const exdates: ParsedDate[] = [];
  const rdates: ParsedDate[] = [];
  for (const line of lines) {
    if (/^FREQ=/i.test(line)) {
      ruleTexts.push(line);
      continue;
    }
    const p = splitProp(line);
    if (p.name === 'DTSTART') {
      if (p.params.TZID) {
        const z = zoneOf(p.params.TZID, 'trigger.rrule');
        if (tz && tz !== z) throw invalidSchedule('trigger.tz', `tz "${tz}" contradicts DTSTART;TZID=${z}`);
        tz = z;
      }
      dtstart = parseDateValue(p.value, 'trigger.rrule');
      checkTimeWindow(dtstart.ms, 'trigger.rrule', `DTSTART ${p.value}`);
    } else if (p.name === 'RRULE') ruleTexts.push(p.value);
    else if (p.name === 'EXDATE' || p.name === 'RDATE') {
      const target = p.name === 'EXDATE' ? exdates : rdates;
      if (p.params.VALUE && p.params.VALUE.toUpperCase() === 'PERIOD') throw invalidSchedule('trigger.rrule', 'RDATE;VALUE=PERIOD is not supported');
      // A value with a TZID of its own is that zone's wall time: kept as the instant it names.
      const ownZone = p.params.TZID ? zoneOf(p.params.TZID, 'trigger.rrule') : null;
      for (const v of p.value.split(',')) {
        let d = parseDateValue(v, 'trigger.rrule');
        if (ownZone && !d.utc) d = { ms: instantOf(d.ms, ownZone), utc: true };
        if (target === rdates) checkTimeWindow(d.ms, 'trigger.rrule', `RDATE ${v}`);
        target.push(d);
      }
    } else {
      throw invalidSchedule('trigger.rrule', `unsupported line "${line}" (use DTSTART, RRULE, EXDATE, RDATE)`);
    }
  }
  if (ruleTexts.length === 0 && rdates.length === 0) throw invalidSchedule('trigger.rrule', 'rrule needs an RRULE (FREQ=...)');
  const zone = tz ?? 'UTC';
  // Everything below is in wall time of `zone`, as rrule.js expects with no tzid.
  const toWall = (d: ParsedDate) => (d.utc ? wallOf(d.ms, zone) : d.ms);
  const startWall = dtstart ? toWall(dtstart) : Math.floor(wallOf(defaultStart, zone) / 1000) * 1000;
  const rules: Partial<RRuleOptions>[] = [];
  for (const text of ruleTexts) {
    let opts: Partial<RRuleOptions>;
    try {
      opts = RRule.parseString(text);
    } catch (e) {
      throw invalidSchedule('trigger.rrule', `invalid RRULE: ${(e as Error).message}`, { value: text });
    }
    if (opts.freq === undefined || opts.freq === null) throw invalidSchedule('trigger.rrule', 'RRULE needs FREQ', { value: text });
    if (opts.until) {
      // UNTIL with Z is an instant; without, a wall time of the zone (RFC 5545 §3.3.10).
      const utc = /UNTIL=\d{8}(T\d{6})?Z/i.test(text);
      opts.until = new Date(utc ? wallOf(opts.until.getTime(), zone) : opts.until.getTime());
    }
    opts.dtstart = new Date(startWall);
    opts.tzid = null;
    try {
      new RRule(opts);
    } catch (e) {
      throw invalidSchedule('trigger.rrule', `invalid RRULE: ${(e as Error).message}`, { value: text });
    }
    rules.push(opts);
  }
  const rdateWalls = rdates.map(toWall);
  const exdateWalls = exdates.map(toWall);
  // A rule with COUNT is the same rule without it, UNTIL its COUNT-th occurrence. rrule.js finds
  // that occurrence only by iterating from DTSTART, and did so on every query: past some 6,000
  // occurrences (an hourly rule's eight months) a query ran out of budget and the schedule ended.
  // So the last occurrence is found once (countEndOf; stored with the schedule as countEnds), and
  // the rule then runs as UNTIL, which lets each query start near its window (makeSet).
  const ends = countEnds ?? rules.map((o) => (o.count === undefined || o.count === null ? null : countEndOf(o, startWall)));
  ends.forEach((end, i) => {
    if (end === null || end === undefined) return;
    const o = rules[i]!;
    rules[i] = { ...o, count: null, until: new Date(Math.min(o.until?.getTime() ?? Infinity, end)) };
  });

  // rrule.js always iterates from DTSTART, which for a frequent rule running for months costs
  // seconds per query. A rule without COUNT whose period is fixed in wall time (SECONDLY..WEEKLY)
  // has the same occurrences from any DTSTART moved forward by whole periods (BYxxx defaults taken
  // from DTSTART stay the same), so each query starts the series just before the window it needs.
  const periodOf = (o: Partial<RRuleOptions>): number | null => {
    if (o.count !== undefined && o.count !== null) return null;
    const unit = PERIOD_MS[o.freq as number];
    return unit === undefined ? null : unit * (o.interval ?? 1);
  };
  const makeSet = (fromWall: number): { set: InstanceType<typeof RRuleSet>; shifted: boolean } => {
    const set = new RRuleSet();
    let shifted = false;
    for (const o of rules) {
      const period = periodOf(o);
      const k = period === null ? 0 : Math.floor((fromWall - startWall) / period) - 1;
      if (k > 0) shifted = true;
      set.rrule(meterRule(new RRule(k > 0 ? { ...o, dtstart: new Date(startWall + k * period!) } : o, true)));
    }
    for (const w of rdateWalls) set.rdate(new Date(w));
    for (const w of exdateWalls) set.exdate(new Date(w));
    return { set, shifted };
  };

  // The instant of a wall time is not monotonic across a DST gap (02:30 maps after 03:00), so
  // near an offset change look at wall times from a margin before `after` and keep the earliest instant.
  const marginAt = (t: number): number => {
    if (zone === 'UTC') return 0;
    const o = offsetAt(t, zone);
    return offsetAt(t - 2 * 86_400_000, zone) === o && offsetAt(t + 2 * 86_400_000, zone) === o ? 0 : 3 * 3_600_000;
  };
  const next = (after: number): number | null => metered(() => {
    if (after >= TIME_MAX) return null;
    after = Math.max(after, TIME_MIN - 1);
    const MARGIN = marginAt(after);
    const fromWall = wallOf(after, zone) - MARGIN;
    let best: number | null = null;
    let bestWall = 0;
    makeSet(fromWall).set.all((d) => {
      charge(2);
      const w = d.getTime();
      if (w > LAST_WALL) return false;
      if (w <= fromWall) return true;
      if (best !== null && w > bestWall + MARGIN) return false;
      const inst = instantOf(w, zone);
      if (inst > after && (best === null || inst < best)) {
        best = inst;
        bestWall = w;
      }
      return true;
    });
    return best !== null && best >= TIME_MAX ? null : best;
  }, undefined, 'trigger.rrule');
  const maxPeriod = Math.max(0, ...rules.map((o) => periodOf(o) ?? 0));
  const lastUpTo = (upTo: number, n: number): number[] => metered(() => {
    if (upTo < TIME_MIN) return [];
    upTo = Math.min(upTo, TIME_MAX - 1);
    const MARGIN = marginAt(upTo);
    const limitWall = wallOf(upTo, zone) + MARGIN;
    // Start a window of a few periods back; widen it while it holds fewer than n (filters may thin a series).
    for (let span = (n + 2) * maxPeriod + 2 * MARGIN + 1000; ; span *= 4) {
      const out: number[] = [];
      const { set, shifted } = makeSet(limitWall - span);
      set.all((d) => {
        charge(2);
        const w = d.getTime();
        if (w > limitWall) return false;
        const inst = instantOf(w, zone);
        if (inst <= upTo) {
          out.push(inst);
          if (out.length > n * 4) out.splice(0, out.length - n);
        }
        return true;
      });
      if (out.length >= n || !shifted) return [...new Set(out)].sort((a, b) => a - b).slice(-n);
    }
  }, undefined, 'trigger.rrule');
  return { kind: 'rrule', next, lastUpTo, countEnds: ends };
}

/**
 * Compile a trigger. `anchor` is the instant that fixes series without an explicit start:
 * the first `every` occurrence, and DTSTART of an RRULE that has none. `countEnds`: an RRULE
 * trigger's own from an earlier compile (CompiledTrigger.countEnds), kept with the schedule.
 */
export function compileTrigger(trigger: Trigger, anchor: number, countEnds?: readonly (number | null)[]): CompiledTrigger {
  const kind = triggerKind(trigger);
  switch (kind) {
    case 'cron':
      return compileCron(trigger as CronTrigger);
    case 'rrule':
      return compileRRule(trigger as RRuleTrigger, anchor, countEnds);
    case 'every':
      if ('tz' in trigger) throw invalidSchedule('trigger.tz', 'tz applies to cron and rrule triggers only');
      return compileEvery(parseDuration((trigger as EveryTrigger).every, 'trigger.every'), anchor);
    case 'at':
      if ('tz' in trigger) throw invalidSchedule('trigger.tz', 'tz applies to cron and rrule triggers only');
      return compileAt(parseTime((trigger as AtTrigger).at, 'trigger.at'));
  }
}

