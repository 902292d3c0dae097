// What every route module gets: the engine pieces and the server's shared services.
import type { FastifyRequest } from 'fastify';
import type { Fusion } from '../fusion.js';
import type { Job, JobSpec, NewJob } from '../core/job.js';
import type { Store } from '../core/store.js';
import { FusionError } from '../core/errors.js';
import type { Enqueuer } from '../core/enqueue.js';
import { apiError, badField } from './errors.js';
import { derivedId, jobsMatch, keyReused } from './idempotency.js';
import type { ApiMetrics } from './metrics.js';
import type { JobWatcher } from './watcher.js';
import type { ConsentStore } from './consent.js';
import type { TimeWindow } from './times.js';
import { storeFailure } from './store-failure.js';
import type { SchedulerLike } from './scheduler-port.js';
import type { LoopLag } from './loop-lag.js';

export interface ApiContext {
  fusion: Fusion;
  store: Store;
  window: TimeWindow;
  sensitive: string[];
  metrics: ApiMetrics;
  watcher: JobWatcher;
  consent: ConsentStore;
  /** The enqueue funnel (the Fusion's own), and whether requests arriving in one event-loop turn share a store add. */
  enqueuer: Enqueuer;
  groupCommit: boolean;
  scheduler: SchedulerLike | null;
  extraTasks: ReadonlySet<string>;
  /** Event-loop lag, and the lag past which /readyz answers 503. */
  loopLag: LoopLag;
  maxLagMs: number;
  now(): number;
  principalOf(req: FastifyRequest): string;
}

/** Registered or declared (the channels' tasks: their jobs wait in queue for a handler), or allowed by the server's options. */
export function isKnownTask(ctx: ApiContext, task: string): boolean {
  return ctx.fusion.registry.knows(task) || ctx.extraTasks.has(task);
}

export function unknownTask(field: string, task: string) {
  return apiError(422, 'unknown_task', `no handler is registered for task "${task}"`, { field, task });
}

/** The funnel's prepare, with its error re-pointed at the field's full path (e.g. jobs[2].priority). */
export function resolve(ctx: ApiContext, spec: JobSpec, now: number, prefix = ''): NewJob {
  try {
    return ctx.enqueuer.prepare(spec, now);
  } catch (e) {
    if (e instanceof FusionError && typeof e.details.field === 'string') {
      throw new FusionError(e.code, e.message, { ...e.details, field: `${prefix}${e.details.field}` }, e.status);
    }
    throw e;
  }
}

type Added = { job: Job; created: boolean }[];

/** The funnel's add (with the requests arriving together); a store that throws at once rejects. */
function addThroughFunnel(ctx: ApiContext, jobs: NewJob[]): Promise<Added> {
  try {
    return ctx.enqueuer.add(jobs, { groupCommit: ctx.groupCommit });
  } catch (err) {
    return Promise.reject(err);
  }
}

const rethrowStoreFailure = (err: unknown): never => {
  throw storeFailure(err);
};

/** Add resolved jobs through the enqueue funnel and count the new ones. */
export function createJobs(ctx: ApiContext, jobs: NewJob[]): Promise<Added> {
  // Plain promise chains, not async functions: each async layer on the request path costs a promise
  // and a resumption per request.
  return addThroughFunnel(ctx, jobs).then((out) => {
    for (const r of out) if (r.created) ctx.metrics.created(r.job.queue, r.job.task, r.job.id);
    return out;
  }, rethrowStoreFailure);
}

const existsDifferently = (id: string, field: string) =>
  apiError(409, 'conflict', `a job with id ${id} already exists with different content`, { field, id });

/** One job's creation: the job, whether this request made it, and whether it answers a repeated Idempotency-Key. */
export type CreatedOne = { job: Job; created: boolean; replay: boolean };

/** The id a keyed creation gets (the key decides it); a refusal when a client id came too. */
function keyedId(req: FastifyRequest, nj: NewJob, idField: string | null): FusionError | null {
  const idem = req.idempotency;
  if (!idem) return null;
  if (idField) return badField(idField, `give either ${idField} or an Idempotency-Key, not both: the key decides the job id`);
  nj.id = derivedId('job', idem.principal, idem.key);
  return null;
}

/** The add's answer for one job: counted when new, else checked against the request (throws on a mismatch). */
function createdOne(ctx: ApiContext, req: FastifyRequest, nj: NewJob, idField: string | null, out: Added): CreatedOne {
  const { job, created } = out[0]!;
  if (created) {
    ctx.metrics.created(job.queue, job.task, job.id);
    return { job, created, replay: false };
  }
  const idem = req.idempotency;
  if (!jobsMatch(job, nj)) throw idem ? keyReused(idem.key) : existsDifferently(job.id, idField ?? 'id');
  return { job, created, replay: idem !== undefined };
}

/**
 * Create one job, honouring Idempotency-Key (the key decides the id) and client ids (the same id
 * twice is one job). `idField` names the body field that carried a client id, if any.
 */
export function createOne(ctx: ApiContext, req: FastifyRequest, nj: NewJob, idField: string | null): Promise<CreatedOne> {
  const refused = keyedId(req, nj, idField);
  if (refused) return Promise.reject(refused);
  // One reaction for the add's outcome, its count and the id check (createJobs would add another).
  return addThroughFunnel(ctx, [nj]).then((out) => createdOne(ctx, req, nj, idField, out), rethrowStoreFailure);
}

/**
 * createOne for a caller that answers from callbacks: `done` with the job, or `failed` with what
 * createOne rejects with (a refusal before the add is reported at once). One reaction on the add's
 * promise per request, where createOne's promise and a reaction of the caller's on it were two more
 * promises and microtasks (POST /v1/jobs). `done` must not throw (the reaction would reject unseen).
 */
export function createOneThen(
  ctx: ApiContext, req: FastifyRequest, nj: NewJob, idField: string | null, done: (r: CreatedOne) => void, failed: (err: unknown) => void,
): void {
  const refused = keyedId(req, nj, idField);
  if (refused) return failed(refused);
  addThroughFunnel(ctx, [nj]).then((out) => {
    let r: CreatedOne;
    try {
      r = createdOne(ctx, req, nj, idField, out);
    } catch (err) {
      return failed(err);
    }
    done(r);
  }, (err: unknown) => failed(storeFailure(err)));
}
