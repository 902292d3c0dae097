// Schedule routes: /v1/schedules, and the schedule side of the legacy routes (/schedule/ with cron
// or rrule, /remind_me, /cancelJob/ and /jobInfo/ on a schedule id).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JobSpec } from '../../core/job.js';
import type { Schedule, ScheduleInput, ScheduleTemplate, Trigger } from '../../core/scheduler.js';
import { FusionError, notFound } from '../../core/errors.js';
import { type ApiContext, isKnownTask, unknownTask } from '../context.js';
import { apiError, badField } from '../errors.js';
import { REPLAY_HEADER, derivedId } from '../idempotency.js';
import { jobView, maskerFor } from '../present.js';
import { restoreMasked, secretNames } from '../../core/secret-fields.js';
import { checkWindow, iso, parseTime } from '../times.js';
import { fromCroniter, toCroniter } from '../croniter.js';
import type { SchedulerLike } from '../scheduler-port.js';
import * as S from '../schemas/schedules.js';
import { remindMe } from '../schemas/legacy.js';
import { REMINDER_QUEUE, REMINDER_TASK } from '../../channels/reminder/channel.js';

export interface LegacyTrigger {
  cron?: string;
  rrule?: string;
  repeat?: number;
  timezone?: string;
}

export interface LegacySchedules {
  fromLegacy(req: FastifyRequest, job: JobSpec, trigger: LegacyTrigger): Promise<{ id: string; nextRunAt: number | null }>;
  legacyInfo(id: string): Promise<Record<string, unknown> | null>;
  removeLegacy(id: string): Promise<boolean>;
}

/**
 * Series made through the compatibility routes run a missed occurrence once, late, as rq-scheduler
 * and Celery's eta tasks did (a deploy must not drop a reminder); older missed ones are dropped.
 */
const COMPAT_MISFIRE = { policy: 'catch-up', maxCatchUp: 1 } as const;

export const schedulerUnavailable = () =>
  apiError(503, 'scheduler_unavailable', 'this server runs without a scheduler; schedules are not available', {});

type TimeIn = string | number;
type Body = Record<string, unknown>;

/** Re-point the scheduler's field names at the names the caller used (legacy bodies differ). */
async function renamed<T>(names: Record<string, string>, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof FusionError && typeof e.details.field === 'string' && names[e.details.field] !== undefined) {
      throw new FusionError(e.code, e.message.replace(e.details.field, names[e.details.field]!), { ...e.details, field: names[e.details.field] }, e.status);
    }
    throw e;
  }
}

export function scheduleRoutes(app: FastifyInstance, ctx: ApiContext): LegacySchedules {
  const mask = maskerFor(ctx.sensitive);
  // Templates are shown masked; one sent back with the mask keeps the stored secrets under it.
  const secret = secretNames(ctx.sensitive);
  const keepSecrets = (template: ScheduleTemplate, stored: Schedule | null) => (stored ? restoreMasked(template, stored.template, secret) : template);
  const view = (s: Schedule) => ({
    id: s.id, trigger: s.trigger, template: { ...s.template, payload: mask(s.template.payload) },
    startAt: iso(s.startAt), endAt: iso(s.endAt), limit: s.limit, misfire: s.misfire, description: s.description,
    paused: s.paused, nextRunAt: iso(s.nextRunAt), lastRunAt: iso(s.lastRunAt), runCount: s.runCount,
    createdAt: iso(s.createdAt), updatedAt: iso(s.updatedAt),
  });
  const need = (): SchedulerLike => {
    if (!ctx.scheduler) throw schedulerUnavailable();
    return ctx.scheduler;
  };
  const mustGet = async (id: string) => {
    const s = await need().get(id);
    if (!s) throw notFound('schedule', id);
    return s;
  };
  const checkTemplate = (t: { task: string }, field: string) => {
    if (!isKnownTask(ctx, t.task)) throw unknownTask(field, t.task);
  };
  /** Times in the body: ISO or epoch ms, checked here so errors read like the rest of the API. */
  const timesOf = (b: Body) => {
    const out: Partial<ScheduleInput> = {};
    if (b.startAt !== undefined) out.startAt = b.startAt === null ? null : parseTime(b.startAt as TimeIn, 'startAt', 'ms');
    if (b.endAt !== undefined) out.endAt = b.endAt === null ? null : parseTime(b.endAt as TimeIn, 'endAt', 'ms');
    return out;
  };
  const triggerOf = (t: Body): Trigger => {
    if ('at' in t) {
      const now = ctx.now();
      return { at: checkWindow(parseTime(t.at as TimeIn, 'trigger.at', 'ms'), now, 'trigger.at', ctx.window) };
    }
    return t as unknown as Trigger;
  };

  /** Create, honouring Idempotency-Key the way job creation does: the key decides the id. */
  const create = async (req: FastifyRequest, input: ScheduleInput, idField: string) => {
    const s = need();
    const idem = req.idempotency;
    if (idem) {
      if (input.id !== undefined) throw badField(idField, `give either ${idField} or an Idempotency-Key, not both: the key decides the schedule id`);
      input.id = derivedId('sched', idem.principal, idem.key);
    }
    const existing = input.id !== undefined ? await s.get(input.id) : null;
    if (idem && existing) return { schedule: existing, created: false, replay: true };
    return { schedule: await s.create({ ...input, template: keepSecrets(input.template, existing) }), created: existing === null, replay: false };
  };

  app.post('/v1/schedules', { schema: S.createSchedule, config: { role: 'send' } }, async (req, reply) => {
    const b = req.body as Body & { template: ScheduleTemplate; trigger: Body };
    checkTemplate(b.template, 'template.task');
    const input: ScheduleInput = {
      ...(b as unknown as ScheduleInput), ...timesOf(b), trigger: triggerOf(b.trigger),
    };
    const r = await create(req, input, 'id');
    if (r.replay) reply.header(REPLAY_HEADER, 'true');
    return reply.code(r.created || r.replay ? 201 : 200).send(view(r.schedule));
  });

  app.get('/v1/schedules', { schema: S.listSchedules, config: { role: 'read' } }, async () => ({ items: (await need().list()).map(view) }));

  app.get('/v1/schedules/:id', { schema: S.getSchedule, config: { role: 'read' } }, async (req) => view(await mustGet((req.params as { id: string }).id)));

  app.patch('/v1/schedules/:id', { schema: S.patchSchedule, config: { role: 'admin' } }, async (req) => {
    const { id } = req.params as { id: string };
    const b = req.body as Body;
    if (b.template) checkTemplate(b.template as { task: string }, 'template.task');
    const stored = await mustGet(id);
    const patch: Partial<ScheduleInput> = { ...(b as Partial<ScheduleInput>), ...timesOf(b) };
    if (b.trigger) patch.trigger = triggerOf(b.trigger as Body);
    if (patch.template) patch.template = keepSecrets(patch.template, stored);
    return view(await need().update(id, patch));
  });

  app.delete('/v1/schedules/:id', { schema: S.deleteSchedule, config: { role: 'admin' } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!(await need().remove(id))) throw notFound('schedule', id);
    return reply.code(204).send();
  });

  app.post('/v1/schedules/:id/pause', { schema: S.pauseSchedule, config: { role: 'admin' } }, async (req) => view(await need().pause((req.params as { id: string }).id)));
  app.post('/v1/schedules/:id/resume', { schema: S.resumeSchedule, config: { role: 'admin' } }, async (req) => view(await need().resume((req.params as { id: string }).id)));

  app.post('/v1/schedules/:id/run', { schema: S.runSchedule, config: { role: 'admin' } }, async (req, reply) => {
    const job = await need().runNow((req.params as { id: string }).id);
    ctx.metrics.created(job.queue, job.task, job.id);
    return reply.code(201).send(jobView(job, ctx.sensitive));
  });

  app.post('/v1/schedules/preview', { schema: S.previewSchedule, config: { role: 'read' } }, async (req) => {
    const b = req.body as { trigger: Body; count?: number; from?: TimeIn };
    const from = b.from !== undefined ? parseTime(b.from, 'from', 'ms') : ctx.now();
    const trigger = 'at' in b.trigger ? ({ at: parseTime(b.trigger.at as TimeIn, 'trigger.at', 'ms') } as Trigger) : (b.trigger as unknown as Trigger);
    return { times: need().preview(trigger, b.count ?? 10, from).map((t) => iso(t)) };
  });

  app.get('/v1/schedules/:id/preview', { schema: S.previewStored, config: { role: 'read' } }, async (req) => {
    const { id } = req.params as { id: string };
    const { count } = req.query as { count?: number };
    return { times: (await need().previewSchedule(id, count ?? 10)).map((t) => iso(t)) };
  });

  // /remind_me (the FastAPI + Celery reminder service): an RRULE firing the built-in `reminder` task
  // (src/channels/reminder) with notification_metadata as its payload (as sent, but for the integer
  // fields its schema reads from numeric strings).
  const remind = async (req: FastifyRequest) => {
    const b = req.body as { rrule: string; start_datetime: number | string; notification_metadata: Record<string, unknown>; timezone?: string };
    if (!ctx.fusion.registry.has(REMINDER_TASK)) {
      throw apiError(422, 'unknown_task', 'no handler is registered for task "reminder": the reminder channel is off (Fusion.open({ channels: false })); register one (fusion.task(\'reminder\', handler, { queue: \'reminders\' }))', {
        field: 'task', task: REMINDER_TASK,
      });
    }
    // Epoch seconds as the original sent them; a number past 1e12 can only be milliseconds.
    const raw = b.start_datetime;
    const n = typeof raw === 'number' ? raw : /^\d+$/.test(String(raw)) ? Number(raw) : null;
    // start_datetime is the series' DTSTART when the rule has none, its seconds kept as dateutil keeps
    // them. Occurrences fall on whole seconds, so a start within a second is taken at the next one:
    // rounding down would fire before the start, or drop the first occurrence (the start bounds it).
    const startAt = Math.ceil((n !== null && n > 1e12 ? parseTime(n, 'start_datetime', 'ms') : parseTime(raw, 'start_datetime', 's')) / 1000) * 1000;
    const r = await renamed({ 'trigger.rrule': 'rrule', 'trigger.tz': 'timezone', startAt: 'start_datetime', trigger: 'rrule' }, () =>
      create(req, {
        trigger: b.timezone ? { rrule: b.rrule, tz: b.timezone } : { rrule: b.rrule }, startAt, misfire: COMPAT_MISFIRE,
        template: { task: REMINDER_TASK, queue: REMINDER_QUEUE, priority: 'high', payload: b.notification_metadata, description: 'remind_me' },
      }, 'id'));
    const { schedule } = r;
    // A rule whose every occurrence is already past would be stored and never fire: refuse it instead.
    if (schedule.nextRunAt === null && !schedule.paused) {
      if (r.created) await need().remove(schedule.id);
      throw badField('rrule', `every occurrence of this rule is in the past (start_datetime ${iso(startAt)}, now ${iso(ctx.now())}): nothing would ever fire`, {
        start_datetime: iso(startAt),
      });
    }
    return { schedule_id: schedule.id, status: 'scheduled', next_run_at: iso(schedule.nextRunAt) };
  };
  app.post('/remind_me', { schema: remindMe, config: { role: 'send', legacy: true } }, remind);
  // FastAPI redirects a trailing slash to the route (307): clients written against it may send one.
  app.post('/remind_me/', { schema: remindMe, config: { role: 'send', legacy: true, hidden: true } }, remind);

  return {
    async fromLegacy(req, job, t) {
      const { runAt: _r, delay: _d, id, scheduleId: _s, ...template } = job;
      const trigger: Trigger = t.cron !== undefined ? { cron: fromCroniter(t.cron), ...(t.timezone ? { tz: t.timezone } : {}) } : { rrule: t.rrule!, ...(t.timezone ? { tz: t.timezone } : {}) };
      const { schedule } = await renamed({ 'trigger.cron': 'cron', 'trigger.rrule': 'rrule', 'trigger.tz': 'timezone', limit: 'repeat', id: 'job_id', trigger: t.cron !== undefined ? 'cron' : 'rrule' }, () =>
        create(req, { id, trigger, template, limit: t.repeat ?? null, misfire: COMPAT_MISFIRE }, 'job_id'));
      return { id: schedule.id, nextRunAt: schedule.nextRunAt };
    },
    async legacyInfo(id) {
      if (!ctx.scheduler) return null;
      const s = await ctx.scheduler.get(id);
      if (!s) return null;
      const trig = s.trigger as Record<string, unknown>;
      return {
        job_id: s.id, schedule_id: s.id, status: s.paused ? 'paused' : s.nextRunAt === null ? 'finished' : 'scheduled',
        cron: typeof trig.cron === 'string' ? toCroniter(trig.cron) : null, rrule: trig.rrule ?? null, timezone: trig.tz ?? null, repeat: s.limit, run_count: s.runCount,
        next_run_at: iso(s.nextRunAt), last_run_at: iso(s.lastRunAt), created_at: iso(s.createdAt),
        payload: mask(s.template.payload), task: s.template.task, queue: s.template.queue ?? null,
      };
    },
    async removeLegacy(id) {
      if (!ctx.scheduler) return false;
      return ctx.scheduler.remove(id);
    },
  };
}
