// Worker: wires the three parts of src/core/worker/ and keeps their shared state (running,
// stopping, stopped). The producer decides when to claim and claims; the executor runs each job
// it gets (handler, signal, timeout, lease heartbeat) and decides its outcome; the completer stores
// outcomes in batches, claiming the freed slots in the same call when the store can. The worker
// itself starts and stops them and keeps this process's entry in the store's worker list.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DEFAULTS } from './job.js';
import { systemClock, type Clock } from './clock.js';
import { silentLogger, type Logger } from './logger.js';
import type { TaskRegistry } from './registry.js';
import type { Store } from './store.js';
import { Lifecycle } from './lifecycle.js';
import { MAX_WORKER_SLOTS, checkWorkerOptions } from './worker-options.js';
import { Producer } from './worker/producer.js';
import { Executor, ReleasedError } from './worker/executor.js';
import { makeCompleter, type Completer } from './worker/completer.js';

export { toJobError } from './worker/executor.js';

/** Every number a whole one, checked at construction (worker-options.ts): a value out of range is refused, invalid_request. */
export interface WorkerOptions {
  /** Queue names, each once. */
  queues: string[];
  /** 1 to 100,000; default 1. */
  concurrency?: number;
  /** Lease length, at least 1000 ms; a worker that stops heartbeating loses its jobs after this long. */
  leaseMs?: number;
  /** Heartbeat period, 10 ms to half the lease; default a third of the lease. */
  heartbeatMs?: number;
  /** Longest idle wait without an event, for changes made by other processes; at least 10 ms. */
  pollMs?: number;
  /** Claim at most this many jobs in one store call (1 to 100,000). */
  batchSize?: number;
  /**
   * Outcome batches in flight at once. Default 2 on a remote store (see capabilities.pipelined): while the
   * store applies one batch, the worker runs the jobs claimed with the other. 1 otherwise.
   */
  pipeline?: number;
  /**
   * Jobs a worker may lease beyond its concurrency, claimed ahead so a handler slot that frees starts
   * its next job at once instead of a round trip later (each waits in the worker for a slot, highest
   * priority first). At most what the slots get through in one store round trip (measured), so such a
   * job waits about one round trip at most. Default: twice the concurrency on a remote store
   * (capabilities.pipelined: Redis, PostgreSQL; at concurrency 50 two batches of 75 in the air instead
   * of 25; at concurrency 1 the next job runs while the last outcome's commit is on its way), 0
   * otherwise. Jobs still start in the store's claim order: on a store whose calls may apply out of
   * order (not inOrder) only one claim is in the air at a time. A stopping worker gives back what waits at once.
   */
  prefetch?: number;
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

export type WorkerState = 'idle' | 'running' | 'stopping' | 'stopped';

export class Worker {
  readonly id: string;
  readonly queues: string[];
  readonly concurrency: number;
  /** The stop under way or done: every later stop() waits for it. */
  private stopping: Promise<void> | null = null;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly producer: Producer;
  private readonly executor: Executor;
  private readonly completer: Completer;
  private heartbeatCancel: (() => void) | null = null;
  /** A started worker keeps its process alive until stopped; its other timers are unref'd. */
  private keepAlive: NodeJS.Timeout | null = null;
  state: WorkerState = 'idle';
  readonly startedAt: number;
  /** Lifecycle events of this worker's attempts and of the worker itself (src/core/lifecycle.ts). */
  readonly lifecycle: Lifecycle;

  constructor(private store: Store, registry: TaskRegistry, opts: WorkerOptions) {
    // Before any timer or claim: a NaN (a Number() of an unset variable), 0 or a fraction went into them as given.
    checkWorkerOptions(opts);
    this.queues = [...opts.queues];
    this.concurrency = opts.concurrency ?? 1;
    this.leaseMs = opts.leaseMs ?? DEFAULTS.leaseMs;
    this.heartbeatMs = opts.heartbeatMs ?? Math.floor(this.leaseMs / 3);
    this.clock = opts.clock ?? store.clock ?? systemClock; // a shared store's: its server's time
    this.log = opts.logger ?? silentLogger;
    const random = opts.random ?? Math.random;
    this.id = opts.id ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.startedAt = this.clock.now();
    this.lifecycle = opts.lifecycle ?? new Lifecycle(this.log);
    const common = { store, workerId: this.id, clock: this.clock, log: this.log };
    const prefetch = opts.prefetch ?? Math.min(MAX_WORKER_SLOTS, store.capabilities.pipelined ? 2 * this.concurrency : 0);
    this.executor = new Executor({
      ...common, registry, leaseMs: this.leaseMs, random, lifecycle: this.lifecycle, concurrency: this.concurrency, prefetch,
      onOutcome: (outcome) => this.completer.add(outcome),
      onFreed: () => this.producer.wake(),
    });
    this.producer = new Producer({
      ...common, queues: this.queues, weights: opts.weights, random, leaseMs: this.leaseMs,
      batchSize: opts.batchSize ?? 100,
      pollMs: opts.pollMs ?? 1000,
      // A claim of its own (a wake, a timer, the poll) asks for free slots only; claims riding on
      // outcome batches reach ahead (executor.room), as those batches keep coming while jobs run.
      freeSlots: () => this.concurrency - this.executor.active,
      outcomesInFlight: () => this.completer.inFlight,
      accepting: () => this.state === 'running',
      holds: (id) => this.executor.has(id),
      run: (job) => this.executor.start(job),
      cancel: (id) => this.executor.cancel(id),
      queueChanged: (queue) => this.executor.releaseWaiting(queue),
    });
    // A store where each call is a round trip keeps two outcome batches in the air; a local one, one.
    const batchesInFlight = opts.pipeline ?? (store.capabilities.pipelined ? 2 : 1);
    this.completer = makeCompleter({
      ...common, executor: this.executor, producer: this.producer,
      outcomeRetry: opts.outcomeRetry ?? { firstMs: 50, maxMs: 5000 },
    }, batchesInFlight, this.concurrency + prefetch);
  }

  /** Jobs running now (and jobs whose outcome is being stored: they hold their slot until then). */
  get active(): number {
    return this.executor.active;
  }

  runningIds(): string[] {
    return this.executor.ids();
  }

  start(): this {
    if (this.state !== 'idle' || this.keepAlive) return this;
    this.keepAlive = setInterval(() => {}, 1 << 30);
    // A lease written on a clock that does not know the store's time yet could be minutes off.
    if (this.clock.synced === false && this.clock.ready) {
      void this.clock.ready().then(() => this.begin());
      return this;
    }
    this.begin();
    return this;
  }

  private begin(): void {
    if (this.state !== 'idle') return; // stopped while it waited for the clock
    this.state = 'running';
    this.producer.open();
    this.armHeartbeat();
    this.log.info({ workerId: this.id, queues: this.queues, concurrency: this.concurrency }, 'worker started');
    this.lifecycle.emit('worker.up', { workerId: this.id, queues: this.queues, concurrency: this.concurrency, at: this.clock.now() });
    this.wake();
  }

  /**
   * Stop claiming, wait up to graceMs for running jobs, then give back (re-queue) what still runs.
   * Resolves when every outcome is stored (a batch the store keeps refusing is tried while its
   * leases last: heartbeats go on until then; a full store's, up to a minute past them: completer.ts).
   */
  async stop(graceMs = 10_000): Promise<void> {
    // A second stop (fusion.close() after the application's own) waits for the first, once: it
    // only cuts the grace short when it gives a shorter one (a second Ctrl-C).
    if (this.stopping) {
      const cut = setTimeout(() => this.executor.abortAll(new ReleasedError('worker shutting down')), graceMs);
      try {
        return await this.stopping;
      } finally {
        clearTimeout(cut);
      }
    }
    this.stopping = this.stopOnce(graceMs);
    return this.stopping;
  }

  private async stopOnce(graceMs: number): Promise<void> {
    if (this.state === 'stopped' || this.state === 'idle') {
      this.state = 'stopped';
      clearInterval(this.keepAlive ?? undefined);
      return;
    }
    clearInterval(this.keepAlive ?? undefined);
    if (this.state !== 'stopping') {
      this.state = 'stopping';
      this.log.info({ workerId: this.id, running: this.executor.active, graceMs }, 'worker stopping');
    }
    // Jobs claimed ahead that have not started go back to their queue now, not after the grace, and
    // so do jobs that a claim still in the air (or riding on an outcome batch) brings from now on.
    this.executor.releaseWaiting();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
    // A claim in the air is waited for within the grace only: a store that does not answer (down,
    // or a connection gone quiet) must not hold the stop, nor keep running jobs from their abort.
    // Should it answer later, its jobs still go straight back (the executor is closing).
    try {
      await this.producer.stopClaiming(grace);
      if (this.executor.active > 0) {
        await Promise.race([this.executor.whenIdle(), grace]);
        this.executor.abortAll(new ReleasedError('worker shutting down'));
        await this.executor.whenIdle();
      }
    } finally {
      clearTimeout(timer);
    }
    await this.completer.drain();
    this.heartbeatCancel?.();
    this.producer.close();
    this.state = 'stopped';
    await this.store.removeWorker({ id: this.id }).catch(() => {});
    this.log.info({ workerId: this.id }, 'worker stopped');
    this.lifecycle.emit('worker.down', { workerId: this.id, queues: this.queues, at: this.clock.now(), startedAt: this.startedAt });
  }

  /** Ask for a claim soon; many wakes in one tick make one claim. */
  wake(): void {
    this.producer.wake();
  }

  /** One timer for both heartbeats: this worker's entry in the worker list, then its jobs' leases. */
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
    await this.beatWorker();
    await this.executor.extendLeases(this.leaseMs);
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
