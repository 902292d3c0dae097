// The original Fusion routes (Flask + RQ), kept byte-compatible for existing clients: same paths,
// same bodies (JSON or form-encoded), snake_case answers, 200 on success.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Job, JobCallbacks, JobSpec } from '../../core/job.js';
import { FusionError, notFound } from '../../core/errors.js';
import { type ApiContext, createOne, isKnownTask, resolve, unknownTask } from '../context.js';
import { apiError, badField, validationError } from '../errors.js';
import { compatValidator, makeAjv } from '../validation.js';
import { allows } from '../auth.js';
import { RQ_STATUS, celeryStatus, legacyJobInfo, maskerFor, tagValue } from '../present.js';
import { checkWindow, iso, parseTime } from '../times.js';
import type { LegacySchedules } from './schedules.js';
import * as S from '../schemas/legacy.js';
import { CHANNEL_QUEUES } from '../../channels/queues.js';
import { ORIGINAL_ANSWERS_TAG } from '../../channels/webhook/channel.js';
import { deliveryFor } from './deliveries.js';
import { recordConsent } from '../consent.js';

/** The original task numbers: channel, queue, and the name the old logs used. */
export const LEGACY_CHANNELS: Record<number, { task: string; queue: string; label: string }> = {
  1: { task: 'sms', queue: CHANNEL_QUEUES.sms, label: 'SMS' },
  2: { task: 'email', queue: CHANNEL_QUEUES.email, label: 'EMAIL' },
  3: { task: 'push', queue: CHANNEL_QUEUES.push, label: 'PN' },
  4: { task: 'webhook', queue: CHANNEL_QUEUES.webhook, label: 'WEBHOOK' },
  6: { task: 'whatsapp', queue: CHANNEL_QUEUES.whatsapp, label: 'WHATSAPP' },
};

export interface LegacyEnvelope {
  payload: Record<string, unknown> & { task: number };
  priority?: number;
  task_type?: string;
  success_task_handler?: string;
  failed_task_handler?: string;
  job_id?: string;
}

/** The original handlers' URLs, called back with the original worker's form fields. */
function legacyCallbacks(success: unknown, failed: unknown): JobCallbacks | undefined {
  if (!success && !failed) return undefined;
  return {
    ...(success ? { onSuccess: String(success) } : {}),
    ...(failed ? { onFailure: String(failed) } : {}),
    format: 'form',
  };
}

/**
 * A /queue/ body as a job spec: channel task on its queue, the payload as given (webhook method made
 * explicit; a webhook takes a 4xx answer as the original did, by its tag).
 */
export function legacySpec(b: LegacyEnvelope): JobSpec {
  const ch = LEGACY_CHANNELS[b.payload.task]!;
  const payload = { ...b.payload };
  const tags = b.task_type ? [`task_type:${b.task_type}`] : [];
  if (ch.task === 'webhook') {
    payload.method = String(payload.method ?? 'POST').toUpperCase();
    tags.push(ORIGINAL_ANSWERS_TAG);
  }
  const callbacks = legacyCallbacks(b.success_task_handler, b.failed_task_handler);
  return {
    task: ch.task,
    queue: ch.queue,
    payload,
    // OTPs run at high priority at least (the original's OTP queue), whatever the envelope said.
    priority: /^otp$/i.test(b.task_type ?? '') ? Math.max(b.priority ?? 1, 2) : b.priority ?? 1,
    id: b.job_id,
    description: b.task_type ? `${ch.label} ${b.task_type}` : ch.label,
    tags,
    callbacks,
  };
}

const answer = (j: Job) => ({ job_id: j.id, status: RQ_STATUS[j.state] });

// The /queue/ body check, for the first item of what the original worker posts to /retryTask/.
const checkQueueBody = compatValidator(makeAjv(false), S.queueBody as unknown as Record<string, unknown>);

/** The original worker's retry (`json=job._args`): its first item, a /queue/ body, as a new job. */
function retrySpec(first: unknown): JobSpec {
  if (!checkQueueBody(first)) {
    const e = validationError(checkQueueBody.errors as Parameters<typeof validationError>[0], 'body');
    throw new FusionError(e.code, e.message, { ...e.details, field: `[0].${String(e.details.field)}` }, e.status);
  }
  const b = first as LegacyEnvelope;
  // The retry is a new job: the old job's id would make it the same job again.
  const spec = legacySpec({ ...b, job_id: undefined });
  if (b.job_id) spec.tags = [...(spec.tags ?? []), `retry_of:${b.job_id}`];
  return spec;
}

/**
 * Celery's email_sending parameters as the original email payload: `to` a list, `body` the
 * `message` when none is given; the rest as sent. The email channel reads that payload. That
 * system's own example gives `to` alone, and its task sent it: with neither subject nor body the
 * subject is the task type, so the mail is not refused for being empty.
 */
export function celeryEmail(p: Record<string, unknown>, taskType: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...p };
  if (typeof p.to === 'string') out.to = [p.to];
  if (out.message === undefined && p.body !== undefined) {
    out.message = p.body;
    delete out.body;
  }
  const given = (k: string) => out[k] !== undefined && out[k] !== null && out[k] !== '';
  if (!['subject', 'message', 'html', 'text', 'template'].some(given)) out.subject = taskType;
  return out;
}

/**
 * /rescheduleJob/ on a cron/rrule series: it restarts at `runAt` (nothing before it; its next run is
 * the first occurrence at or after it). A time past the series' end is refused and the series kept.
 */
async function rescheduleSeries(ctx: ApiContext, id: string, runAt: number) {
  const s = ctx.scheduler!;
  const before = await s.get(id);
  if (!before) return null;
  const moved = await s.update(id, { startAt: runAt });
  if (moved.nextRunAt === null && before.nextRunAt !== null) {
    await s.update(id, { startAt: before.startAt });
    throw badField('schedule_at', `schedule ${id} has no occurrence at or after schedule_at (${iso(runAt)}): it ends before then`);
  }
  return { job_id: id, schedule_id: id, status: moved.nextRunAt === null ? 'finished' : moved.paused ? 'paused' : 'scheduled', scheduled_at: iso(moved.nextRunAt) };
}

export function legacyRoutes(app: FastifyInstance, ctx: ApiContext, schedules: LegacySchedules): void {
  const legacy = (role: 'send' | 'read' | 'admin') => ({ role, legacy: true });

  // `now`: the instant a due time was computed from, so a delay is exactly runAt - createdAt.
  const enqueue = async (req: FastifyRequest, spec: JobSpec, now = ctx.now()) => {
    const nj = resolve(ctx, spec, now);
    const r = await createOne(ctx, req, nj, spec.id !== undefined ? 'job_id' : null);
    return r.job;
  };

  app.post('/queue/', { schema: S.legacyQueue, config: legacy('send') }, async (req) => answer(await enqueue(req, legacySpec(req.body as LegacyEnvelope))));

  app.post('/schedule/', { schema: S.legacySchedule, config: legacy('send') }, async (req) => {
    const b = req.body as LegacyEnvelope & { schedule_at?: string | number; delay?: number; cron?: string; repeat?: number; rrule?: string; timezone?: string };
    const given = (['schedule_at', 'delay', 'cron', 'rrule'] as const).filter((k) => b[k] !== undefined);
    if (given.length !== 1) {
      throw badField(given[1] ?? 'schedule_at', given.length === 0
        ? 'give one of schedule_at, delay, cron or rrule'
        : `give only one of schedule_at, delay, cron or rrule (got ${given.join(', ')})`);
    }
    if (b.repeat !== undefined && b.cron === undefined) throw badField('repeat', 'repeat goes with cron');
    const spec = legacySpec(b);
    if (b.cron !== undefined || b.rrule !== undefined) {
      const s = await schedules.fromLegacy(req, spec, { cron: b.cron, rrule: b.rrule, repeat: b.repeat, timezone: b.timezone });
      return { job_id: s.id, schedule_id: s.id, status: 'scheduled', scheduled_at: iso(s.nextRunAt) };
    }
    const now = ctx.now();
    const runAt = b.schedule_at !== undefined
      ? checkWindow(parseTime(b.schedule_at, 'schedule_at', 's'), now, 'schedule_at', ctx.window)
      : checkWindow(now + Math.round(b.delay! * 1000), now, 'delay', ctx.window);
    const job = await enqueue(req, { ...spec, runAt }, now);
    return { ...answer(job), scheduled_at: iso(job.runAt) };
  });

  app.post('/jobInfo/', { schema: S.legacyJobInfo, config: legacy('read') }, async (req) => {
    const { job_id } = req.body as { job_id: string };
    const job = await ctx.store.getJob({ id: job_id });
    if (job) return { ...legacyJobInfo(job, ctx.sensitive), ...(await deliveryFor(ctx, job).then((d) => (d ? { delivery_status: d.status } : {}))) };
    const s = await schedules.legacyInfo(job_id);
    if (s) return s;
    throw notFound('job', job_id);
  });

  app.post('/cancelJob/', { schema: S.legacyCancel, config: legacy('admin') }, async (req) => {
    const { job_id } = req.body as { job_id: string };
    try {
      return answer(await ctx.fusion.queue.cancel(job_id));
    } catch (e) {
      // An id from /schedule/ with cron or rrule names a schedule: cancelling it stops the series.
      if (e instanceof FusionError && e.code === 'not_found' && (await schedules.removeLegacy(job_id))) {
        return { job_id, status: 'canceled' };
      }
      // Old clients retry a cancel whose answer they lost: an already cancelled job is what they asked for.
      if (e instanceof FusionError && e.status === 409 && (await ctx.store.getJob({ id: job_id }))?.state === 'cancelled') {
        return { job_id, status: 'canceled' };
      }
      throw e;
    }
  });

  app.post('/rescheduleJob/', { schema: S.legacyReschedule, config: legacy('admin') }, async (req) => {
    const { job_id, schedule_at } = req.body as { job_id: string; schedule_at: string | number };
    const now = ctx.now();
    const runAt = checkWindow(parseTime(schedule_at, 'schedule_at', 's'), now, 'schedule_at', ctx.window);
    try {
      const job = await ctx.fusion.queue.reschedule(job_id, runAt);
      return { ...answer(job), scheduled_at: iso(job.runAt) };
    } catch (e) {
      // A schedule id (as /cancelJob/ takes one): the series restarts at schedule_at.
      if (e instanceof FusionError && e.code === 'not_found' && ctx.scheduler) {
        const moved = await rescheduleSeries(ctx, job_id, runAt);
        if (moved) return moved;
      }
      throw e;
    }
  });

  // `send` lets the original worker's retry (an enqueue, like /queue/) through; moving an existing job back needs `admin`.
  app.post('/retryTask/', { schema: S.legacyRetry, config: legacy('send') }, async (req) => {
    // The original worker posts `json=job._args`: its first item is the /queue/ body, enqueued again as a new job.
    if (Array.isArray(req.body)) return answer(await enqueue(req, retrySpec(req.body[0])));
    if (req.apiKey && !allows(req.apiKey.roles, 'admin')) {
      throw apiError(403, 'forbidden', 'retrying a job by job_id needs the "admin" role', { needed: 'admin', roles: req.apiKey.roles });
    }
    const { job_id } = req.body as { job_id: string };
    return answer(await ctx.fusion.queue.retry(job_id, { resetAttempts: true }));
  });

  app.post('/mapping/', { schema: S.legacyMapping, config: legacy('send') }, async (req) => {
    if (!ctx.fusion.registry.has('mapping')) {
      throw apiError(422, 'unknown_task', 'no handler is registered for task "mapping": register one (fusion.task(\'mapping\', handler)) in the server\'s --tasks module', {
        field: 'task', task: 'mapping', queue: 'dictionary',
      });
    }
    const b = (req.body ?? {}) as Record<string, unknown>;
    const { payload, priority, job_id, success_task_handler, failed_task_handler, ...rest } = b;
    const callbacks = legacyCallbacks(success_task_handler, failed_task_handler);
    const job = await enqueue(req, {
      task: 'mapping', queue: 'dictionary', payload: payload !== undefined ? payload : rest,
      priority: (priority as number | undefined) ?? 1, id: job_id as string | undefined, description: 'MAPPING', callbacks,
    });
    return answer(job);
  });

  app.post('/update_consent/', { schema: S.legacyConsent, config: legacy('send') }, async (req) => {
    const b = req.body as { contact: string | number; countryCode: string | number; consent: boolean };
    if (!/^\+?[\d\s().-]{3,30}$/.test(String(b.contact))) throw badField('contact', 'contact must be a phone number');
    if (!/^\+?\d{1,4}$/.test(String(b.countryCode))) throw badField('countryCode', 'countryCode must be 1-4 digits');
    const r = await recordConsent(ctx, { contact: String(b.contact), countryCode: String(b.countryCode), consent: b.consent, updatedAt: ctx.now() });
    return { contact: r.contact, country_code: r.countryCode, consent: r.consent, updated_at: iso(r.updatedAt), status: 'updated' };
  });

  // Celery-style clients (Flask + Celery): /api/tasks.
  const CELERY_PRIORITY: Record<string, number> = { high: 2, normal: 1, low: 0 };
  const celeryTask = (t: string) => (t === 'email_sending' ? 'email' : t);

  app.post('/api/tasks', { schema: S.celeryCreate, config: legacy('send') }, async (req, reply) => {
    const b = req.body as { task_type: string; priority: string; parameters: Record<string, unknown>; delay: number };
    const task = celeryTask(b.task_type);
    if (!isKnownTask(ctx, task)) throw unknownTask('task_type', b.task_type);
    const now = ctx.now();
    const runAt = b.delay > 0 ? checkWindow(now + Math.round(b.delay * 1000), now, 'delay', ctx.window) : undefined;
    const email = task === 'email' && b.task_type === 'email_sending';
    const job = await enqueue(req, {
      task, payload: email ? celeryEmail(b.parameters, b.task_type) : b.parameters, priority: CELERY_PRIORITY[b.priority] ?? 1, runAt, tags: [`task_type:${b.task_type}`],
      ...(email ? { queue: CHANNEL_QUEUES.email } : {}),
    }, now);
    return reply.code(202).send({ task_id: job.id, status: 'PENDING' });
  });

  app.get('/api/tasks/:id', { schema: S.celeryGet, config: legacy('read') }, async (req) => {
    const { id } = req.params as { id: string };
    const job = await ctx.store.getJob({ id });
    // Celery's AsyncResult knows no "unknown": an id it has no record of is PENDING, and its clients poll on that.
    if (!job) return { task_id: id, task_type: null, status: 'PENDING', result: null, error: null, retries: 0, date_done: null };
    return {
      task_id: job.id,
      task_type: tagValue(job.tags, 'task_type:') ?? job.task,
      status: celeryStatus(job),
      result: maskerFor(ctx.sensitive)(job.result),
      error: job.error?.message ?? null,
      retries: Math.max(0, job.attempts - 1),
      date_done: iso(job.endedAt),
    };
  });
}
