// Triggers: when a schedule fires. Each kind compiles to an occurrence function over epoch ms.
// cron expansion is croner's, RRULE grammar and expansion are rrule's; this module validates,
// pins time zones and bridges rrule's "floating" dates to instants (see schedule-zone.ts).
import { Cron } from 'croner';
import rrulePkg from 'rrule';
import type { Options as RRuleOptions } from 'rrule';
import { FusionError } from './errors.js';
import { instantOf, isValidZone, wallOf } from './schedule-zone.js';

const { RRule, RRuleSet } = rrulePkg;

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

export const invalidSchedule = (field: string, message: string, extra: Record<string, unknown> = {}) =>
  new FusionError('invalid_schedule', message, { field, ...extra }, 400);

export interface CompiledTrigger {
  kind: TriggerKind;
  /** The first occurrence strictly after `after`, or null when there is none. */
  next(after: number): number | null;
  /** Up to `n` latest occurrences at or before `t`, ascending. */
  lastUpTo(t: number, n: number): number[];
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
  if (!Number.isFinite(ms) || !Number.isInteger(ms) || ms < MIN_EVERY_MS) {
    throw invalidSchedule(field, `${field} must be a whole number of ms, at least ${MIN_EVERY_MS}`, { value: v });
  }
  return ms;
}

/** Epoch ms from a number, a Date or an ISO 8601 string. A string without offset is UTC. */
export function parseTime(v: unknown, field: string): number {
  let t: number;
  if (typeof v === 'number') t = v;
  else if (v instanceof Date) t = v.getTime();
  else if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v)) {
    const s = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(v) ? `${v}Z` : v;
    t = Date.parse(s);
  } else t = NaN;
  if (!Number.isFinite(t)) throw invalidSchedule(field, `${field} must be a time: epoch ms or an ISO 8601 string`, { value: v });
  return Math.round(t);
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
  try {
    // 5 fields = minute precision, 6 = seconds first. Day-of-month and day-of-week combine with OR, as in Vixie cron.
    cron = new Cron(t.cron.trim(), { timezone, paused: true, mode: '5-or-6-parts' });
  } catch (e) {
    throw invalidSchedule('trigger.cron', `invalid cron line: ${(e as Error).message}`, { value: t.cron });
  }
  return {
    kind: 'cron',
    next: (after) => cron.nextRun(new Date(after))?.getTime() ?? null,
    lastUpTo: (t, n) => cron.previousRuns(n, new Date(t + 1)).map((d) => d.getTime()).reverse(),
  };
}

// ---- every / at ----

/** `anchor` is the first occurrence; the rest follow at whole multiples of the interval. */
function compileEvery(intervalMs: number, anchor: number): CompiledTrigger {
  return {
    kind: 'every',
    next(after) {
      if (after < anchor) return anchor;
      return anchor + (Math.floor((after - anchor) / intervalMs) + 1) * intervalMs;
    },
    lastUpTo(t, n) {
      if (t < anchor) return [];
      const k = Math.floor((t - anchor) / intervalMs);
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
  if (Number.isNaN(ms) || new Date(ms).getUTCDate() !== +d!) throw invalidSchedule(field, `invalid date-time "${v}"`);
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

export interface RRuleParsed {
  tz: string;
  /** wall ms */
  dtstart: number | null;
}

/**
 * Compile an RRULE trigger. `defaultStart` (instant) is DTSTART when the text has none; the
 * scheduler passes the schedule's start so the series stays put once stored.
 */
function compileRRule(t: RRuleTrigger, defaultStart: number): CompiledTrigger & { dtstartWall: number; tz: string; hasDtstart: boolean } {
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
    } else if (p.name === 'RRULE') ruleTexts.push(p.value);
    else if (p.name === 'EXDATE' || p.name === 'RDATE') {
      const target = p.name === 'EXDATE' ? exdates : rdates;
      if (p.params.VALUE && p.params.VALUE.toUpperCase() === 'PERIOD') throw invalidSchedule('trigger.rrule', 'RDATE;VALUE=PERIOD is not supported');
      for (const v of p.value.split(',')) target.push(parseDateValue(v, 'trigger.rrule'));
    } else {
      throw invalidSchedule('trigger.rrule', `unsupported line "${line}" (use DTSTART, RRULE, EXDATE, RDATE)`);
    }
  }
  if (ruleTexts.length === 0 && rdates.length === 0) throw invalidSchedule('trigger.rrule', 'rrule needs an RRULE (FREQ=...)');
  const zone = tz ?? 'UTC';
  // Everything below is in wall time of `zone`, as rrule.js expects with no tzid.
  const toWall = (d: ParsedDate) => (d.utc ? wallOf(d.ms, zone) : d.ms);
  const startWall = dtstart ? toWall(dtstart) : Math.floor(wallOf(defaultStart, zone) / 1000) * 1000;
  const set = new RRuleSet();
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
      set.rrule(new RRule(opts));
    } catch (e) {
      throw invalidSchedule('trigger.rrule', `invalid RRULE: ${(e as Error).message}`, { value: text });
    }
  }
  for (const d of rdates) set.rdate(new Date(toWall(d)));
  for (const d of exdates) set.exdate(new Date(toWall(d)));

  // The instant of a wall time is not monotonic across a DST gap (02:30 maps after 03:00),
  // so look at wall times from a margin before `after` and keep the earliest instant.
  const MARGIN = 26 * 3_600_000;
  const next = (after: number): number | null => {
    const fromWall = wallOf(after, zone) - MARGIN;
    let best: number | null = null;
    let bestWall = 0;
    set.all((d) => {
      const w = d.getTime();
      if (w <= fromWall) return true;
      if (best !== null && w > bestWall + MARGIN) return false;
      const inst = instantOf(w, zone);
      if (inst > after && (best === null || inst < best)) {
        best = inst;
        bestWall = w;
      }
      return true;
    });
    return best;
  };
  const lastUpTo = (upTo: number, n: number): number[] => {
    const out: number[] = [];
    const limitWall = wallOf(upTo, zone) + MARGIN;
    set.all((d) => {
      const w = d.getTime();
      if (w > limitWall) return false;
      const inst = instantOf(w, zone);
      if (inst <= upTo) {
        out.push(inst);
        if (out.length > n * 4) out.splice(0, out.length - n);
      }
      return true;
    });
    return [...new Set(out)].sort((a, b) => a - b).slice(-n);
  };
  return { kind: 'rrule', next, lastUpTo, dtstartWall: startWall, tz: zone, hasDtstart: dtstart !== null };
}

/**
 * Compile a trigger. `anchor` is the instant that fixes series without an explicit start:
 * the first `every` occurrence, and DTSTART of an RRULE that has none.
 */
export function compileTrigger(trigger: Trigger, anchor: number): CompiledTrigger {
  const kind = triggerKind(trigger);
  switch (kind) {
    case 'cron':
      return compileCron(trigger as CronTrigger);
    case 'rrule':
      return compileRRule(trigger as RRuleTrigger, anchor);
    case 'every':
      if ('tz' in trigger) throw invalidSchedule('trigger.tz', 'tz applies to cron and rrule triggers only');
      return compileEvery(parseDuration((trigger as EveryTrigger).every, 'trigger.every'), anchor);
    case 'at':
      if ('tz' in trigger) throw invalidSchedule('trigger.tz', 'tz applies to cron and rrule triggers only');
      return compileAt(parseTime((trigger as AtTrigger).at, 'trigger.at'));
  }
}

/** Whether the RRULE text fixes its own DTSTART (otherwise the schedule's anchor does). */
export function rruleHasDtstart(text: string): boolean {
  return /(^|\n)\s*DTSTART[;:]/i.test(text);
}
