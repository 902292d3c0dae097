// Fusion: the library entry for user code. Opens a store, registers tasks, enqueues, runs workers.
import { Queue } from './core/queue.js';
import { Enqueuer } from './core/enqueue.js';
import { TaskRegistry, type TaskHandler, type TaskOptions } from './core/registry.js';
import { Worker, type WorkerOptions } from './core/worker.js';
import { Maintenance, type MaintenanceOptions } from './core/maintenance.js';
import { Scheduler, type Schedule, type ScheduleInput, type SchedulerOptions } from './core/scheduler.js';
import { systemClock, type Clock } from './core/clock.js';
import { silentLogger, type Logger } from './core/logger.js';
import type { Job, JobSpec } from './core/job.js';
import type { AddOptions, Store } from './core/store.js';
import { CALLBACK_QUEUE, CALLBACK_TASK } from './core/callbacks.js';
import { deliverCallback } from './channels/callback.js';
import { callbackRetry } from './channels/callback-retry.js';
import { CHANNEL_QUEUES } from './channels/queues.js';
import { openStore, type OpenStoreOptions } from './stores/index.js';
import { installChannels, type InstalledChannels } from './channels/index.js';
import { OutgoingGuard } from './channels/http/guard.js';
import type { FusionConfig } from './channels/config-types.js';
import type { ProviderFactory } from './channels/provider.js';
import { providerStates } from './channels/provider-report.js';
import { hostBreakers } from './channels/http/host-breaker.js';
import { EventHub, type EventFilter, type EventHubOptions, type Subscription } from './core/events.js';
import { Lifecycle } from './core/lifecycle.js';
import { traceAttempts, type TelemetryOptions } from './core/telemetry.js';

/** A machine whose clock is this far from the store's gets a warning (Fusion goes by the store's anyway). */
const CLOCK_WARN_MS = 1000;

function clockReport(offsetMs: number): string {
  const apart = offsetMs === 0 ? 'agrees with' : `is ${Math.round(Math.abs(offsetMs) / 1000)} s ${offsetMs > 0 ? 'behind' : 'ahead of'}`;
  return `this machine's clock ${apart} the store's: Fusion goes by the store's`;
}

export interface FusionOptions {
  /** A store URL (sqlite:PATH, redis://...) or a Store. Default sqlite:./data/fusion.db. */
  store?: string | Store;
  storeOptions?: OpenStoreOptions;
  /**
   * Default: the store's clock (Redis, PostgreSQL: the server's time, so processes on machines
   * whose clocks disagree still agree on leases and due times), else this machine's.
   */
  clock?: Clock;
  logger?: Logger;
  /** Providers, routes and the outgoing-HTTP policy (fusion.config.json, loaded). Default: every channel in dry-run. */
  config?: FusionConfig;
  /** Install the delivery channels' tasks (sms, webhook, reminder, ...). Default true. */
  channels?: boolean;
  /** Provider adapters of your own, besides the built-in ones; config picks them by `type`. */
  providers?: ProviderFactory<any>[];
  /** The live event stream (fusion.events(), GET /v1/events): buffer size, per-viewer backlog, polling. */
  events?: EventHubOptions;
  /**
   * OpenTelemetry: a span per attempt through @opentelemetry/api's global tracer (or the one given),
   * exported by whatever tracer provider the application registers. Default off (no listener at all).
   */
  otel?: boolean | TelemetryOptions;
}

export class Fusion {
  readonly registry = new TaskRegistry();
  readonly queue: Queue;
  /** The one way jobs enter the store: the API, enqueue, schedules' runNow and the channels' follow-up jobs use it. */
  readonly enqueuer: Enqueuer;
  private workers = new Set<Worker>();
  private maintenance: Maintenance | null = null;
  private _scheduler: Scheduler | null = null;
  private _events: EventHub | null = null;
  private eventOptions: EventHubOptions = {};
  /** The exporter's detach, when `otel` is on. */
  private stopTracing: (() => void) | null = null;
  private stopClockReport: (() => void) | null = null;
  /**
   * Lifecycle events of this process's workers and scheduler: `fusion.lifecycle.on('job.completed', (e) => ...)`.
   * See src/core/lifecycle.ts for the events and their payloads.
   */
  readonly lifecycle: Lifecycle;
  /** The outgoing-HTTP guard every delivery and callback goes through. */
  readonly guard: OutgoingGuard;
  /** Which channels were installed, and which of them run dry. */
  readonly channels: InstalledChannels;

  private constructor(readonly store: Store, readonly clock: Clock, readonly logger: Logger, readonly config: FusionConfig, withChannels: boolean, factories: ProviderFactory<any>[] = []) {
    this.enqueuer = new Enqueuer(store, { clock, registry: this.registry });
    this.queue = new Queue(store, { clock, registry: this.registry, enqueuer: this.enqueuer });
    this.lifecycle = new Lifecycle(logger);
    this.guard = new OutgoingGuard(config.outgoing);
    this.registry.register(CALLBACK_TASK, deliverCallback({ guard: this.guard, config, clock, shared: store.shared, logger }), { queue: CALLBACK_QUEUE, ...callbackRetry(config) });
    for (const [task, queue] of Object.entries(CHANNEL_QUEUES)) this.registry.declare(task, { queue });
    this.channels = withChannels
      ? installChannels(this.registry, { config, guard: this.guard, dispatcher: this.guard.dispatcher(), store, enqueuer: this.enqueuer, clock, logger, factories })
      : { dryRun: [], tasks: [] };
  }

  static async open(opts: FusionOptions = {}): Promise<Fusion> {
    const store = typeof opts.store === 'object' ? opts.store : await openStore(opts.store, opts.storeOptions);
    const clock = opts.clock ?? store.clock ?? systemClock;
    let f: Fusion;
    try {
      f = new Fusion(store, clock, opts.logger ?? silentLogger, opts.config ?? {}, opts.channels ?? true, opts.providers);
    } catch (err) {
      // A config the constructor refuses: a store opened here from a URL is closed, not left open.
      if (typeof opts.store !== 'object') await store.close().catch(() => {});
      throw err;
    }
    if (clock === store.clock) {
      const shared = store.clock;
      f.stopClockReport = shared.watch((offsetMs, previousMs) => {
        if (Math.abs(offsetMs - previousMs) >= CLOCK_WARN_MS) f.logger.warn({ offsetMs, previousMs }, clockReport(offsetMs));
      });
      const before = shared.offsetMs;
      await shared.start();
      if (!shared.synced) {
        f.logger.warn({ err: shared.lastError?.message }, "the store's clock could not be read yet: workers, lease recovery and the scheduler wait until it can");
      } else if (shared.offsetMs === before && Math.abs(before) >= CLOCK_WARN_MS) { // read before (openStore): not reported yet
        f.logger.warn({ offsetMs: shared.offsetMs }, clockReport(shared.offsetMs));
      }
    }
    f.eventOptions = opts.events ?? {};
    if (opts.otel) f.stopTracing = traceAttempts(f.lifecycle, opts.otel === true ? {} : opts.otel);
    return f;
  }

  /** Register a handler: `task name → async (payload, ctx)`. Options are defaults for its jobs. */
  task<P = any, R = unknown>(name: string, handler: TaskHandler<P, R>, options: TaskOptions = {}): this {
    this.registry.register(name, handler, options);
    return this;
  }

  /** Enqueue a job: `enqueue('send-sms', payload, { priority: 'high' })` or `enqueue({ task, payload, ... })`. */
  enqueue<P>(task: string, payload?: P, opts?: Omit<JobSpec<P>, 'task' | 'payload'>): Promise<Job<P>>;
  /** `enqueue(spec, { tx })`: inside the caller's PostgreSQL transaction (a pg client), committed or rolled back with it. */
  enqueue<P>(spec: JobSpec<P>, opts?: AddOptions): Promise<Job<P>>;
  enqueue<P>(a: string | JobSpec<P>, b?: P | AddOptions, opts: Omit<JobSpec<P>, 'task' | 'payload'> = {}): Promise<Job<P>> {
    if (typeof a === 'string') return this.queue.enqueue({ ...opts, task: a, payload: b as P });
    return this.queue.enqueue(a, b as AddOptions | undefined);
  }

  /** Queues of every registered task, plus `default`. */
  taskQueues(): string[] {
    const qs = new Set(['default']);
    for (const name of this.registry.names()) qs.add(this.registry.get(name)!.options.queue ?? 'default');
    return [...qs];
  }

  /** Start a worker. Without `queues` it serves every registered task's queue. */
  worker(opts: Partial<WorkerOptions> = {}): Worker {
    const w = new Worker(this.store, this.registry, {
      clock: this.clock, logger: this.logger, lifecycle: this.lifecycle, ...opts, queues: opts.queues ?? this.taskQueues(),
    });
    this.workers.add(w);
    // Forgotten once stopped (its last act is worker.down): an application that starts and stops
    // workers, one per tenant say, kept every one it ever made, with its state, until close().
    const off = w.lifecycle.on('worker.down', (e) => {
      if (e.workerId !== w.id) return;
      off();
      this.workers.delete(w);
    });
    return w.start();
  }

  /** Start the maintenance loop (lease recovery, promotion, retention). Workers need one running somewhere. */
  startMaintenance(opts: MaintenanceOptions = {}): Maintenance {
    this.maintenance ??= new Maintenance(this.store, { clock: this.clock, logger: this.logger, registry: this.registry, ...opts }).start();
    return this.maintenance;
  }

  /** Schedule operations (create, update, pause, preview, ...). Firing starts with startScheduler(). */
  get scheduler(): Scheduler {
    return (this._scheduler ??= this.makeScheduler({}));
  }

  private makeScheduler(opts: Omit<SchedulerOptions, 'clock' | 'logger' | 'registry' | 'enqueuer'>): Scheduler {
    return new Scheduler(this.store, { clock: this.clock, logger: this.logger, registry: this.registry, lifecycle: this.lifecycle, enqueuer: this.enqueuer, ...opts });
  }

  /** Create or replace a schedule: `schedule({ id, trigger: { cron: '0 9 * * 1-5', tz: 'Asia/Kolkata' }, template: { task } })`. */
  schedule(input: ScheduleInput): Promise<Schedule> {
    return this.scheduler.create(input);
  }

  /** Start firing due schedules in this process. Any number of processes may run one. */
  startScheduler(opts: Omit<SchedulerOptions, 'clock' | 'logger' | 'registry' | 'enqueuer'> = {}): Scheduler {
    // Options apply to the scheduler this makes; one already made (by schedule operations) keeps its own.
    return (this._scheduler ??= this.makeScheduler(opts)).start();
  }

  /** The live event hub of this Fusion (one store subscription, shared by every viewer). */
  get eventHub(): EventHub {
    const pipelines = this.channels.pipelines ?? [];
    return (this._events ??= new EventHub(this.store, {
      now: () => this.clock.now(),
      providers: pipelines.length ? (now) => providerStates(pipelines, now) : undefined,
      breakers: this.store.shared?.tallies ? (now) => hostBreakers(this.store.shared, now) : undefined,
      lifecycle: this.lifecycle,
      ...this.eventOptions,
    }));
  }

  /**
   * Live events: job state changes and progress, queue pauses, worker arrivals and departures,
   * schedule firings. `for await (const e of fusion.events({ queues: ['sms'] })) ...`; break to stop.
   * A `reset` event means events were missed (the consumer fell behind): reload what you show.
   */
  events(filter: EventFilter = {}, opts: { after?: string } = {}): Subscription {
    return this.eventHub.subscribe(filter, opts.after);
  }

  /** Stop workers (graceful, up to graceMs) and maintenance, then close the store. */
  async close(graceMs = 10_000): Promise<void> {
    this._events?.close();
    await Promise.all([...this.workers].map((w) => w.stop(graceMs)));
    await this.maintenance?.stop();
    await this._scheduler?.stop();
    this.stopTracing?.();
    this.stopClockReport?.();
    await this.store.close();
  }
}
