// Schedules: the input a caller gives, the spec stored (ScheduleRecord.spec), and the pure
// planning step that decides which occurrences one firing enqueues. No store, no clock here.
import { FusionError } from './errors.js';
import type { JobSpec, NewJob } from './job.js';
import { resolveSpec } from './spec.js';
import type { TaskRegistry } from './registry.js';
import type { ScheduleRecord } from './store.js';
import { REQUEST_BUDGET, SearchBudget, SearchExhausted, metered } from './search-budget.js';
import {
  compileTrigger, invalidSchedule, parseDuration, parseTime, triggerKind,
  type CompiledTrigger, type Trigger,
} from './triggers.js';

/** The job each occurrence enqueues: a job spec without id/runAt/delay (the scheduler sets those). */
export type ScheduleTemplate = Omit<JobSpec, 'id' | 'runAt' | 'delay' | 'scheduleId'>;

export type MisfirePolicyName = 'skip' | 'catch-up';
export interface MisfirePolicy {
  /** skip: missed occurrences are dropped, the schedule goes on with the next future one. catch-up: enqueue missed ones, at most maxCatchUp (the latest). */
  policy: MisfirePolicyName;
  /** catch-up only: how many missed occurrences at most are enqueued. Default 10. */
  maxCatchUp: number;
  /** An occurrence fired at most this late is on time, not missed. Default 5000 ms. */
  graceMs: number;
}

export interface ScheduleInput {
  /** Client-given id (letters, digits, _ . : -, at most 150); generated when absent. Same id = upsert. */
  id?: string;
  trigger: Trigger;
  template: ScheduleTemplate;
  /** No occurrence before this time (inclusive). Epoch ms or ISO 8601. */
  startAt?: number | string | Date | null;
  /** No occurrence after this time (inclusive bound). */
  endAt?: number | string | Date | null;
  /** Stop after this many runs (jobs enqueued by the trigger; "run now" does not count). */
  limit?: number | null;
  /** 'skip' (default; 'catch-up' for `at` triggers) or a full policy. */
  misfire?: MisfirePolicyName | Partial<MisfirePolicy>;
  /** Create paused. */
  paused?: boolean;
  description?: string | null;
}

/** A schedule's settings, as stored and as shown. */
interface ScheduleSettings {
  trigger: Trigger;
  template: ScheduleTemplate;
  startAt: number | null;
  endAt: number | null;
  limit: number | null;
  misfire: MisfirePolicy;
  description: string | null;
}

export interface Schedule extends ScheduleSettings {
  id: string;
  paused: boolean;
  /** Next occurrence to fire; null when the schedule has ended (past endAt, limit reached, one-off done). */
  nextRunAt: number | null;
  runCount: number;
  lastRunAt: number | null;
  createdAt: number;
  updatedAt: number;
  version: number;
}

/** What ScheduleRecord.spec holds. */
export interface StoredSpec extends ScheduleSettings {
  v: 1;
  /** Fixes series without an explicit start: first `every` occurrence, DTSTART of an RRULE without one. */
  anchor: number;
  /** An RRULE trigger's COUNT ends (CompiledTrigger.countEnds), worked out when it was stored; absent in specs stored before. */
  countEnds?: (number | null)[];
}

/** Not "." or "..": /v1/schedules/.. is /v1/ to browsers, proxies and fetch. */
export const SCHEDULE_ID = /^(?!\.\.?$)[A-Za-z0-9_.:-]{1,150}$/;
export const DEFAULT_GRACE_MS = 5000;
export const DEFAULT_MAX_CATCH_UP = 10;
/** Bound on occurrences one firing enqueues; the rest follow on the next pass. */
export const MAX_PER_FIRE = 1000;

const optTime = (v: unknown, field: string): number | null => (v === undefined || v === null ? null : parseTime(v, field));

function normalizeTrigger(t: Trigger): Trigger {
  const kind = triggerKind(t);
  if (kind === 'at') return { at: parseTime((t as { at: unknown }).at, 'trigger.at') };
  const allowed = kind === 'cron' || kind === 'rrule' ? [kind, 'tz'] : [kind];
  for (const k of Object.keys(t)) if (!allowed.includes(k)) throw invalidSchedule(`trigger.${k}`, `unknown trigger field "${k}" for a ${kind} trigger`);
  return { ...t };
}

function normalizeMisfire(m: ScheduleInput['misfire'], kind: string): MisfirePolicy {
  const base: MisfirePolicy = { policy: kind === 'at' ? 'catch-up' : 'skip', maxCatchUp: DEFAULT_MAX_CATCH_UP, graceMs: DEFAULT_GRACE_MS };
  if (m === undefined || m === null) return base;
  const o = typeof m === 'string' ? { policy: m } : m;
  if (typeof o !== 'object') throw invalidSchedule('misfire', 'misfire must be "skip", "catch-up" or { policy, maxCatchUp, graceMs }');
  const policy = o.policy ?? base.policy;
  if (policy !== 'skip' && policy !== 'catch-up') throw invalidSchedule('misfire.policy', 'misfire policy must be "skip" or "catch-up"', { value: policy });
  const maxCatchUp = o.maxCatchUp ?? base.maxCatchUp;
  if (!Number.isInteger(maxCatchUp) || maxCatchUp < 1 || maxCatchUp > MAX_PER_FIRE) {
    throw invalidSchedule('misfire.maxCatchUp', `maxCatchUp must be an integer from 1 to ${MAX_PER_FIRE}`, { value: maxCatchUp });
  }
  const graceMs = o.graceMs ?? base.graceMs;
  if (!Number.isInteger(graceMs) || graceMs < 0) throw invalidSchedule('misfire.graceMs', 'graceMs must be an integer >= 0', { value: graceMs });
  return { policy, maxCatchUp, graceMs };
}

/** Check a template by resolving it as a job would be; errors name `template.<field>`. */
export function checkTemplate(template: unknown, now: number, registry?: TaskRegistry): ScheduleTemplate {
  if (!template || typeof template !== 'object' || Array.isArray(template)) throw invalidSchedule('template', 'template must be a job spec object ({ task, payload, queue, priority, ... })');
  for (const k of ['id', 'runAt', 'delay', 'scheduleId']) {
    if ((template as Record<string, unknown>)[k] !== undefined) throw invalidSchedule(`template.${k}`, `template.${k} is set by the scheduler`);
  }
  const check = (t: object) => {
    try {
      resolveSpec({ ...(t as JobSpec), id: 'template-check' }, now, registry);
    } catch (e) {
      if (e instanceof FusionError) throw invalidSchedule(`template.${String(e.details.field ?? '')}`, e.message, { ...e.details, field: `template.${String(e.details.field ?? '')}` });
      throw e;
    }
  };
  check(template);
  // The store keeps the template as JSON and every fire resolves that form: checked in it too, so a
  // value the task's check takes only before JSON (a Date, NaN) is refused here; it ended the
  // schedule at its first fire.
  let stored: ScheduleTemplate;
  try {
    stored = JSON.parse(JSON.stringify(template)) as ScheduleTemplate;
  } catch (e) {
    throw invalidSchedule('template', `template must be JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  check(stored);
  return stored;
}

/**
 * Validate an input and build the spec to store, compiled (`.spec` is what is stored). `previous`
 * keeps the anchor stable when the trigger and start are unchanged, so re-declaring a schedule at
 * every boot keeps its phase.
 */
export function buildSpec(input: ScheduleInput, now: number, registry?: TaskRegistry, previous?: StoredSpec): CompiledSpec {
  const trigger = normalizeTrigger(input.trigger);
  const kind = triggerKind(trigger);
  const template = checkTemplate(input.template, now, registry);
  const startAt = optTime(input.startAt, 'startAt');
  const endAt = optTime(input.endAt, 'endAt');
  if (startAt !== null && endAt !== null && endAt < startAt) throw invalidSchedule('endAt', 'endAt must not be before startAt');
  let limit: number | null = null;
  if (input.limit !== undefined && input.limit !== null) {
    if (!Number.isInteger(input.limit) || input.limit < 1) throw invalidSchedule('limit', 'limit must be an integer >= 1', { value: input.limit });
    limit = input.limit;
  }
  if (input.description !== undefined && input.description !== null && typeof input.description !== 'string') {
    throw invalidSchedule('description', 'description must be a string');
  }
  let anchor = startAt ?? now;
  if (kind === 'every') anchor = startAt ?? now + parseDuration((trigger as { every: unknown }).every, 'trigger.every');
  if (previous && JSON.stringify(previous.trigger) === JSON.stringify(trigger) && previous.startAt === startAt) anchor = previous.anchor;
  const spec: StoredSpec = {
    v: 1, trigger, anchor, template, startAt, endAt, limit,
    misfire: normalizeMisfire(input.misfire, kind), description: input.description ?? null,
  };
  const compiled = compileSpec(spec); // throws invalid_schedule for a bad cron line, RRULE, zone, interval
  if (compiled.trigger.countEnds?.some((end) => end !== null)) spec.countEnds = [...compiled.trigger.countEnds];
  return compiled;
}

export interface CompiledSpec {
  spec: StoredSpec;
  trigger: CompiledTrigger;
  /** First occurrence strictly after `after` within the bounds, or null. */
  next(after: number): number | null;
}

export function compileSpec(spec: StoredSpec): CompiledSpec {
  const trigger = compileTrigger(spec.trigger, spec.anchor, spec.countEnds);
  const next = (after: number): number | null => {
    const from = spec.startAt !== null ? Math.max(after, spec.startAt - 1) : after;
    const t = trigger.next(from);
    if (t === null || (spec.endAt !== null && t > spec.endAt)) return null;
    return t;
  };
  return { spec, trigger, next };
}

/**
 * Where a new, updated or resumed schedule starts: its first occurrence after now (an `every`
 * series at its anchor). A one-off a little in the past (a client's clock, a slow request)
 * still runs, within the grace.
 */
export function initialNextRun(c: CompiledSpec, runCount: number, now: number): number | null {
  if (c.spec.limit !== null && runCount >= c.spec.limit) return null;
  if (c.trigger.kind === 'at') return c.next(now - c.spec.misfire.graceMs - 1);
  return c.next(now);
}

export interface FirePlan {
  /** Occurrence times to enqueue, ascending. */
  times: number[];
  /** Missed occurrences that were dropped (skip policy, or beyond maxCatchUp); at least this many. */
  dropped: number;
  nextRunAt: number | null;
  runCount: number;
  lastRunAt: number | null;
  /** The search for the occurrence after `times` ran past its budget: the schedule ends after them. */
  searchExhausted: boolean;
}

/** Decide what firing a due schedule at `now` enqueues and where the schedule goes next. */
export function planFire(c: CompiledSpec, rec: Pick<ScheduleRecord, 'nextRunAt' | 'runCount' | 'lastRunAt'>, now: number): FirePlan {
  // Every search of one firing shares a budget: a firing does bounded work whatever the trigger.
  return metered(() => plan(c, rec, now), new SearchBudget(REQUEST_BUDGET, `trigger.${c.trigger.kind}`));
}

function plan(c: CompiledSpec, rec: Pick<ScheduleRecord, 'nextRunAt' | 'runCount' | 'lastRunAt'>, now: number): FirePlan {
  const { spec } = c;
  const T = rec.nextRunAt;
  if (T === null || T > now) return { times: [], dropped: 0, nextRunAt: T, runCount: rec.runCount, lastRunAt: rec.lastRunAt, searchExhausted: false };
  const remaining = spec.limit === null ? Infinity : spec.limit - rec.runCount;
  const lateBefore = now - spec.misfire.graceMs; // occurrences before this are missed, not late
  let missed: number[] = [];
  let dropped = 0;
  if (T < lateBefore) {
    // The latest missed ones, within bounds and not before the stored next occurrence.
    const inBounds = (t: number) => t >= T && (spec.startAt === null || t >= spec.startAt) && (spec.endAt === null || t <= spec.endAt);
    const keep = spec.misfire.policy === 'catch-up' ? spec.misfire.maxCatchUp : 0;
    const last = c.trigger.lastUpTo(lateBefore - 1, keep + 1);
    missed = keep > 0 ? last.slice(-keep).filter(inBounds) : [];
    dropped = last.filter(inBounds).length - missed.length;
  }
  const onTime: number[] = [];
  let t: number | null = null;
  let searchExhausted = false;
  try {
    t = T >= lateBefore ? T : c.next(lateBefore - 1);
    while (t !== null && t <= now && missed.length + onTime.length < MAX_PER_FIRE) {
      onTime.push(t);
      t = c.next(t);
    }
  } catch (err) {
    // The occurrences found are due all the same: they fire, and the schedule ends after them.
    if (!(err instanceof SearchExhausted) || missed.length + onTime.length === 0) throw err;
    t = null;
    searchExhausted = true;
  }
  let times = [...missed, ...onTime];
  let nextRunAt = t;
  if (times.length >= remaining) {
    times = times.slice(0, remaining);
    nextRunAt = null;
  }
  const runCount = rec.runCount + times.length;
  return { times, dropped, nextRunAt, runCount, lastRunAt: times.length ? times[times.length - 1]! : rec.lastRunAt, searchExhausted };
}

/** The job id of an occurrence: the same for every scheduler instance, so the store keeps one. */
export function occurrenceJobId(scheduleId: string, t: number): string {
  return `${scheduleId}@${new Date(t).toISOString()}`;
}

export function occurrenceJob(id: string, spec: StoredSpec, t: number, now: number, registry?: TaskRegistry): NewJob {
  return resolveSpec({ ...spec.template, id: occurrenceJobId(id, t), runAt: t, scheduleId: id }, now, registry);
}

export function toSchedule(rec: ScheduleRecord): Schedule {
  const s = rec.spec as StoredSpec;
  return {
    id: rec.id, trigger: s.trigger, template: s.template, startAt: s.startAt, endAt: s.endAt, limit: s.limit,
    misfire: s.misfire, description: s.description, paused: rec.paused, nextRunAt: rec.nextRunAt,
    runCount: rec.runCount, lastRunAt: rec.lastRunAt, createdAt: rec.createdAt, updatedAt: rec.updatedAt, version: rec.version,
  };
}
