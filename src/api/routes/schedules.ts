// Schedule routes: /v1/schedules, and the schedule side of the legacy routes (/schedule/ with cron
// or rrule, /remind_me, /cancelJob/ and /jobInfo/ on a schedule id).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JobSpec } from '../../core/job.js';
import type { ScheduleRecord } from '../../core/store.js';
import { notFound } from '../../core/errors.js';
import { type ApiContext, isKnownTask, unknownTask } from '../context.js';
import { apiError, badField } from '../errors.js';
import { REPLAY_HEADER, derivedId } from '../idempotency.js';
import { jobView } from '../present.js';
import { iso, parseTime } from '../times.js';
import type { ScheduleInput, SchedulePatch, SchedulerLike, TriggerInput } from '../scheduler-port.js';
import * as S from '../schemas/schedules.js';
import { remindMe } from '../schemas/legacy.js';

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

export const schedulerUnavailable = () =>
  apiError(503, 'scheduler_unavailable', 'this server runs without a scheduler; cron and rrule schedules are not available', {});

type TimeIn = string | number | undefined;

/** Record → answer: the scheduler's spec is shown as is, with the common fields lifted out. */
export function scheduleView(r: ScheduleRecord) {
  const spec = (r.spec ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    id: r.id,
    cron: str(spec.cron),
    rrule: str(spec.rrule),
    timezone: str(spec.timezone ?? spec.tz),
    job: (spec.job ?? spec.template ?? {}) as Record<string, unknown>,
    description: str(spec.description),
    paused: r.paused,
    nextRunAt: iso(r.nextRunAt),
    lastRunAt: iso(r.lastRunAt),
    runCount: r.runCount,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    spec,
  };
}

function triggerFrom(b: Record<string, unknown>): TriggerInput {
  const t: TriggerInput = {};
  if (b.cron !== undefined) t.cron = b.cron as string;
  if (b.rrule !== undefined) t.rrule = b.rrule as string;
  if (b.timezone !== undefined) t.timezone = b.timezone as string;
  if (b.startAt !== undefined) t.startAt = parseTime(b.startAt as TimeIn, 'startAt', 'ms');
  if (b.endAt !== undefined) t.endAt = parseTime(b.endAt as TimeIn, 'endAt', 'ms');
  if (b.limit !== undefined) t.limit = b.limit as number;
  if (t.startAt !== undefined && t.endAt !== undefined && t.endAt < t.startAt) throw badField('endAt', 'endAt is before startAt');
  return t;
}

function oneTrigger(b: Record<string, unknown>, required: boolean): void {
  if (b.cron !== undefined && b.rrule !== undefined) throw badField('rrule', 'give cron or rrule, not both');
  if (required && b.cron === undefined && b.rrule === undefined) throw badField('cron', 'give a cron line or an rrule');
}

export function scheduleRoutes(app: FastifyInstance, ctx: ApiContext): LegacySchedules {
  const need = (): SchedulerLike => {
    if (!ctx.scheduler) throw schedulerUnavailable();
    return ctx.scheduler;
  };
  const mustGet = async (id: string) => {
    const r = await need().get(id);
    if (!r) throw notFound('schedule', id);
    return r;
  };
  const checkTemplate = (job: { task: string }, field: string) => {
    if (!isKnownTask(ctx, job.task)) throw unknownTask(field, job.task);
  };

  /** Create, honouring Idempotency-Key the way job creation does: the key decides the id. */
  const create = async (req: FastifyRequest, input: ScheduleInput, idField: string) => {
    const s = need();
    const idem = req.idempotency;
    if (idem) {
      if (input.id !== undefined) throw badField(idField, `give either ${idField} or an Idempotency-Key, not both: the key decides the schedule id`);
      input.id = derivedId('sched', idem.principal, idem.key);
      const existing = await s.get(input.id);
      if (existing) return { record: existing, replay: true };
    }
    return { record: await s.create(input), replay: false };
  };

  app.post('/v1/schedules', { schema: S.createSchedule, config: { role: 'send' } }, async (req, reply) => {
    const b = req.body as Record<string, unknown> & { job: ScheduleInput['job']; id?: string; paused?: boolean; description?: string };
    oneTrigger(b, true);
    checkTemplate(b.job, 'job.task');
    const { record, replay } = await create(req, { ...triggerFrom(b), id: b.id, job: b.job, paused: b.paused, description: b.description }, 'id');
    if (replay) reply.header(REPLAY_HEADER, 'true');
    return reply.code(201).send(scheduleView(record));
  });

  app.get('/v1/schedules', { schema: S.listSchedules, config: { role: 'read' } }, async () => ({ items: (await need().list()).map(scheduleView) }));

  app.get('/v1/schedules/:id', { schema: S.getSchedule, config: { role: 'read' } }, async (req) => scheduleView(await mustGet((req.params as { id: string }).id)));

  app.patch('/v1/schedules/:id', { schema: S.patchSchedule, config: { role: 'admin' } }, async (req) => {
    const { id } = req.params as { id: string };
    const b = req.body as Record<string, unknown>;
    oneTrigger(b, false);
    if (b.job) checkTemplate(b.job as { task: string }, 'job.task');
    await mustGet(id);
    const patch: SchedulePatch = { ...triggerFrom(b) };
    if (b.job !== undefined) patch.job = b.job as ScheduleInput['job'];
    if (b.paused !== undefined) patch.paused = b.paused as boolean;
    if (b.description !== undefined) patch.description = b.description as string;
    return scheduleView(await need().update(id, patch));
  });

  app.delete('/v1/schedules/:id', { schema: S.deleteSchedule, config: { role: 'admin' } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!(await need().remove(id))) throw notFound('schedule', id);
    return reply.code(204).send();
  });

  app.post('/v1/schedules/:id/pause', { schema: S.pauseSchedule, config: { role: 'admin' } }, async (req) => {
    const { id } = req.params as { id: string };
    await mustGet(id);
    return scheduleView(await need().pause(id));
  });

  app.post('/v1/schedules/:id/resume', { schema: S.resumeSchedule, config: { role: 'admin' } }, async (req) => {
    const { id } = req.params as { id: string };
    await mustGet(id);
    return scheduleView(await need().resume(id));
  });

  app.post('/v1/schedules/:id/run', { schema: S.runSchedule, config: { role: 'admin' } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    await mustGet(id);
    const job = await need().runNow(id);
    ctx.metrics.created(job.queue, job.task, job.id);
    return reply.code(201).send(jobView(job, ctx.sensitive));
  });

  app.post('/v1/schedules/preview', { schema: S.previewSchedule, config: { role: 'read' } }, async (req) => {
    const b = (req.body ?? {}) as Record<string, unknown> & { count?: number; from?: TimeIn };
    oneTrigger(b, true);
    const from = b.from !== undefined ? parseTime(b.from, 'from', 'ms') : ctx.now();
    const times = await need().preview(triggerFrom(b), b.count ?? 10, from);
    return { times: times.map((t) => iso(t)) };
  });

  // /remind_me (the FastAPI + Celery reminder service): an RRULE firing the `reminder` task.
  app.post('/remind_me', { schema: remindMe, config: { role: 'send', legacy: true } }, async (req) => {
    const b = req.body as { rrule: string; start_datetime: number | string; notification_metadata: Record<string, unknown> };
    if (!ctx.fusion.registry.has('reminder')) {
      throw apiError(422, 'unknown_task', 'no handler is registered for task "reminder": register one (fusion.task(\'reminder\', handler, { queue: \'reminders\' }))', {
        field: 'task', task: 'reminder',
      });
    }
    // Epoch seconds as the original sent them; a value past year 33658 in seconds is milliseconds.
    const raw = b.start_datetime;
    const n = typeof raw === 'number' ? raw : /^\d+$/.test(String(raw)) ? Number(raw) : null;
    const startAt = n !== null && n > 1e12 ? parseTime(n, 'start_datetime', 'ms') : parseTime(raw, 'start_datetime', 's');
    const { record } = await create(req, {
      rrule: b.rrule, startAt,
      job: { task: 'reminder', queue: 'reminders', priority: 'high', payload: b.notification_metadata, description: 'remind_me' },
    }, 'id');
    return { schedule_id: record.id, status: record.nextRunAt === null ? 'ended' : 'scheduled', next_run_at: iso(record.nextRunAt) };
  });

  return {
    async fromLegacy(req, job, trigger) {
      const { runAt: _r, delay: _d, id, ...template } = job;
      const { record } = await create(req, {
        id, cron: trigger.cron, rrule: trigger.rrule, timezone: trigger.timezone, limit: trigger.repeat, job: template,
      }, 'job_id');
      return { id: record.id, nextRunAt: record.nextRunAt };
    },
    async legacyInfo(id) {
      if (!ctx.scheduler) return null;
      const r = await ctx.scheduler.get(id);
      if (!r) return null;
      const v = scheduleView(r);
      return {
        job_id: r.id, schedule_id: r.id, status: r.paused ? 'paused' : r.nextRunAt === null ? 'finished' : 'scheduled',
        cron: v.cron, rrule: v.rrule, timezone: v.timezone, run_count: r.runCount,
        next_run_at: v.nextRunAt, last_run_at: v.lastRunAt, created_at: v.createdAt,
      };
    },
    async removeLegacy(id) {
      if (!ctx.scheduler) return false;
      return ctx.scheduler.remove(id);
    },
  };
}
