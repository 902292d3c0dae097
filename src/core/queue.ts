// Queue: the producer's and operator's side of the engine. Jobs go in through the enqueue funnel
// (enqueue.ts); other operations are forwarded to the store with the clock's time.
import type { Job, JobSpec } from './job.js';
import { systemClock, type Clock } from './clock.js';
import { Enqueuer } from './enqueue.js';
import { toMs } from './spec.js';
import { invalidRequest } from './errors.js';
import type { TaskRegistry } from './registry.js';
import type { AddOptions, CleanQuery, ListQuery, QueueOptions, RetryOptions, Store } from './store.js';

export interface QueueOptionsInit {
  clock?: Clock;
  /** Task defaults (queue, priority, retry policy) come from here when a spec omits them. */
  registry?: TaskRegistry;
  /** The funnel jobs go in through (default: one of its own over the store, clock and registry). */
  enqueuer?: Enqueuer;
}

export { QUEUE_NAME, resolveSpec } from './spec.js';

export class Queue {
  readonly clock: Clock;
  readonly registry?: TaskRegistry;
  readonly enqueuer: Enqueuer;

  constructor(readonly store: Store, opts: QueueOptionsInit = {}) {
    this.clock = opts.clock ?? store.clock ?? systemClock; // a shared store's: its server's time
    this.registry = opts.registry;
    this.enqueuer = opts.enqueuer ?? new Enqueuer(store, { clock: this.clock, registry: this.registry });
  }

  /**
   * Enqueue one job. With a client-given id, the same id twice returns the existing job. Not an
   * async function awaiting enqueueMany's destructured answer: that made a generator object, the
   * await's closures and an array iterator per add (~380 bytes, Enqueuer.enqueueOne has the rest).
   */
  enqueue<P>(spec: JobSpec<P>, opts?: AddOptions): Promise<Job<P>> {
    try {
      return this.enqueuer.enqueueOne(spec, opts) as Promise<Job<P>>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Enqueue many jobs atomically: all are added or none. With `tx` (PostgreSQL only), inside the
   * caller's transaction: the jobs exist once it commits, and not at all if it rolls back.
   */
  enqueueMany(specs: JobSpec[], opts?: AddOptions): Promise<{ job: Job; created: boolean }[]> {
    return this.enqueuer.enqueue(specs, opts);
  }

  get(id: string) {
    return this.store.getJob({ id });
  }
  /** `limit`: a whole number (1-1000 as the stores clamp it). */
  list(q: ListQuery = {}) {
    // A NaN went into the stores' SQL as a column name (SQLite, PostgreSQL: 'no such column'), 2.5
    // failed SQLite's LIMIT and Redis's LRANGE, and PostgreSQL took it.
    if (q.limit !== undefined && !Number.isInteger(q.limit)) return Promise.reject(invalidRequest('limit', 'limit must be a whole number', q.limit));
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
  /** Remove finished jobs that ended more than `olderThanMs` ago; `limit`: a whole number (1-100,000 as the stores clamp it). */
  clean(q: Omit<CleanQuery, 'endedBefore'> & { olderThanMs: number }) {
    const { olderThanMs, ...rest } = q;
    // Without it (or NaN), SQLite removed nothing and said so, Redis and PostgreSQL failed with their own errors.
    if (typeof olderThanMs !== 'number' || !Number.isFinite(olderThanMs)) {
      return Promise.reject(invalidRequest('olderThanMs', 'olderThanMs must be a finite number of milliseconds', olderThanMs));
    }
    // As list's: a NaN or a fraction failed SQLite ('datatype mismatch') and PostgreSQL, and Redis took it.
    if (rest.limit !== undefined && !Number.isInteger(rest.limit)) return Promise.reject(invalidRequest('limit', 'limit must be a whole number', rest.limit));
    return this.store.cleanJobs({ ...rest, endedBefore: this.clock.now() - olderThanMs });
  }
  pause(queue: string) {
    return this.store.pauseQueue({ queue, now: this.clock.now() });
  }
  resume(queue: string) {
    return this.store.resumeQueue({ queue, now: this.clock.now() });
  }
  /** A limit is a whole number from 1 (concurrency at most 100,000, as the HTTP API takes it); null clears it. */
  setQueueOptions(queue: string, opts: QueueOptions) {
    try {
      checkQueueOptions(opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.store.setQueueOptions({ queue, options: opts, now: this.clock.now() });
  }
  queues() {
    return this.store.listQueues();
  }
}

/**
 * The stores keep what they are given: a NaN concurrency (a Number() of an unset variable) lifted
 * the limit silently, a fraction failed every claim of the queue on SQLite, a rate limit without
 * its windowMs failed every claim on Redis, a windowMs of 0 limited nothing.
 */
function checkQueueOptions(opts: QueueOptions): void {
  const whole = (v: unknown, field: string, max = Number.MAX_SAFE_INTEGER) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
      throw invalidRequest(field, `${field} must be a whole number from 1 to ${max}, or null to clear it`, v);
    }
  };
  if (opts.concurrency != null) whole(opts.concurrency, 'concurrency', 100_000);
  if (opts.rateLimit != null) {
    whole(opts.rateLimit.max, 'rateLimit.max');
    whole(opts.rateLimit.windowMs, 'rateLimit.windowMs');
  }
}
