// Native job routes: /v1/jobs.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JobSpec, NewJob } from '../../core/job.js';
import { isFinished } from '../../core/job.js';
import { notFound } from '../../core/errors.js';
import { type ApiContext, type CreatedOne, createJobs, createOneThen, isKnownTask, resolve, unknownTask } from '../context.js';
import { apiError, badField, sendError } from '../errors.js';
import { REPLAY_HEADER, derivedId, jobsMatch, keyReused } from '../idempotency.js';
import { jobView } from '../present.js';
import { freshJobJson } from '../job-json.js';
import { checkWindow, parseTime } from '../times.js';
import * as S from '../schemas/jobs.js';
import { deliveryFor } from './deliveries.js';

type SpecBody = Omit<JobSpec, 'runAt'> & { runAt?: string | number };

export function specFromBody(ctx: ApiContext, b: SpecBody, now: number, prefix = ''): JobSpec {
  if (b.runAt !== undefined && b.delay !== undefined) throw badField(`${prefix}delay`, 'give runAt or delay, not both');
  if (!isKnownTask(ctx, b.task)) throw unknownTask(`${prefix}task`, b.task);
  // Field by field (the type makes sure none is forgotten): `{ ...b, runAt }` leaves V8's fast path
  // for the added property, ~1 µs a job.
  const spec: JobSpec = {
    task: b.task, payload: b.payload, queue: b.queue, id: b.id, priority: b.priority, runAt: undefined, delay: b.delay,
    maxAttempts: b.maxAttempts, backoff: b.backoff, timeout: b.timeout, maxStalls: b.maxStalls, description: b.description,
    tags: b.tags, callbacks: b.callbacks, scheduleId: b.scheduleId,
  } satisfies Record<keyof JobSpec, unknown>;
  if (b.runAt !== undefined) spec.runAt = checkWindow(parseTime(b.runAt, `${prefix}runAt`, 'ms'), now, `${prefix}runAt`, ctx.window);
  if (b.delay !== undefined) checkWindow(now + b.delay, now, `${prefix}delay`, ctx.window);
  return spec;
}

/** Bulk bodies may be this many times the body limit; each job's payload still has to fit the limit. */
export const BULK_BODY_FACTOR = 8;

/** The type Fastify gives a serialized answer. */
const JSON_TYPE = 'application/json; charset=utf-8';

export function jobRoutes(app: FastifyInstance, ctx: ApiContext, bodyLimit: number): void {
  const view = (j: Parameters<typeof jobView>[0]) => jobView(j, ctx.sensitive);

  const answerCreated = (reply: FastifyReply, r: CreatedOne, nj: NewJob): void => {
    if (r.replay) reply.header(REPLAY_HEADER, 'true');
    reply.code(r.created || r.replay ? 201 : 200);
    // A job not yet run is written by a template (job-json.ts); a string with a JSON type goes out as it is.
    // The payload's JSON text the store made for the row (SQLite) is the answer's when it is this job's payload.
    const json = freshJobJson(r.job, ctx.sensitive, r.job.payload === nj.payload ? nj.payloadJson : undefined);
    if (json === undefined) reply.send(view(r.job));
    else reply.type(JSON_TYPE).send(json);
  };

  /** An error answer from the add's reaction; a failure to send it is logged (nothing else would see it). */
  const answerError = (reply: FastifyReply, err: unknown): void => {
    try {
      sendError(reply, err);
    } catch (e) {
      reply.log.error({ err: e }, 'POST /v1/jobs: answering failed');
    }
  };

  // Callback-style: the handler returns nothing and answers from the add's one reaction
  // (createOneThen). A returned promise costs Fastify a reaction of its own per request, and one
  // resolved with the reply (a thenable) two more microtasks and a Reply.then. Fastify answers what
  // the handler throws before returning as it does an error sent; an error in the reaction is sent
  // as Fastify sends a rejection (reply.send of an Error goes to the error handler).
  app.post('/v1/jobs', { schema: S.createJob, config: { role: 'send' } }, (req, reply) => {
    const body = req.body as SpecBody;
    const now = ctx.now();
    const nj = resolve(ctx, specFromBody(ctx, body, now), now);
    createOneThen(ctx, req, nj, body.id !== undefined ? 'id' : null, (r) => {
      try {
        answerCreated(reply, r, nj);
      } catch (err) {
        answerError(reply, err);
      }
    }, (err) => answerError(reply, err));
  });

  app.post('/v1/jobs/bulk', { schema: S.createBulk, config: { role: 'send' }, bodyLimit: bodyLimit * BULK_BODY_FACTOR }, async (req, reply) => {
    const { jobs } = req.body as { jobs: SpecBody[] };
    if (Number(req.headers['content-length'] ?? 0) > bodyLimit || req.headers['transfer-encoding']) {
      jobs.forEach((b, i) => {
        const size = Buffer.byteLength(JSON.stringify(b.payload ?? null));
        if (size > bodyLimit) {
          throw apiError(413, 'payload_too_large', `jobs[${i}].payload is ${size} bytes; the limit per job is ${bodyLimit}`, { field: `jobs[${i}].payload`, limit: bodyLimit });
        }
      });
    }
    const now = ctx.now();
    const idem = req.idempotency;
    const idBase = idem ? derivedId('job', idem.principal, idem.key) : '';
    const resolved: NewJob[] = jobs.map((b, i) => {
      const prefix = `jobs[${i}].`;
      const nj = resolve(ctx, specFromBody(ctx, b, now, prefix), now, prefix);
      if (idem) {
        if (b.id !== undefined) throw badField(`${prefix}id`, 'give either ids or an Idempotency-Key, not both: the key decides the job ids');
        nj.id = `${idBase}-${i}`;
      }
      return nj;
    });
    const seen = new Set<string>();
    resolved.forEach((j, i) => {
      if (seen.has(j.id)) throw badField(`jobs[${i}].id`, `id ${j.id} appears twice in this request`);
      seen.add(j.id);
    });
    // Once the answer is no longer remembered (a restart, another process, an old key), the store's
    // jobs are the record: a replay names exactly the first request's jobs, no fewer and no more,
    // or it would add the extra ones under the key.
    if (idem && (await ctx.store.getJob({ id: `${idBase}-0` }))) {
      const [last, beyond] = await Promise.all([ctx.store.getJob({ id: `${idBase}-${jobs.length - 1}` }), ctx.store.getJob({ id: `${idBase}-${jobs.length}` })]);
      if (!last || beyond) throw keyReused(idem.key);
    }
    const out = await createJobs(ctx, resolved);
    let createdCount = 0;
    out.forEach((r, i) => {
      if (r.created) createdCount++;
      else if (!jobsMatch(r.job, resolved[i]!)) throw idem ? keyReused(idem.key) : badField(`jobs[${i}].id`, `a job with id ${r.job.id} already exists with different content`);
    });
    if (idem && createdCount === 0) reply.header(REPLAY_HEADER, 'true');
    return reply.code(201).send({ jobs: out.map((r) => view(r.job)), created: createdCount });
  });

  app.get('/v1/jobs', { schema: S.listJobs, config: { role: 'read' } }, async (req) => {
    const q = req.query as { queue?: string; state?: never; task?: string; cursor?: string; limit?: number };
    try {
      const page = await ctx.store.listJobs(q);
      return { items: page.items.map(view), nextCursor: page.nextCursor };
    } catch (e) {
      if ((e as { code?: string }).code === 'invalid_cursor') throw badField('cursor', (e as Error).message);
      throw e;
    }
  });

  app.get('/v1/jobs/:id', { schema: S.getJob, config: { role: 'read' } }, async (req: FastifyRequest, reply: FastifyReply) => {
    const { id } = req.params as { id: string };
    const { wait } = req.query as { wait?: number };
    let job = await ctx.store.getJob({ id });
    if (!job) throw notFound('job', id);
    if (wait && wait > 0 && !isFinished(job.state)) {
      const ac = new AbortController();
      const onClose = () => ac.abort();
      req.raw.once('close', onClose);
      reply.raw.once('close', onClose);
      try {
        await ctx.watcher.wait(id, wait * 1000, ac.signal, async () => {
          const j = await ctx.store.getJob({ id });
          return !j || isFinished(j.state);
        });
      } finally {
        req.raw.off('close', onClose);
        reply.raw.off('close', onClose);
      }
      job = await ctx.store.getJob({ id });
      if (!job) throw notFound('job', id);
    }
    const delivery = await deliveryFor(ctx, job);
    return delivery ? { ...view(job), delivery } : view(job);
  });

  const action = (name: string, schema: object, run: (id: string, body: Record<string, unknown>) => Promise<Parameters<typeof view>[0]>) =>
    app.post(`/v1/jobs/:id/${name}`, { schema, config: { role: 'admin' } }, async (req) => {
      const { id } = req.params as { id: string };
      return view(await run(id, (req.body ?? {}) as Record<string, unknown>));
    });

  action('cancel', S.cancelJob, (id) => ctx.fusion.queue.cancel(id));
  action('promote', S.promoteJob, (id) => ctx.fusion.queue.promote(id));
  action('retry', S.retryJob, (id, b) => ctx.fusion.queue.retry(id, { resetAttempts: (b.resetAttempts as boolean | undefined) ?? true }));
  action('reschedule', S.rescheduleJob, (id, b) => {
    const now = ctx.now();
    const runAt = checkWindow(parseTime(b.runAt, 'runAt', 'ms'), now, 'runAt', ctx.window);
    return ctx.fusion.queue.reschedule(id, runAt);
  });

  app.delete('/v1/jobs/:id', { schema: S.deleteJob, config: { role: 'admin' } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    await ctx.fusion.queue.remove(id);
    return reply.code(204).send();
  });
}
