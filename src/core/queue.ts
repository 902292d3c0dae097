// Queue: the producer's and operator's side of the engine. Turns specs into jobs and
// forwards operations to the store with the clock's time.
import { FusionError } from './errors.js';
import { DEFAULTS, resolvePriority, type Job, type JobSpec, type NewJob } from './job.js';
import { validateBackoff } from './backoff.js';
import { newId } from './ids.js';
import { systemClock, type Clock } from './clock.js';
import type { TaskRegistry } from './registry.js';
import type { AddOptions, CleanQuery, ListQuery, QueueOptions, RetryOptions, Store } from './store.js';

export const QUEUE_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
const MAX_ID = 200;

export interface QueueOptionsInit {
  clock?: Clock;
  /** Task defaults (queue, priority, retry policy) come from here when a spec omits them. */
  registry?: TaskRegistry;
}

const invalid = (field: string, message: string, extra: Record<string, unknown> = {}) =>
  new FusionError('invalid_job', message, { field, ...extra }, 400);

function toMs(v: number | Date, field: string): number {
  const t = v instanceof Date ? v.getTime() : v;
  if (typeof t !== 'number' || !Number.isFinite(t)) throw invalid(field, `${field} must be a valid time`);
  return Math.round(t);
}

function nonNegInt(v: unknown, field: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw invalid(field, `${field} must be an integer >= ${min}`);
  return v;
}

/** Run a task's payload check; its error's field is re-pointed under `payload`. */
function checkPayload(validate: (p: unknown) => void, payload: unknown): void {
  try {
    validate(payload);
  } catch (e) {
    if (e instanceof FusionError) {
      const field = typeof e.details.field === 'string' && e.details.field ? `payload.${e.details.field}` : 'payload';
      throw new FusionError(e.code === 'invalid_job' ? 'invalid_payload' : e.code, e.message, { ...e.details, field }, e.status);
    }
    throw invalid('payload', (e as Error).message ?? String(e));
  }
}

/** Validate a spec and resolve defaults into a job ready for a store. Throws FusionError naming the field. */
export function resolveSpec(spec: JobSpec, now: number, registry?: TaskRegistry): NewJob {
  if (!spec || typeof spec !== 'object') throw invalid('spec', 'a job spec must be an object');
  if (typeof spec.task !== 'string' || spec.task.length === 0 || spec.task.length > 200) {
    throw invalid('task', 'task must be a non-empty string of at most 200 characters');
  }
  const defaults = registry?.defaultsOf(spec.task) ?? {};
  const queue = spec.queue ?? defaults.queue ?? DEFAULTS.queue;
  if (typeof queue !== 'string' || !QUEUE_NAME.test(queue)) {
    throw invalid('queue', 'queue must be 1-100 characters of letters, digits, _ . : -', { value: queue });
  }
  if (spec.id !== undefined && (typeof spec.id !== 'string' || spec.id.length === 0 || spec.id.length > MAX_ID)) {
    throw invalid('id', `id must be a non-empty string of at most ${MAX_ID} characters`);
  }
  let priority: number;
  try {
    priority = resolvePriority(spec.priority ?? defaults.priority);
  } catch (e) {
    throw invalid('priority', (e as Error).message);
  }
  let runAt = now;
  if (spec.runAt !== undefined && spec.runAt !== null) runAt = toMs(spec.runAt, 'runAt');
  else if (spec.delay !== undefined && spec.delay !== null) runAt = now + nonNegInt(spec.delay, 'delay');
  const backoff = spec.backoff ?? defaults.backoff ?? DEFAULTS.backoff;
  const backoffError = validateBackoff(backoff);
  if (backoffError) throw invalid('backoff', backoffError);
  if (spec.tags !== undefined && (!Array.isArray(spec.tags) || !spec.tags.every((t) => typeof t === 'string'))) {
    throw invalid('tags', 'tags must be a list of strings');
  }
  const payload = spec.payload === undefined ? null : spec.payload;
  if (defaults.validate) checkPayload(defaults.validate, payload);
  return {
    id: spec.id ?? newId(),
    queue,
    task: spec.task,
    payload,
    priority,
    maxAttempts: nonNegInt(spec.maxAttempts ?? defaults.maxAttempts ?? DEFAULTS.maxAttempts, 'maxAttempts', 1),
    backoff,
    timeout: nonNegInt(spec.timeout ?? defaults.timeout ?? DEFAULTS.timeout, 'timeout'),
    maxStalls: nonNegInt(spec.maxStalls ?? DEFAULTS.maxStalls, 'maxStalls'),
    runAt,
    createdAt: now,
    description: spec.description ?? null,
    tags: spec.tags ?? [],
    callbacks: spec.callbacks ?? null,
    scheduleId: spec.scheduleId ?? null,
  };
}

export class Queue {
  readonly clock: Clock;
  readonly registry?: TaskRegistry;

  constructor(readonly store: Store, opts: QueueOptionsInit = {}) {
    this.clock = opts.clock ?? systemClock;
    this.registry = opts.registry;
  }

  /** Enqueue one job. With a client-given id, the same id twice returns the existing job. */
  async enqueue<P>(spec: JobSpec<P>, opts?: AddOptions): Promise<Job<P>> {
    const [r] = await this.enqueueMany([spec], opts);
    return r!.job as Job<P>;
  }

  /**
   * Enqueue many jobs atomically: all are added or none. With `tx` (PostgreSQL only), inside the
   * caller's transaction: the jobs exist once it commits, and not at all if it rolls back.
   */
  async enqueueMany(specs: JobSpec[], opts?: AddOptions): Promise<{ job: Job; created: boolean }[]> {
    if (opts?.tx !== undefined && !this.store.capabilities.transactions) {
      throw new FusionError('tx_unsupported', 'enqueue inside a caller transaction ({ tx }) needs the PostgreSQL store', {}, 400);
    }
    const now = this.clock.now();
    const jobs = specs.map((s) => resolveSpec(s, now, this.registry));
    return opts?.tx !== undefined ? this.store.addJobs({ jobs, now, ...opts }) : this.store.addJobs({ jobs, now });
  }

  get(id: string) {
    return this.store.getJob({ id });
  }
  list(q: ListQuery = {}) {
    return this.store.listJobs(q);
  }
  counts(queue?: string) {
    return this.store.countJobs({ queue });
  }
  logs(id: string) {
    return this.store.jobLogs({ id });
  }
  cancel(id: string) {
    return this.store.cancelJob({ id, now: this.clock.now() });
  }
  reschedule(id: string, runAt: number | Date) {
    return this.store.rescheduleJob({ id, runAt: toMs(runAt, 'runAt'), now: this.clock.now() });
  }
  promote(id: string) {
    return this.store.promoteJob({ id, now: this.clock.now() });
  }
  /** failed|cancelled → queued. Attempts start again from 0 unless resetAttempts is false. */
  retry(id: string, opts: RetryOptions = {}) {
    return this.store.retryJob({ id, ...opts, now: this.clock.now() });
  }
  remove(id: string) {
    return this.store.removeJob({ id, now: this.clock.now() });
  }
  /** Remove finished jobs that ended more than `olderThanMs` ago. */
  clean(q: Omit<CleanQuery, 'endedBefore'> & { olderThanMs: number }) {
    const { olderThanMs, ...rest } = q;
    return this.store.cleanJobs({ ...rest, endedBefore: this.clock.now() - olderThanMs });
  }
  pause(queue: string) {
    return this.store.pauseQueue({ queue, now: this.clock.now() });
  }
  resume(queue: string) {
    return this.store.resumeQueue({ queue, now: this.clock.now() });
  }
  setQueueOptions(queue: string, opts: QueueOptions) {
    return this.store.setQueueOptions({ queue, options: opts, now: this.clock.now() });
  }
  queues() {
    return this.store.listQueues();
  }
}
