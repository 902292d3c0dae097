// The Scheduler: stores schedules and fires their occurrences. Firing advances the schedule and
// enqueues its jobs in one compare-and-set store step (advanceSchedule), with job ids derived
// from schedule id + occurrence time, so any number of instances fire each occurrence once.
import { notFound } from './errors.js';
import { systemClock, type Clock } from './clock.js';
import { silentLogger, type Logger } from './logger.js';
import { newId } from './ids.js';
import { Enqueuer } from './enqueue.js';
import type { Job } from './job.js';
import type { TaskRegistry } from './registry.js';
import type { ScheduleRecord, Store } from './store.js';
import { ScheduleConflict } from './store.js';
import {
  SCHEDULE_ID, buildSpec, compileSpec, initialNextRun, occurrenceJob, planFire, toSchedule,
  type CompiledSpec, type Schedule, type ScheduleInput, type StoredSpec,
} from './schedule-spec.js';
import { compileTrigger, invalidSchedule, parseTime, triggerKind, type Trigger } from './triggers.js';
import { REQUEST_BUDGET, SearchBudget, SearchExhausted, metered } from './search-budget.js';
import { Lifecycle } from './lifecycle.js';

export type { Schedule, ScheduleInput, ScheduleTemplate, MisfirePolicy, MisfirePolicyName } from './schedule-spec.js';
export type { Trigger, CronTrigger, RRuleTrigger, EveryTrigger, AtTrigger } from './triggers.js';
export { occurrenceJobId } from './schedule-spec.js';

export interface SchedulerOptions {
  clock?: Clock;
  logger?: Logger;
  /** Task defaults for templates (queue, priority, retry policy), as for Queue. */
  registry?: TaskRegistry;
  /** The funnel runNow's jobs go in through (default: one of its own over the store, clock and registry). */
  enqueuer?: Enqueuer;
  /** Longest sleep between store checks; bounds how late a schedule created by another process is seen. Default 1000. */
  maxSleepMs?: number;
  /** Due schedules read per store call. Default 100. */
  batch?: number;
  /** Where `schedule.fired` is emitted when this scheduler fires a schedule. Default its own. */
  lifecycle?: Lifecycle;
}

export interface TickReport {
  /** Jobs this instance enqueued. */
  enqueued: number;
  /** Schedules another instance (or an update) advanced first. */
  lost: number;
  /** Missed occurrences dropped by the misfire policy. */
  dropped: number;
  /** Schedules whose firing failed in the store (retried on a later pass), and those `ended` counts. */
  errors: number;
  /**
   * Schedules ended until they are updated, each logged as an error: one whose stored spec no
   * longer resolves (a template stored before a check that now refuses it, a task default changed),
   * or whose next occurrence is past the search budget. Not retried: it is no longer due.
   */
  ended: number;
}

export const MAX_PREVIEW = 1000;

export class Scheduler {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry?: TaskRegistry;
  /** Lifecycle events of this scheduler's firings (src/core/lifecycle.ts). */
  readonly lifecycle: Lifecycle;
  /** runNow's funnel: the one given, else one of its own, made on first use. */
  private enqueuer: Enqueuer | null;
  private readonly maxSleepMs: number;
  private readonly batch: number;
  private running = false;
  private cancelTimer: (() => void) | null = null;
  private pass: Promise<TickReport> | null = null;
  /** The wait for the clock to know the store's time (wake() before its first read). */
  private waitingForClock: Promise<void> | null = null;
  private again = false;
  private arming: Promise<void> | null = null;
  /** A started scheduler keeps its process alive until stopped (as a Worker does); its clock timers are unref'd. */
  private keepAlive: NodeJS.Timeout | null = null;
  /** Compiled triggers by schedule id, reused while the stored spec is unchanged (cron/RRULE parsing is the costly part of a fire). */
  private compiled = new Map<string, { key: string; c: CompiledSpec }>();
  /** Totals since construction, for logs, metrics and tests. */
  readonly stats = { passes: 0, enqueued: 0, lost: 0, dropped: 0, errors: 0, ended: 0 };

  constructor(readonly store: Store, opts: SchedulerOptions = {}) {
    this.clock = opts.clock ?? store.clock ?? systemClock; // a shared store's: its server's time
    this.logger = opts.logger ?? silentLogger;
    this.registry = opts.registry;
    this.enqueuer = opts.enqueuer ?? null;
    this.maxSleepMs = opts.maxSleepMs ?? 1000;
    this.batch = opts.batch ?? 100;
    this.lifecycle = opts.lifecycle ?? new Lifecycle(this.logger);
  }

  // ---- operations ----

  /** Create a schedule, or replace the one with the same id (its run count and history stay). */
  async create(input: ScheduleInput): Promise<Schedule> {
    if (!input || typeof input !== 'object') throw invalidSchedule('schedule', 'a schedule must be an object');
    const id = input.id ?? newId();
    if (typeof id !== 'string' || !SCHEDULE_ID.test(id)) {
      throw invalidSchedule('id', 'id must be 1-150 characters of letters, digits, _ . : -, and not . or ..', { value: id });
    }
    return this.rewrite(async () => this.save(id, input, await this.store.getSchedule({ id })));
  }

  /**
   * Run a read-then-save again while another write (a fire's advance, another process's save, a
   * remove and create under the same id) got in between: each save carries the version and creation
   * time it read, so no write is lost or lands on a schedule created since.
   */
  private async rewrite<T>(attempt: () => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof ScheduleConflict) || tries >= 5) throw err;
      }
    }
  }

  /** Store `input` as schedule `id`, over `existing` (its stored record, or null for a new one). */
  private async save(id: string, input: ScheduleInput, existing: ScheduleRecord | null): Promise<Schedule> {
    if (input.paused !== undefined && typeof input.paused !== 'boolean') throw invalidSchedule('paused', 'paused must be true or false');
    const now = this.clock.now();
    const previous = existing ? (existing.spec as StoredSpec) : undefined;
    const c = buildSpec(input, now, this.registry, previous);
    const spec = c.spec;
    // A one-off set in the past, new or moved there by an update, would never fire: refused alike.
    const newTrigger = !previous || JSON.stringify(previous.trigger) !== JSON.stringify(spec.trigger);
    if (newTrigger && c.trigger.kind === 'at' && c.trigger.next(-Infinity)! < now - spec.misfire.graceMs) {
      throw invalidSchedule('trigger.at', 'at is in the past', { value: (spec.trigger as { at: number }).at, now });
    }
    const runCount = existing?.runCount ?? 0;
    let nextRunAt = afterLastRun(c, initialNextRun(c, runCount, now), existing?.lastRunAt ?? null);
    // Re-declaring an unchanged, running schedule keeps a pending occurrence instead of dropping it.
    if (existing && previous && !existing.paused && sameTiming(previous, spec) && existing.nextRunAt !== null) nextRunAt = existing.nextRunAt;
    const schedule = { id, spec, nextRunAt, paused: input.paused ?? existing?.paused ?? false };
    const rec = await this.store.saveSchedule({ schedule, now, expectedVersion: existing?.version ?? 0, expectedCreatedAt: existing?.createdAt });
    this.wake();
    return toSchedule(rec);
  }

  async get(id: string): Promise<Schedule | null> {
    const r = await this.store.getSchedule({ id: idOf(id) });
    return r ? toSchedule(r) : null;
  }

  async list(): Promise<Schedule[]> {
    return (await this.store.listSchedules()).map(toSchedule);
  }

  /** Change the trigger, template, bounds, limit or misfire policy. The next occurrence is recomputed from now. */
  async update(id: string, patch: Partial<ScheduleInput>): Promise<Schedule> {
    if (!patch || typeof patch !== 'object') throw invalidSchedule('schedule', 'a patch must be an object');
    if (patch.id !== undefined && patch.id !== id) throw invalidSchedule('id', 'id cannot be changed');
    // A field given as undefined is not given, as create reads it: spread over the stored ones, it
    // dropped a limit, bounds or the misfire policy, and a trigger or template was refused.
    const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<ScheduleInput>;
    return this.rewrite(async () => {
      const existing = await this.must(id);
      const s = toSchedule(existing);
      const input: ScheduleInput = {
        id, trigger: s.trigger, template: s.template, startAt: s.startAt, endAt: s.endAt, limit: s.limit,
        misfire: s.misfire, description: s.description, paused: s.paused, ...given,
      };
      return this.save(id, input, existing);
    });
  }

  /** Stop firing; occurrences while paused are not run later, whatever the misfire policy. */
  async pause(id: string): Promise<Schedule> {
    return this.rewrite(async () => {
      const r = await this.must(id);
      const schedule = { id, spec: r.spec, nextRunAt: r.nextRunAt, paused: true };
      return toSchedule(await this.store.saveSchedule({ schedule, now: this.clock.now(), expectedVersion: r.version, expectedCreatedAt: r.createdAt }));
    });
  }

  /** Fire again from the next occurrence after now. */
  async resume(id: string): Promise<Schedule> {
    return this.rewrite(async () => {
      const r = await this.must(id);
      if (!r.paused) return toSchedule(r);
      const now = this.clock.now();
      const c = compileSpec(r.spec as StoredSpec);
      const nextRunAt = afterLastRun(c, initialNextRun(c, r.runCount, now), r.lastRunAt);
      const rec = await this.store.saveSchedule({
        schedule: { id, spec: r.spec, nextRunAt, paused: false }, now, expectedVersion: r.version, expectedCreatedAt: r.createdAt,
      });
      this.wake();
      return toSchedule(rec);
    });
  }

  /** Delete a schedule. Jobs it already enqueued stay. */
  async remove(id: string): Promise<boolean> {
    return this.store.removeSchedule({ id: idOf(id) });
  }

  /** Enqueue the schedule's job now, outside the series: the next occurrence, run count and limit stay as they are. */
  async runNow(id: string): Promise<Job> {
    const r = await this.must(id);
    const spec = r.spec as StoredSpec;
    this.enqueuer ??= new Enqueuer(this.store, { clock: this.clock, registry: this.registry });
    const [added] = await this.enqueuer.enqueue([{ ...spec.template, id: `${id}@manual-${newId()}`, scheduleId: id }]);
    return added!.job;
  }

  /** The next `count` occurrence times of a trigger at or after `from` (default now); nothing is stored. */
  preview(trigger: Trigger, count: number, from?: number | string | Date): number[] {
    checkCount(count);
    const start = from === undefined ? this.clock.now() : parseTime(from, 'from');
    const t = compileTrigger(trigger, start);
    return collect(count, start - 1, (after) => t.next(after), `trigger.${triggerKind(trigger)}`);
  }

  /** Upcoming occurrences of a stored schedule, with its bounds and limit applied. */
  async previewSchedule(id: string, count: number): Promise<number[]> {
    checkCount(count);
    const r = await this.must(id);
    const c = compileSpec(r.spec as StoredSpec);
    const left = c.spec.limit === null ? count : Math.min(count, c.spec.limit - r.runCount);
    if (r.nextRunAt === null || left <= 0) return [];
    return [r.nextRunAt, ...collect(left - 1, r.nextRunAt, (after) => c.next(after), `trigger.${c.trigger.kind}`)];
  }

  private async must(id: string): Promise<ScheduleRecord> {
    const r = await this.store.getSchedule({ id: idOf(id) });
    if (!r) throw notFound('schedule', id);
    return r;
  }

  // ---- firing ----

  start(): this {
    if (this.running) return this;
    this.running = true;
    this.keepAlive = setInterval(() => undefined, 1 << 30);
    this.wake();
    return this;
  }

  /** Stop firing; resolves once a pass in progress has finished. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.keepAlive ?? undefined);
    this.keepAlive = null;
    this.cancelTimer?.();
    this.cancelTimer = null;
    await this.pass?.catch(() => undefined);
  }

  /** Resolves when no pass is running or queued (tests: after moving a ManualClock). */
  async whenIdle(): Promise<void> {
    while (this.pass || this.arming) {
      await this.pass?.catch(() => undefined);
      await this.arming;
    }
  }

  /** Check for due schedules now (the store may have changed under us). No-op when stopped. */
  wake(): void {
    if (!this.running) return;
    // Occurrences fired on a clock that does not know the store's time yet could be minutes early.
    if (this.clock.synced === false && this.clock.ready) {
      this.waitingForClock ??= this.clock.ready().then(() => {
        this.waitingForClock = null;
        this.wake();
      });
      return;
    }
    if (this.pass) {
      this.again = true;
      return;
    }
    this.cancelTimer?.();
    this.cancelTimer = null;
    let failed = false;
    this.pass = this.tick()
      .then((r) => {
        // An ended schedule is not due again: only a store's refusal is worth waiting for.
        failed = r.errors > r.ended;
        return r;
      })
      .catch((err: unknown) => {
        failed = true;
        this.stats.errors++;
        this.logger.error({ err }, 'scheduler pass failed');
        return { enqueued: 0, lost: 0, dropped: 0, errors: 1, ended: 0 };
      })
      .finally(() => {
        this.pass = null;
        if (!this.running) return;
        if (this.again && !failed) {
          this.again = false;
          this.wake();
        } else {
          this.again = false;
          // After a failure, wait maxSleepMs before trying again: a store that is down, or one schedule
          // it keeps refusing, must not turn the scheduler into a hot loop.
          this.arming = this.arm(failed).finally(() => {
            this.arming = null;
          });
        }
      });
  }

  private async arm(backOff = false): Promise<void> {
    let next: number | null = null;
    try {
      next = await this.store.nextScheduleAt();
    } catch (err) {
      this.logger.error({ err }, 'scheduler could not read the next due time');
    }
    // A wake() while reading started a pass; that pass arms the timer when it ends.
    if (!this.running || this.pass) return;
    const now = this.clock.now();
    const at = next === null || backOff ? now + this.maxSleepMs : Math.min(next, now + this.maxSleepMs);
    this.cancelTimer?.();
    this.cancelTimer = this.clock.at(at, () => {
      this.cancelTimer = null;
      this.wake();
    });
  }

  /** One pass: fire every due schedule. Public so tests and tools can drive it without timers. */
  async tick(): Promise<TickReport> {
    const report: TickReport = { enqueued: 0, lost: 0, dropped: 0, errors: 0, ended: 0 };
    for (;;) {
      const due = await this.store.dueSchedules({ now: this.clock.now(), limit: this.batch });
      const refusedBefore = report.errors - report.ended;
      for (const rec of due) await this.fire(rec, report);
      // A full batch means more may be due; unless the store refused some, which would come back first again.
      if (due.length < this.batch || report.errors - report.ended > refusedBefore) break;
    }
    this.stats.passes++;
    this.stats.enqueued += report.enqueued;
    this.stats.lost += report.lost;
    this.stats.dropped += report.dropped;
    this.stats.errors += report.errors;
    this.stats.ended += report.ended;
    return report;
  }

  private compile(id: string, spec: StoredSpec): CompiledSpec {
    const key = JSON.stringify(spec);
    const hit = this.compiled.get(id);
    if (hit && hit.key === key) return hit.c;
    if (this.compiled.size >= 10_000) this.compiled.clear();
    const c = compileSpec(spec);
    this.compiled.set(id, { key, c });
    return c;
  }

  private async fire(rec: ScheduleRecord, report: TickReport): Promise<void> {
    const now = this.clock.now();
    let spec: StoredSpec;
    let plan: ReturnType<typeof planFire>;
    let jobs;
    try {
      spec = rec.spec as StoredSpec;
      plan = planFire(this.compile(rec.id, spec), rec, now);
      jobs = plan.times.map((t) => occurrenceJob(rec.id, spec, t, now, this.registry));
    } catch (err) {
      // A spec that no longer compiles (e.g. a task default changed), or a trigger whose next occurrence
      // is past the search budget (SearchExhausted), must not stall every other schedule: end this one,
      // loudly (nextRunAt null, shown as finished); an update brings it back.
      this.logger.error({ err, scheduleId: rec.id, budget: err instanceof SearchExhausted }, 'schedule cannot fire; ending it until it is updated');
      try {
        const ended = await this.store.advanceSchedule({
          id: rec.id, expectedVersion: rec.version, expectedCreatedAt: rec.createdAt,
          next: { nextRunAt: null, runCount: rec.runCount, lastRunAt: rec.lastRunAt }, jobs: [], now,
        });
        // Counted as an error of the pass, not only logged: a caller reading the report saw errors: 0.
        if (ended) {
          report.errors++;
          report.ended++;
        } else report.lost++;
      } catch (e) {
        report.errors++;
        this.logger.error({ err: e, scheduleId: rec.id }, 'could not end the schedule');
      }
      return;
    }
    let ok: boolean;
    try {
      ok = await this.store.advanceSchedule({
        id: rec.id, expectedVersion: rec.version, expectedCreatedAt: rec.createdAt,
        next: { nextRunAt: plan.nextRunAt, runCount: plan.runCount, lastRunAt: plan.lastRunAt }, jobs, now,
      });
    } catch (err) {
      // One schedule the store refuses must not keep the others from firing.
      report.errors++;
      this.logger.error({ err, scheduleId: rec.id }, 'schedule could not fire; retrying on a later pass');
      return;
    }
    if (!ok) {
      report.lost++;
      return;
    }
    report.enqueued += jobs.length;
    report.dropped += plan.dropped;
    if (plan.searchExhausted) {
      report.errors++;
      report.ended++;
      this.logger.error({ scheduleId: rec.id, budget: true, lastRunAt: plan.lastRunAt }, 'schedule fired; its next occurrence is past the search budget, so it ends here until it is updated');
    }
    if (plan.dropped > 0) {
      this.logger.warn({ scheduleId: rec.id, dropped: plan.dropped, policy: spec.misfire.policy, missedFrom: rec.nextRunAt }, 'missed occurrences dropped');
    }
    if (jobs.length) this.logger.debug({ scheduleId: rec.id, jobs: jobs.map((j) => j.id), lateMs: now - plan.times[plan.times.length - 1]! }, 'schedule fired');
    if (jobs.length && this.lifecycle.has('schedule.fired')) {
      this.lifecycle.emit('schedule.fired', { scheduleId: rec.id, jobIds: jobs.map((j) => j.id), occurrences: plan.times, at: now, dropped: plan.dropped });
    }
  }
}

/** Never go back to an occurrence already fired (e.g. a one-off updated within its grace). */
function afterLastRun(c: CompiledSpec, next: number | null, lastRunAt: number | null): number | null {
  if (next === null || lastRunAt === null || next > lastRunAt) return next;
  return c.next(lastRunAt);
}

function sameTiming(a: StoredSpec, b: StoredSpec): boolean {
  return JSON.stringify([a.trigger, a.anchor, a.startAt, a.endAt, a.limit]) === JSON.stringify([b.trigger, b.anchor, b.startAt, b.endAt, b.limit]);
}

/**
 * Up to `count` occurrences after `after`, all searches sharing one REQUEST_BUDGET. When the budget
 * runs out after some were found, those are the answer (fewer than asked, as for a series that ends).
 */
function collect(count: number, after: number, next: (after: number) => number | null, field: string): number[] {
  const out: number[] = [];
  if (count <= 0) return out;
  try {
    metered(() => {
      let t = next(after);
      while (t !== null && out.length < count) {
        out.push(t);
        if (out.length < count) t = next(t);
      }
    }, new SearchBudget(REQUEST_BUDGET, field));
  } catch (e) {
    if (!(e instanceof SearchExhausted && out.length > 0)) throw e;
  }
  return out;
}

/**
 * The id an operation is given, as text. Each store read anything else its own way: Redis took
 * undefined for the schedule named "undefined" (and paused, fired or removed it), SQLite threw a
 * bare RangeError for an object, PostgreSQL and Redis found "5" for the number 5 and SQLite did not.
 */
function idOf(id: unknown): string {
  if (typeof id !== 'string') throw invalidSchedule('id', 'id must be a string', { value: String(id) });
  return id;
}

function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > MAX_PREVIEW) {
    throw invalidSchedule('count', `count must be an integer from 1 to ${MAX_PREVIEW}`, { value: count });
  }
}
