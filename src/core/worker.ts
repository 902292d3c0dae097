// Worker: claims jobs in batches, runs their handlers with a lease kept alive by one batched
// heartbeat, and reports outcomes in batches. It wakes on store events and on the store's own
// word of when the next delayed job comes due; polling is only a fallback across processes.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { backoffDelay } from './backoff.js';
import { CancelledError, NonRetryableError, TimeoutError, isRetryable, retryAfterOf } from './errors.js';
import { DEFAULTS, type Job, type JobError, type NewJob } from './job.js';
import { systemClock, type Clock } from './clock.js';
import { silentLogger, type Logger } from './logger.js';
import type { TaskContext, TaskRegistry } from './registry.js';
import type { ClaimRequest, Outcome, Store, StoreEvent } from './store.js';
import { callbackJobs } from './callbacks.js';
import { Lifecycle, type AttemptEndName } from './lifecycle.js';

export interface WorkerOptions {
  queues: string[];
  concurrency?: number;
  /** Lease length; a worker that stops heartbeating loses its jobs after this long. */
  leaseMs?: number;
  /** Heartbeat period; default a third of the lease. */
  heartbeatMs?: number;
  /** Longest idle wait without an event, for changes made by other processes. */
  pollMs?: number;
  /** Claim at most this many jobs in one store call. */
  batchSize?: number;
  /**
   * Outcome batches in flight at once. Default 2 on a remote store (see capabilities.pipelined): while the
   * store applies one batch, the worker runs the jobs claimed with the other. 1 otherwise.
   */
  pipeline?: number;
  /** Weighted fairness across queues: each claim orders queues by weighted random draw instead of the given order. */
  weights?: Record<string, number>;
  id?: string;
  clock?: Clock;
  logger?: Logger;
  random?: () => number;
  /**
   * Backoff between tries to store a batch of outcomes the store refused: doubling from firstMs,
   * capped at maxMs (default 50 ms to 5 s). Tries go on while the batch's leases last.
   */
  outcomeRetry?: { firstMs: number; maxMs: number };
  /** Where this worker emits its lifecycle events (job started, completed, ...; worker up and down). Default its own. */
  lifecycle?: Lifecycle;
}

interface Running {
  job: Job;
  attempt: Attempt;
  startedAt: number;
  /** When the lease ends unless a heartbeat extends it (clock ms). */
  leaseUntil: number;
  cancelTimeout?: () => void;
  /** Set when the lease was lost: the outcome must not be reported. */
  lost?: boolean;
}

class ReleasedError extends Error {
  override name = 'ReleasedError';
}
class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

export type WorkerState = 'idle' | 'running' | 'stopping' | 'stopped';

export class Worker {
  readonly id: string;
  readonly queues: string[];
  readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly outcomeRetry: { firstMs: number; maxMs: number };
  private readonly queueSet: Set<string>;
  private running = new Map<string, Running>();
  private outbox: Outcome[] = [];
  private readonly maxFlights: number;
  /** Outcome batches being stored now, and how many outcomes they carry. */
  private flights = 0;
  private storing = 0;
  /** Slots promised to claims riding on flights in the air. */
  private reserved = 0;
  private flushPending = false;
  /** Moving mean of a flight's first-try round trip, in real time (ms); whether a launch is waiting to space flights. */
  private flightRttMs = 0;
  private spacing = false;
  private landed: (() => void)[] = [];
  private claiming = false;
  private pumpAgain = false;
  private pumpScheduled = false;
  private wakeTimer: { at: number; cancel: () => void } | null = null;
  private heartbeatCancel: (() => void) | null = null;
  private unsubscribe: (() => void) | null = null;
  private stopHandoff: (() => Promise<void>) | null = null;
  private storeErrors = 0;
  private idleResolvers: (() => void)[] = [];
  /** A started worker keeps its process alive until stopped; its other timers are unref'd. */
  private keepAlive: NodeJS.Timeout | null = null;
  state: WorkerState = 'idle';
  readonly startedAt: number;
  /** Lifecycle events of this worker's attempts and of the worker itself (src/core/lifecycle.ts). */
  readonly lifecycle: Lifecycle;

  constructor(private store: Store, private registry: TaskRegistry, opts: WorkerOptions) {
    if (!opts.queues?.length) throw new TypeError('a worker needs at least one queue');
    this.queues = [...opts.queues];
    this.queueSet = new Set(this.queues);
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
    this.leaseMs = opts.leaseMs ?? DEFAULTS.leaseMs;
    this.heartbeatMs = opts.heartbeatMs ?? Math.max(10, Math.floor(this.leaseMs / 3));
    this.pollMs = opts.pollMs ?? 1000;
    this.batchSize = Math.max(1, opts.batchSize ?? 100);
    this.maxFlights = Math.max(1, opts.pipeline ?? (store.capabilities.pipelined ? 2 : 1));
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.random = opts.random ?? Math.random;
    this.outcomeRetry = opts.outcomeRetry ?? { firstMs: 50, maxMs: 5000 };
    this.id = opts.id ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.weights = opts.weights;
    this.startedAt = this.clock.now();
    this.lifecycle = opts.lifecycle ?? new Lifecycle(this.log);
  }
  private readonly weights?: Record<string, number>;

  /** Jobs running now. */
  get active(): number {
    return this.running.size;
  }

  runningIds(): string[] {
    return [...this.running.keys()];
  }

  start(): this {
    if (this.state !== 'idle') return this;
    this.state = 'running';
    this.keepAlive = setInterval(() => {}, 1 << 30);
    const onEvent = (e: StoreEvent) => this.onEvent(e);
    this.unsubscribe = this.store.capabilities.workEvents?.(onEvent) ?? this.store.subscribe(onEvent);
    // Jobs a store leases to this worker while it waits idle: they start without a claim round trip.
    this.stopHandoff = this.store.capabilities.handoff?.({ workerId: this.id, listener: (jobs) => this.adopt(jobs) }) ?? null;
    this.armHeartbeat();
    this.log.info({ workerId: this.id, queues: this.queues, concurrency: this.concurrency }, 'worker started');
    this.lifecycle.emit('worker.up', { workerId: this.id, queues: this.queues, concurrency: this.concurrency, at: this.clock.now() });
    this.wake();
    return this;
  }

  /**
   * Stop claiming, wait up to graceMs for running jobs, then give back (re-queue) what still runs.
   * Resolves when every outcome is stored.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.state === 'stopped' || this.state === 'idle') {
      this.state = 'stopped';
      return;
    }
    clearInterval(this.keepAlive ?? undefined);
    if (this.state !== 'stopping') {
      this.state = 'stopping';
      this.wakeTimer?.cancel();
      this.wakeTimer = null;
      this.log.info({ workerId: this.id, running: this.running.size, graceMs }, 'worker stopping');
    }
    const handoff = this.stopHandoff;
    this.stopHandoff = null;
    await handoff?.();
    if (this.running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
      await Promise.race([this.whenIdle(), grace]);
      clearTimeout(timer);
      for (const r of this.running.values()) r.attempt.abort(new ReleasedError('worker shutting down'));
      await this.whenIdle();
    }
    await this.drain();
    this.heartbeatCancel?.();
    this.unsubscribe?.();
    this.state = 'stopped';
    await this.store.removeWorker({ id: this.id }).catch(() => {});
    this.log.info({ workerId: this.id }, 'worker stopped');
    this.lifecycle.emit('worker.down', { workerId: this.id, queues: this.queues, at: this.clock.now(), startedAt: this.startedAt });
  }

  private whenIdle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleResolvers.push(r));
  }

  private onEvent(e: StoreEvent): void {
    if (e.type === 'cancel-requested' && e.jobId) {
      this.running.get(e.jobId)?.attempt.abort(new CancelledError('job cancelled'));
      return;
    }
    if (!this.queueSet.has(e.queue) || this.state !== 'running') return;
    // A job handed to this worker at its add (capabilities.handoff) is already running here: no claim for it.
    if (e.type === 'queued' && e.jobId !== undefined && this.running.has(e.jobId)) return;
    if (e.type === 'queued' || e.type === 'resumed') this.wake();
    else if ((e.type === 'scheduled' || e.type === 'retrying') && e.runAt !== undefined) this.wakeAt(e.runAt);
  }

  /** Ask for a claim soon; many wakes in one tick make one claim. */
  wake(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  private wakeAt(at: number): void {
    if (this.state !== 'running') return;
    if (this.wakeTimer && this.wakeTimer.at <= at) return;
    this.wakeTimer?.cancel();
    const cancel = this.clock.at(at, () => {
      this.wakeTimer = null;
      this.wake();
    });
    this.wakeTimer = { at, cancel };
  }

  private orderedQueues(): string[] {
    if (!this.weights) return this.queues;
    // Weighted draw without replacement: a queue of weight 3 leads three times as often as one of weight 1.
    const pool = this.queues.map((q) => ({ q, w: Math.max(0, this.weights![q] ?? 1) }));
    const out: string[] = [];
    while (pool.length) {
      const total = pool.reduce((s, p) => s + p.w, 0);
      let x = this.random() * total;
      let i = 0;
      while (i < pool.length - 1 && x >= pool[i]!.w) x -= pool[i++]!.w;
      out.push(pool.splice(i, 1)[0]!.q);
    }
    return out;
  }

  private async pump(): Promise<void> {
    if (this.claiming) {
      this.pumpAgain = true;
      return;
    }
    this.claiming = true;
    try {
      do {
        this.pumpAgain = false;
        if (this.state !== 'running') return;
        if (this.flights > 0) {
          // Claim after the flights land, never beside them (they claim in the same store call); their end wakes us.
          this.pumpAgain = true;
          return;
        }
        const free = this.concurrency - this.running.size;
        if (free <= 0) return;
        const limit = Math.min(free, this.batchSize);
        const now = this.clock.now();
        let res;
        try {
          res = await this.store.claimJobs(this.claimRequest(limit, now));
          this.storeErrors = 0;
        } catch (err) {
          this.onStoreError(err, 'claim');
          return;
        }
        for (const job of res.jobs) this.run(job);
        if (res.jobs.length === limit) this.pumpAgain = true;
        else this.wakeAt(Math.min(res.nextWakeAt ?? Infinity, this.clock.now() + this.pollMs));
      } while (this.pumpAgain);
    } finally {
      this.claiming = false;
    }
  }

  /** An idle worker claims again within pollMs, so a hand-off registration lasts two of them. */
  private claimRequest(limit: number, now: number): ClaimRequest {
    return { queues: this.orderedQueues(), workerId: this.id, limit, leaseMs: this.leaseMs, now, idleMs: 2 * this.pollMs };
  }

  /** Jobs the store leased to this worker on its own (capabilities.handoff): run like claimed ones. */
  private adopt(jobs: Job[]): void {
    for (const job of jobs) this.run(job);
  }

  private onStoreError(err: unknown, op: string): void {
    this.storeErrors++;
    const delay = Math.min(5000, 50 * 2 ** Math.min(this.storeErrors, 7));
    this.log.error({ workerId: this.id, op, err: (err as Error)?.message, retryInMs: delay }, 'store call failed');
    this.wakeAt(this.clock.now() + delay);
  }

  private run(job: Job): void {
    const attempt = new Attempt();
    const startedAt = this.clock.now();
    const entry: Running = { job, attempt, startedAt, leaseUntil: job.leaseUntil ?? startedAt + this.leaseMs };
    this.running.set(job.id, entry);
    if (job.timeout > 0) {
      entry.cancelTimeout = this.clock.at(entry.startedAt + job.timeout, () =>
        attempt.abort(new TimeoutError(`attempt timed out after ${job.timeout} ms`)),
      );
    }
    if (this.logsInfo()) this.log.info({ jobId: job.id, queue: job.queue, task: job.task, attempt: job.attempts }, 'job started');
    if (this.lifecycle.has('job.started')) this.lifecycle.emit('job.started', { job, attempt: job.attempts, workerId: this.id, at: startedAt });
    this.execute(entry);
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
    const def = this.registry.get(job.task);
    let value: unknown;
    try {
      if (!def) throw new NonRetryableError(`no handler is registered for task "${job.task}"`);
      value = def.handler(job.payload, new JobContext(job, attempt, this.id, this.store, this.clock));
    } catch (thrown) {
      value = Promise.reject(thrown);
    }
    attempt.watch(value, (ok, v) => this.settle(entry, ok ? this.completed(job, v) : this.failure(job, v)));
  }

  private completed(job: Job, result: unknown): Outcome {
    return { kind: 'completed', id: job.id, token: job.leaseToken!, at: this.clock.now(), result, enqueue: this.followUps(job, 'completed', result) };
  }

  /** The outcome of an attempt that threw or was aborted; null when its lease was lost. */
  private failure(job: Job, err: unknown): Outcome | null {
    const lease = { id: job.id, token: job.leaseToken! };
    const at = this.clock.now();
    if (err instanceof LeaseLostError) return null;
    if (err instanceof ReleasedError) return { kind: 'released', ...lease, at };
    const error = toJobError(err);
    if (err instanceof CancelledError) return { kind: 'cancelled', ...lease, at, error };
    if (error.retryable && job.attempts < job.maxAttempts) {
      const delay = retryAfterOf(err) ?? backoffDelay(job.backoff, job.attempts, this.random);
      return { kind: 'retry', ...lease, at, error, retryAt: at + delay };
    }
    return { kind: 'failed', ...lease, at, error, enqueue: this.followUps(job, 'failed', undefined, error) };
  }

  private followUps(job: Job, outcome: 'completed' | 'failed', result?: unknown, error?: JobError): NewJob[] | undefined {
    return job.callbacks ? callbackJobs(job, outcome, this.clock.now(), result, error) : undefined;
  }

  private settle(entry: Running, outcome: Outcome | null): void {
    entry.cancelTimeout?.();
    const { job } = entry;
    // Built only when logged: at info level most jobs log only their completion.
    const fields = () => ({ jobId: job.id, queue: job.queue, task: job.task, attempt: job.attempts, durationMs: this.clock.now() - entry.startedAt });
    if (outcome === null || entry.lost) {
      this.log.warn(fields(), 'lease lost; outcome dropped (another worker owns the job now)');
      this.announce(entry, null);
      this.release(job.id);
      return;
    }
    this.announce(entry, outcome);
    switch (outcome.kind) {
      case 'completed':
        if (this.logsInfo()) this.log.info(fields(), 'job completed');
        break;
      case 'retry':
        this.log.warn({ ...fields(), err: outcome.error.message, retryAt: outcome.retryAt }, 'job failed; will retry');
        break;
      case 'failed':
        this.log.error({ ...fields(), err: outcome.error.message }, 'job failed');
        break;
      case 'cancelled':
        this.log.info(fields(), 'job cancelled');
        break;
      case 'released':
        this.log.info(fields(), 'job given back to the queue');
        break;
    }
    this.outbox.push(outcome);
    // The slot frees only once the outcome is stored (flush releases it), so a claim never races its own finish.
    this.flush();
  }

  /** Emit the lifecycle event of an attempt's end; null: the lease was lost. Builds nothing when nobody listens. */
  private announce(entry: Running, outcome: Outcome | null): void {
    const name: AttemptEndName = outcome === null ? 'job.lost' : ATTEMPT_END_EVENT[outcome.kind];
    if (!this.lifecycle.has(name)) return;
    const { job } = entry;
    const at = outcome?.at ?? this.clock.now();
    const end = { job, attempt: job.attempts, workerId: this.id, at, durationMs: at - entry.startedAt };
    switch (outcome?.kind) {
      case 'completed':
        return this.lifecycle.emit('job.completed', { ...end, result: outcome.result });
      case 'retry':
        return this.lifecycle.emit('job.retrying', { ...end, error: outcome.error, retryAt: outcome.retryAt });
      case 'failed':
        return this.lifecycle.emit('job.failed', { ...end, error: outcome.error });
      case 'cancelled':
        return this.lifecycle.emit('job.cancelled', { ...end, error: outcome.error ?? { message: 'job cancelled', retryable: false } });
      default:
        return this.lifecycle.emit(name as 'job.released' | 'job.lost', end);
    }
  }

  private release(id: string, wake = true): void {
    this.running.delete(id);
    if (this.running.size === 0) {
      for (const r of this.idleResolvers.splice(0)) r();
    }
    if (wake) this.wake();
  }

  /**
   * Store buffered outcomes. Up to maxFlights batches are in the air at once, each also claiming
   * the slots it frees (finishAndClaim), so a busy worker pays one round trip per cycle and, on a
   * remote store, runs one batch of jobs while the store applies the other.
   */
  private flush(): void {
    if (this.flushPending || this.flights >= this.maxFlights || this.outbox.length === 0) return;
    // One macrotask turn lets outcomes of jobs finishing together join this batch; not worth
    // waiting for when every running job not already being stored has its outcome here.
    if (this.outbox.length < this.running.size - this.storing) {
      this.flushPending = true;
      setImmediate(() => {
        this.flushPending = false;
        this.launch();
      });
    } else this.launch();
  }

  /**
   * Send buffered outcomes, a flight's worth at a time, while flights are free. Flights sent
   * together reach Redis in one read and are answered together at the end of its event-loop turn;
   * they then land in one tick and, sent together again, stay in step, each waiting out the other's
   * script (25-30% of a busy worker's socket reads carried two answers). So when no flight is in
   * the air, the first goes now and the rest half a round trip later: the offset two alternating
   * flights keep by themselves (c=50 on Redis: +9% jobs/s over 16 paired runs).
   */
  private launch(): void {
    if (this.spacing) return;
    const per = this.maxFlights > 1 ? Math.ceil(this.concurrency / this.maxFlights) : Infinity;
    if (this.flights === 0 && this.outbox.length > per && this.flightRttMs > 0) {
      void this.fly(this.outbox.splice(0, per));
      this.spacing = true;
      after(this.flightRttMs / 2, () => {
        this.spacing = false;
        this.launch();
      });
      return;
    }
    while (this.outbox.length > 0 && this.flights < this.maxFlights) void this.fly(this.outbox.splice(0, per));
  }

  private async fly(batch: Outcome[]): Promise<void> {
    this.flights++;
    this.storing += batch.length;
    // Claim the batch's slots again in the same store call, unless pump is claiming right now.
    // The claim's slots are reserved until it lands, so running - storing + reserved never
    // exceeds concurrency, however many flights are in the air.
    const free = this.concurrency - (this.running.size - this.storing) - this.reserved;
    const finishAndClaim = this.store.capabilities.finishAndClaim;
    const combine = finishAndClaim !== undefined && this.state === 'running' && !this.claiming && free > 0;
    const limit = combine ? Math.min(free, this.batchSize) : 0;
    this.reserved += limit;
    let claimed: { jobs: Job[]; nextWakeAt: number | null } | null = null;
    const sentAt = performance.now();
    let retried = false;
    for (let tries = 0; ; tries++) {
      try {
        if (combine) {
          const req = this.claimRequest(limit, this.clock.now());
          claimed = (await finishAndClaim!({ outcomes: batch, claim: req })).claim;
        } else {
          await this.store.finishJobs({ outcomes: batch });
        }
        this.storeErrors = 0;
        break;
      } catch (err) {
        retried = true;
        // The leases still protect these jobs (heartbeats go on extending them): keep trying until the
        // store answers or the last of them ends. After that the store refuses the stale tokens anyway
        // and stall recovery takes the jobs back.
        const leaseLeft = this.leaseEnd(batch) - this.clock.now();
        const message = (err as Error)?.message;
        if (leaseLeft <= 0 || this.state === 'stopped') {
          this.log.error(
            { workerId: this.id, err: message, outcomes: batch.length, jobIds: batch.map((o) => o.id), tries: tries + 1 },
            'gave up storing outcomes: their leases ended; recovery will take the jobs back',
          );
          break;
        }
        this.log.warn({ workerId: this.id, err: message, outcomes: batch.length, tries: tries + 1 }, 'could not store outcomes; retrying');
        const { firstMs, maxMs } = this.outcomeRetry;
        const wait = Math.min(maxMs, firstMs * 2 ** Math.min(tries, 30), leaseLeft);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    if (!retried) {
      const rtt = performance.now() - sentAt;
      this.flightRttMs = this.flightRttMs === 0 ? rtt : this.flightRttMs * 0.9 + rtt * 0.1;
    }
    this.flights--;
    this.storing -= batch.length;
    this.reserved -= limit;
    // Free the whole batch's slots at once, so a pump after this claims one full batch.
    // After a combined claim the store has just said how much work there is: no extra claim unless
    // it filled every slot or a wake came meanwhile (pumpAgain, acted on below).
    for (const o of batch) this.release(o.id, !claimed);
    if (claimed) {
      // Run them even if a stop began meanwhile: stop() then gives them back as released, not stalled.
      for (const job of claimed.jobs) this.run(job);
      if (claimed.jobs.length === limit) this.pumpAgain = true;
      else this.wakeAt(Math.min(claimed.nextWakeAt ?? Infinity, this.clock.now() + this.pollMs));
    }
    for (const r of this.landed.splice(0)) r();
    this.flush();
    if (this.pumpAgain) this.wake();
  }

  /** The latest lease end among a batch's jobs; -Infinity when every lease is already lost. */
  private leaseEnd(batch: Outcome[]): number {
    let end = -Infinity;
    for (const o of batch) {
      const entry = this.running.get(o.id);
      if (entry && !entry.lost) end = Math.max(end, entry.leaseUntil);
    }
    return end;
  }

  /** Resolves once every buffered outcome is stored. */
  private async drain(): Promise<void> {
    while (this.flights > 0 || this.outbox.length > 0) {
      const landed = new Promise<void>((r) => this.landed.push(r));
      if (this.flights === 0) this.launch();
      await landed;
    }
  }

  private armHeartbeat(): void {
    const tick = () => {
      if (this.state === 'stopped') return;
      void this.beat().finally(() => {
        if (this.state !== 'stopped') this.heartbeatCancel = this.clock.at(this.clock.now() + this.heartbeatMs, tick);
      });
    };
    this.heartbeatCancel = this.clock.at(this.clock.now() + this.heartbeatMs, tick);
    void this.beatWorker();
  }

  private async beat(): Promise<void> {
    const leases = [...this.running.values()].map((r) => ({ id: r.job.id, token: r.job.leaseToken! }));
    await this.beatWorker();
    if (leases.length === 0) return;
    try {
      const now = this.clock.now();
      const res = await this.store.heartbeatJobs({ leases, leaseMs: this.leaseMs, now });
      for (const r of res) {
        const entry = this.running.get(r.id);
        if (!entry) continue;
        if (!r.ok) {
          entry.lost = true;
          entry.attempt.abort(new LeaseLostError('lease lost'));
        } else {
          entry.leaseUntil = now + this.leaseMs;
          if (r.cancelRequested) entry.attempt.abort(new CancelledError('job cancelled'));
        }
      }
    } catch (err) {
      this.log.error({ workerId: this.id, err: (err as Error)?.message }, 'heartbeat failed');
    }
  }

  private async beatWorker(): Promise<void> {
    const now = this.clock.now();
    await this.store
      .beatWorker(
        { worker: {
          id: this.id, host: hostname(), pid: process.pid, queues: this.queues, concurrency: this.concurrency,
          running: this.runningIds(), startedAt: this.startedAt, lastSeenAt: now,
        },
        ttlMs: this.heartbeatMs * 3 },
      )
      .catch(() => {});
  }
}

const ATTEMPT_END_EVENT: Record<Outcome['kind'], AttemptEndName> = {
  completed: 'job.completed', retry: 'job.retrying', failed: 'job.failed', cancelled: 'job.cancelled', released: 'job.released',
};

/**
 * Run fn after ms of real time. Node's timers count whole milliseconds, so a shorter wait turns the
 * event loop with setImmediate until it is over; each turn still serves I/O.
 */
function after(ms: number, fn: () => void): void {
  if (ms >= 1) {
    setTimeout(fn, Math.min(ms, 50));
    return;
  }
  const until = performance.now() + ms;
  const turn = () => (performance.now() < until ? setImmediate(turn) : fn());
  setImmediate(turn);
}

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

  get log(): (message: string) => Promise<void> {
    return (this.logFn ??= (message) => this.store.logJob({ id: this.job.id, message: String(message), now: this.clock.now() }));
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
    Promise.resolve(value).then((v) => this.end(true, v), (e) => this.end(false, e));
  }

  private end(ok: boolean, value: unknown): void {
    const done = this.done;
    if (!done) return;
    this.done = null;
    if (this.aborted) done(false, this.reason);
    else done(ok, value);
  }
}

export function toJobError(err: unknown): JobError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const details = (err as { details?: unknown }).details;
    return {
      message: err.message || err.name,
      name: err.name,
      stack: err.stack,
      retryable: isRetryable(err),
      ...(typeof code === 'string' ? { code } : {}),
      ...(details && typeof details === 'object' && !Array.isArray(details) ? { details: details as Record<string, unknown> } : {}),
    };
  }
  return { message: typeof err === 'string' ? err : JSON.stringify(err) ?? String(err), retryable: isRetryable(err) };
}
