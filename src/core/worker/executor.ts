// The executor: runs one job at a time per slot. It calls the handler with its context, aborts it
// on timeout, cancel request, lost lease or shutdown, extends the leases of what runs, and decides
// the attempt's outcome (completed, retry with its backoff, failed, cancelled, released). It never
// talks to the store about outcomes: it hands each one to the completer, which lets go of the job
// once the outcome is stored. A job leased while every handler slot is busy (claimed ahead, see
// `room`) waits here, highest priority first, and starts the moment a handler ends.

// The global `performance` is a getter run on every read (Node defines it lazily); the module's export is a plain value.
import { performance } from 'node:perf_hooks';
import { backoffDelay } from '../backoff.js';
import { boundedText } from '../bounded-text.js';
import { CancelledError, NonRetryableError, TimeoutError, UnknownTaskError, isRetryable, retryAfterOf, snoozeDelayOf, storedDelay } from '../errors.js';
import type { Job, JobError, NewJob } from '../job.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { TaskContext, TaskRegistry } from '../registry.js';
import type { Outcome, Store } from '../store.js';
import { callbackJobs } from '../callbacks.js';
import { isStoreFull } from '../store-errors.js';
import type { AttemptEndName, Lifecycle } from '../lifecycle.js';

interface Running {
  job: Job;
  attempt: Attempt;
  /** When its handler started (clock ms); while it waits for a slot, when it arrived. */
  startedAt: number;
  /** Its handler runs (or ran): false while it waits for a handler slot. */
  begun: boolean;
  /** Its handler ended: the outcome is with the completer, or the lease was lost. */
  ended?: boolean;
  /** performance.now() at the handler's start, for the mean handler time. */
  t0: number;
  /** When the lease ends unless a heartbeat extends it (clock ms). */
  leaseUntil: number;
  cancelTimeout?: () => void;
  /** Set when the lease was lost: the outcome must not be reported. */
  lost?: boolean;
}

/** The abort reason of a job given back to its queue because its worker stops. */
export class ReleasedError extends Error {
  override name = 'ReleasedError';
}
class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

export interface ExecutorOptions {
  store: Store;
  registry: TaskRegistry;
  workerId: string;
  /** Handlers running at once, at most. */
  concurrency: number;
  /**
   * Jobs the worker may lease beyond its handler slots, at most (claimed ahead: each waits here for
   * a slot). Scaled down as handlers get longer than a round trip (see `room`).
   */
  prefetch: number;
  leaseMs: number;
  clock: Clock;
  log: Logger;
  random: () => number;
  lifecycle: Lifecycle;
  /** An attempt's outcome, to be stored; its job keeps its slot until `free` is called for it. */
  onOutcome(outcome: Outcome): void;
  /** A slot was freed without an outcome to store (the lease was lost). */
  onFreed(): void;
}

export class Executor {
  /** Jobs this worker holds: waiting for a slot, running, or ended with their outcome not yet stored. */
  private readonly running = new Map<string, Running>();
  /** Held jobs waiting for a handler slot, highest priority first, then in arrival order. */
  private readonly waiting: Running[] = [];
  /** Handlers running now. */
  private handlers = 0;
  /** Handlers still running after their attempt ended (aborted, deaf to the signal): counted in `handlers`. */
  private lingering = 0;
  /** Moving mean of a handler's run time (real ms); -1 before the first ends. */
  private handlerMs = -1;
  /** Set once the worker stops: a job that arrives goes back to its queue at once, unrun. */
  private closing = false;
  private idleResolvers: (() => void)[] = [];
  // The options the per-job path reads, as own fields: one load each on a path run per job.
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly lifecycle: Lifecycle;
  private readonly workerId: string;

  constructor(private readonly o: ExecutorOptions) {
    ({ store: this.store, clock: this.clock, log: this.log, lifecycle: this.lifecycle, workerId: this.workerId } = o);
  }

  /** Jobs held: waiting for a slot, running, and ended with their outcome not yet stored. */
  get active(): number {
    return this.running.size;
  }

  /** Handlers running now (an outcome may still come from each). */
  get busy(): number {
    return this.handlers;
  }

  /**
   * How many more jobs the worker may lease now: its handler slots plus what it claims ahead, less
   * what it holds. Claiming ahead lets a slot start its next job the moment its handler ends, rather
   * than a round trip later; it pays while handlers are short against the round trip (`rttMs`,
   * measured by the completer). It reaches as far as the slots get through in one round trip,
   * concurrency x rtt / mean handler time, at most `prefetch`, none before a handler has ended: a
   * job claimed ahead waits for its slot about one round trip at most, and slow jobs are not
   * hoarded from other workers.
   */
  room(rttMs: number): number {
    const { concurrency, prefetch } = this.o;
    let ahead = 0;
    if (prefetch > 0 && this.handlerMs >= 0) {
      ahead = this.handlerMs * prefetch <= concurrency * rttMs ? prefetch : Math.floor((concurrency * rttMs) / this.handlerMs);
    }
    // A handler lingering past its attempt holds a slot no claim may count on.
    return concurrency + ahead - this.running.size - this.lingering;
  }

  has(id: string): boolean {
    return this.running.has(id);
  }

  ids(): string[] {
    return [...this.running.keys()];
  }

  /** A job the store leased to this worker: it starts now if a handler slot is free, else waits for one. */
  start(job: Job): void {
    const entry: Running = {
      job, attempt: new Attempt(), startedAt: this.clock.now(), begun: false, t0: 0,
      leaseUntil: job.leaseUntil ?? this.clock.now() + this.o.leaseMs,
    };
    this.running.set(job.id, entry);
    // A stopping worker starts nothing new: what a claim brings after the stop goes straight back.
    if (this.closing) this.settle(entry, this.failure(job, new ReleasedError('worker shutting down')));
    else if (this.handlers < this.o.concurrency) this.begin(entry);
    else this.enqueueWaiting(entry);
  }

  private enqueueWaiting(entry: Running): void {
    const { waiting } = this;
    const p = entry.job.priority;
    let i = waiting.length;
    while (i > 0 && waiting[i - 1]!.job.priority < p) i--;
    waiting.splice(i, 0, entry);
  }

  private begin(entry: Running): void {
    const { clock, lifecycle, log, workerId } = this;
    const { job, attempt } = entry;
    this.handlers++;
    entry.begun = true;
    entry.t0 = performance.now();
    const startedAt = (entry.startedAt = clock.now());
    if (job.timeout > 0) {
      entry.cancelTimeout = clock.at(startedAt + job.timeout, () =>
        attempt.abort(new TimeoutError(`attempt timed out after ${job.timeout} ms`)),
      );
    }
    if (this.logsInfo()) log.info({ jobId: job.id, queue: job.queue, task: job.task, attempt: job.attempts }, 'job started');
    if (lifecycle.has('job.started')) lifecycle.emit('job.started', { job, attempt: job.attempts, workerId, at: startedAt });
    this.execute(entry);
  }

  /** Abort a held job: a running handler's signal aborts; a waiting job ends at once, unrun, with that reason. */
  private abortEntry(entry: Running, reason: unknown): void {
    if (entry.begun) {
      entry.attempt.abort(reason);
      return;
    }
    if (entry.ended) return;
    this.waiting.splice(this.waiting.indexOf(entry), 1);
    this.settle(entry, this.failure(entry.job, reason));
  }

  /**
   * The worker stops: jobs waiting for a slot go back to their queue now, and so does any that
   * arrives later. With a queue: that queue was paused or its limits changed, and its waiting jobs
   * go back now, first in line (their place and priority kept, the attempt not counted) rather than
   * start on a paused queue, or beyond a lowered limit, once a slot frees; held on until the
   * resume, they would keep their leases from every other worker.
   */
  releaseWaiting(queue?: string): void {
    if (queue === undefined) this.closing = true;
    const reason = new ReleasedError(queue === undefined ? 'worker shutting down' : `queue ${queue} paused or its limits changed`);
    for (const entry of [...this.waiting]) if (queue === undefined || entry.job.queue === queue) this.abortEntry(entry, reason);
  }

  /** A cancel request (store event or heartbeat answer): the handler's signal aborts. */
  cancel(id: string): void {
    const entry = this.running.get(id);
    if (entry) this.abortEntry(entry, new CancelledError('job cancelled'));
  }

  /** Abort every held job with this reason (a stopping worker gives them back). */
  abortAll(reason: unknown): void {
    for (const r of [...this.running.values()]) this.abortEntry(r, reason);
  }

  /** The job's outcome is stored (or given up): its slot is free. */
  free(id: string): void {
    this.running.delete(id);
    if (this.running.size === 0) {
      for (const r of this.idleResolvers.splice(0)) r();
    }
  }

  /** Resolves when no job holds a slot. */
  whenIdle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleResolvers.push(r));
  }

  /** The latest lease end among these jobs; -Infinity when every lease is already lost. */
  leaseEnd(outcomes: Outcome[]): number {
    let end = -Infinity;
    for (const o of outcomes) {
      const entry = this.running.get(o.id);
      if (entry && !entry.lost) end = Math.max(end, entry.leaseUntil);
    }
    return end;
  }

  /**
   * Extend the leases of every job holding a slot, in one store call (jobs whose outcome is being
   * stored too: the store may refuse it for a while). A lease the store says is lost aborts its job;
   * a cancel request in the answer aborts it as cancelled.
   */
  async extendLeases(leaseMs: number): Promise<void> {
    if (this.running.size === 0) return;
    const leases = [...this.running.values()].map((r) => ({ id: r.job.id, token: r.job.leaseToken! }));
    try {
      const now = this.clock.now();
      const res = await this.store.heartbeatJobs({ leases, leaseMs, now });
      for (const r of res) {
        const entry = this.running.get(r.id);
        if (!entry) continue;
        if (!r.ok) {
          entry.lost = true;
          this.abortEntry(entry, new LeaseLostError('lease lost'));
        } else {
          entry.leaseUntil = now + leaseMs;
          if (r.cancelRequested) this.abortEntry(entry, new CancelledError('job cancelled'));
        }
      }
    } catch (err) {
      this.log.error({ workerId: this.workerId, err: (err as Error)?.message }, 'heartbeat failed');
    }
  }

  /** Whether info lines are written: a silent logger spares each job its log objects. */
  private logsInfo(): boolean {
    return this.log.isLevelEnabled?.('info') ?? true;
  }

  /**
   * Run the handler; its outcome reaches settle once, in a later microtask. No async frame or
   * extra promise per job: a no-op job's cost is mostly such bookkeeping.
   */
  private execute(entry: Running): void {
    const { job, attempt } = entry;
    const def = this.o.registry.get(job.task);
    let value: unknown;
    try {
      if (!def) throw new UnknownTaskError(job.task, this.workerId);
      value = def.handler(job.payload, new JobContext(job, attempt, this.workerId, this.store, this.clock));
    } catch (thrown) {
      value = Promise.reject(thrown);
    }
    attempt.watch(value, (ok, v) => this.settle(entry, ok ? this.completed(job, v) : this.failure(job, v)));
  }

  private completed(job: Job, result: unknown): Outcome | null {
    // The store keeps a result as JSON, and one it cannot write (a BigInt, a cycle) failed the whole
    // outcome batch again and again while heartbeats kept its leases: the worker stalled for good.
    const unwritable = notJson(result);
    if (unwritable !== null) return this.failure(job, new NonRetryableError(`the handler's result cannot be stored: ${unwritable}`));
    return { kind: 'completed', id: job.id, token: job.leaseToken!, at: this.clock.now(), result, enqueue: this.followUps(job, 'completed', result) };
  }

  /** The outcome of an attempt that threw or was aborted; null when its lease was lost. */
  private failure(job: Job, err: unknown): Outcome | null {
    const lease = { id: job.id, token: job.leaseToken! };
    const at = this.clock.now();
    switch (attemptEndOf(job, err)) {
      case 'lost':
        return null;
      case 'released':
        return { kind: 'released', ...lease, at };
      case 'snoozed':
        return { kind: 'snoozed', ...lease, at, retryAt: at + storedDelay(snoozeDelayOf(err)!), reason: (err as Error).message };
      case 'cancelled':
        return { kind: 'cancelled', ...lease, at, error: toJobError(err) };
      case 'retry': {
        const delay = retryAfterOf(err) ?? backoffDelay(job.backoff, job.attempts, this.o.random);
        return { kind: 'retry', ...lease, at, error: toJobError(err), retryAt: at + storedDelay(delay) };
      }
      case 'failed': {
        const error = toJobError(err);
        return { kind: 'failed', ...lease, at, error, enqueue: this.followUps(job, 'failed', undefined, error) };
      }
    }
  }

  private followUps(job: Job, outcome: 'completed' | 'failed', result?: unknown, error?: JobError): NewJob[] | undefined {
    return job.callbacks ? callbackJobs(job, outcome, this.clock.now(), result, error, this.o.registry) : undefined;
  }

  private settle(entry: Running, outcome: Outcome | null): void {
    entry.cancelTimeout?.();
    entry.ended = true;
    if (entry.begun) {
      const ms = performance.now() - entry.t0;
      this.handlerMs = this.handlerMs < 0 ? ms : this.handlerMs * 0.9 + ms * 0.1;
      if (entry.attempt.handlerRunning) {
        // Aborted (a timeout, a cancel, the stop) while its handler runs on, deaf to its signal: the
        // attempt ends now, but the handler keeps its slot until it returns, so no more than
        // `concurrency` handlers ever run (before: each timed-out try of a job ran on beside the next).
        this.lingering++;
        entry.attempt.whenHandlerEnds(() => {
          this.lingering--;
          this.handlers--;
          this.startWaiting();
          this.o.onFreed();
        });
      } else this.handlers--;
    }
    // The handler slot is free: the next waiting job starts now, not a round trip later (and
    // before this outcome goes to the completer, which then waits a turn for it to end too).
    this.startWaiting();
    this.report(entry, outcome);
  }

  private startWaiting(): void {
    while (this.handlers < this.o.concurrency && this.waiting.length > 0) this.begin(this.waiting.shift()!);
  }

  private report(entry: Running, outcome: Outcome | null): void {
    const { job } = entry;
    const { log } = this;
    if (outcome === null || entry.lost) {
      log.warn(this.logFields(entry), 'lease lost; outcome dropped (another worker owns the job now)');
      this.announce(entry, null);
      this.free(job.id);
      this.o.onFreed();
      return;
    }
    this.announce(entry, outcome);
    switch (outcome.kind) {
      case 'completed':
        if (this.logsInfo()) log.info(this.logFields(entry), 'job completed');
        break;
      case 'retry':
        log.warn({ ...this.logFields(entry), err: outcome.error.message, retryAt: outcome.retryAt }, 'job failed; will retry');
        break;
      case 'failed':
        log.error({ ...this.logFields(entry), err: outcome.error.message }, 'job failed');
        break;
      case 'cancelled':
        log.info(this.logFields(entry), 'job cancelled');
        break;
      case 'released':
        log.info(this.logFields(entry), 'job given back to the queue');
        break;
      case 'snoozed':
        if (this.logsInfo()) log.info({ ...this.logFields(entry), reason: outcome.reason, runAt: outcome.retryAt }, 'job snoozed');
        break;
    }
    // The slot frees only once the outcome is stored (the completer calls free), so a claim never
    // races its own finish.
    this.o.onOutcome(outcome);
  }

  /**
   * The store ended this job cancelled instead of the retry, snooze or release its attempt reported:
   * the cancel request came while the attempt ran (OutcomeRule.yieldsToCancel). Said in the log, as
   * the attempt's own line said otherwise; its store event is 'cancelled', its lifecycle event stays
   * the attempt's.
   */
  cancelledInstead(outcome: Outcome): void {
    const entry = this.running.get(outcome.id);
    if (entry && outcome.kind !== 'cancelled') this.log.info({ ...this.logFields(entry), reported: outcome.kind }, 'job cancelled: the request came while this worker held it');
  }

  /** A job's log line fields at its attempt's end: built only when logged (at info level most jobs log only their completion). */
  private logFields(entry: Running): { jobId: string; queue: string; task: string; attempt: number; durationMs: number } {
    const { job } = entry;
    return { jobId: job.id, queue: job.queue, task: job.task, attempt: job.attempts, durationMs: this.clock.now() - entry.startedAt };
  }

  /** Emit the lifecycle event of an attempt's end; null: the lease was lost. Builds nothing when nobody listens. */
  private announce(entry: Running, outcome: Outcome | null): void {
    const { lifecycle } = this;
    const name: AttemptEndName = outcome === null ? 'job.lost' : ATTEMPT_END_EVENT[outcome.kind];
    if (!lifecycle.has(name)) return;
    const { job } = entry;
    const at = outcome?.at ?? this.clock.now();
    const end = { job, attempt: job.attempts, workerId: this.workerId, at, durationMs: at - entry.startedAt };
    switch (outcome?.kind) {
      case 'completed':
        return lifecycle.emit('job.completed', { ...end, result: outcome.result });
      case 'retry':
        return lifecycle.emit('job.retrying', { ...end, error: outcome.error, retryAt: outcome.retryAt });
      case 'failed':
        return lifecycle.emit('job.failed', { ...end, error: outcome.error });
      case 'cancelled':
        return lifecycle.emit('job.cancelled', { ...end, error: outcome.error ?? { message: 'job cancelled', retryable: false } });
      case 'snoozed':
        return lifecycle.emit('job.snoozed', { ...end, runAt: outcome.retryAt });
      default:
        return lifecycle.emit(name as 'job.released' | 'job.lost', end);
    }
  }
}

const ATTEMPT_END_EVENT: Record<Outcome['kind'], AttemptEndName> = {
  completed: 'job.completed', retry: 'job.retrying', failed: 'job.failed', cancelled: 'job.cancelled', released: 'job.released',
  snoozed: 'job.snoozed',
};

/**
 * What a handler gets besides its payload. A class, so a job that never reports progress or logs
 * (most) allocates no closures: progress and log are made on first read, bound, so a handler may
 * also take them apart from ctx.
 */
class JobContext implements TaskContext {
  private progressFn: ((value: unknown) => Promise<void>) | null = null;
  private logFn: ((message: string) => Promise<void>) | null = null;

  constructor(
    readonly job: Job,
    private readonly run: Attempt,
    readonly workerId: string,
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  get attempt(): number {
    return this.job.attempts;
  }

  get signal(): AbortSignal {
    return this.run.signal;
  }

  get progress(): (value: unknown) => Promise<void> {
    return (this.progressFn ??= async (value) => {
      await this.store.progressJob({ lease: { id: this.job.id, token: this.job.leaseToken! }, progress: value, now: this.clock.now() });
    });
  }

  /**
   * A line kept with the job. Dropped where the store is full (store_full): a log line is not worth
   * failing an attempt whose work is done, and running it again.
   */
  get log(): (message: string) => Promise<void> {
    return (this.logFn ??= (message) => this.store.logJob({ id: this.job.id, message: String(message), now: this.clock.now() }).catch((err: unknown) => {
      if (!isStoreFull(err)) throw err;
    }));
  }
}

/**
 * One attempt's abort state. The AbortController is made only when the handler reads ctx.signal:
 * most handlers never do, and one per job is a real share of a no-op job's cost.
 */
class Attempt {
  aborted = false;
  reason: unknown;
  private ac: AbortController | null = null;
  private done: ((ok: boolean, value: unknown) => void) | null = null;
  private handlerDone = false;
  private afterHandler: (() => void) | null = null;

  get signal(): AbortSignal {
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.aborted) this.ac.abort(this.reason);
    }
    return this.ac.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.ac?.abort(reason);
    queueMicrotask(() => this.end(false, reason));
  }

  /**
   * Call `done` once, in a later microtask: with the handler's value or error, or with the abort
   * reason if the abort comes before the handler's settlement is seen (whatever it was).
   */
  watch(value: unknown, done: (ok: boolean, value: unknown) => void): void {
    this.done = done;
    Promise.resolve(value).then((v) => {
      this.handlerEnded();
      this.end(true, v);
    }, (e) => {
      this.handlerEnded();
      this.end(false, e);
    });
  }

  /** Whether the handler has not returned yet (an aborted attempt's handler may run on, ignoring its signal). */
  get handlerRunning(): boolean {
    return !this.handlerDone;
  }

  /** Call `then` once the handler returns (at once if it has). */
  whenHandlerEnds(then: () => void): void {
    if (this.handlerDone) then();
    else this.afterHandler = then;
  }

  private handlerEnded(): void {
    this.handlerDone = true;
    const then = this.afterHandler;
    this.afterHandler = null;
    then?.();
  }

  private end(ok: boolean, value: unknown): void {
    const done = this.done;
    if (!done) return;
    this.done = null;
    if (this.aborted) done(false, this.reason);
    else done(ok, value);
  }
}

/**
 * How an attempt that threw `err` ends its job: lost (another worker holds it), given back, put off,
 * cancelled, retried, or failed for good. The worker's outcome follows it, and so does a handler
 * that must know whether this attempt is the job's last (the webhook's integration callback).
 */
export function attemptEndOf(job: Pick<Job, 'attempts' | 'maxAttempts'>, err: unknown): 'lost' | 'released' | 'snoozed' | 'cancelled' | 'retry' | 'failed' {
  if (err instanceof LeaseLostError) return 'lost';
  if (err instanceof ReleasedError) return 'released';
  if (snoozeDelayOf(err) !== undefined) return 'snoozed';
  if (err instanceof CancelledError) return 'cancelled';
  return isRetryable(err) && job.attempts < job.maxAttempts ? 'retry' : 'failed';
}

/** Why `v` has no JSON form (a BigInt, a cycle, a throwing toJSON), or null when it has one (or is a primitive). */
function notJson(v: unknown): string | null {
  if (v === null || (typeof v !== 'object' && typeof v !== 'bigint')) return null;
  try {
    JSON.stringify(v);
    return null;
  } catch (e) {
    return (e as Error)?.message ?? String(e);
  }
}

/**
 * The most of an error's message, and of its stack, that a job keeps. Every attempt's record keeps
 * its message, so a handler whose error carried a provider's whole answer (an HTML page of
 * megabytes) grew its job by that much per attempt: six attempts of a 2 MB page made a 16 MB job,
 * read whole by every view and, on Redis, by every claim.
 */
export const MAX_ERROR_TEXT = 8192;

/** `text` cut to MAX_ERROR_TEXT characters (never inside a surrogate pair), saying how much was left out. */
const bounded = (text: string): string => boundedText(text, MAX_ERROR_TEXT);

/** A stack over MAX_ERROR_TEXT as `header` (the error's bounded first line) and its frames, bounded. */
function boundedStack(stack: string, header: string): string {
  if (stack.length <= MAX_ERROR_TEXT) return stack;
  const frames = stack.indexOf('\n    at ');
  return frames < 0 ? bounded(stack) : header + bounded(stack.slice(frames));
}

/**
 * A thrown value as stored in a job's history: message, name, stack, code, details, whether to
 * retry. Whatever was thrown, the record has a JSON form: details without one are left out (said in
 * the message), and a thrown value without one is described by String(). Message and stack are
 * bounded (MAX_ERROR_TEXT); a stack keeps its frames after a long message.
 */
export function toJobError(err: unknown): JobError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const details = (err as { details?: unknown }).details;
    const plainDetails = details && typeof details === 'object' && !Array.isArray(details);
    const unwritable = plainDetails ? notJson(details) : null;
    const message = bounded(err.message || err.name);
    const stack = typeof err.stack === 'string' ? boundedStack(err.stack, `${err.name}: ${message}`) : err.stack;
    return {
      message: message + (unwritable === null ? '' : ` (its details were left out: ${unwritable})`),
      name: err.name,
      stack,
      retryable: isRetryable(err),
      ...(typeof code === 'string' ? { code } : {}),
      ...(plainDetails && unwritable === null ? { details: details as Record<string, unknown> } : {}),
    };
  }
  if (typeof err === 'string') return { message: bounded(err), retryable: isRetryable(err) };
  let message: string;
  try {
    message = JSON.stringify(err) ?? String(err);
  } catch {
    message = typeof err === 'bigint' ? `${err}n` : Object.prototype.toString.call(err);
  }
  return { message: bounded(message), retryable: isRetryable(err) };
}
