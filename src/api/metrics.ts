// Prometheus metrics for one server (its own registry, so several servers in one process do not clash).
// Job outcomes come from store events: with Redis those are every process's events, so each API
// instance reports the cluster's outcomes (aggregate with max, not sum); with SQLite, this process's.
// Attempts run by this process's workers are also known from their lifecycle events, which come
// first: their task and handler duration are taken from there (no store read, no claim-to-store lag).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store, StoreEvent } from '../core/store.js';
import { CounterTally, LocalHistogram, type CountCell, type HistogramCell } from './tally.js';
import { JOB_STATES } from '../core/job.js';
import type { AttemptEnd, Lifecycle } from '../core/lifecycle.js';
import { hostBreakers } from '../channels/http/host-breaker.js';

/**
 * Bounded map in two generations: when the young one is full it becomes the old one and the previous
 * old one is dropped whole, so memory stays flat whatever the event rate. (Evicting the oldest key one
 * at a time through a Map iterator walks the deletion tombstones: ~30 µs per insert once full.)
 */
export class Bounded<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private readonly half: number;

  constructor(cap: number) {
    this.half = Math.max(1, Math.floor(cap / 2));
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  get(k: string): V | undefined {
    const v = this.young.get(k);
    return v !== undefined ? v : this.old.get(k);
  }

  set(k: string, v: V): void {
    if (this.young.size >= this.half && !this.young.has(k)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(k, v);
  }

  delete(k: string): void {
    this.young.delete(k);
    this.old.delete(k);
  }
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const LATENESS_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300];

/** Jobs whose task the metrics remember (for outcomes reported without one): this many indexed, as many more waiting to be. */
const TASK_MEMORY = 100_000;

/**
 * Label sets the job metrics keep apart: (queue, task) pairs for the job counters and attempt
 * durations, queues for the lateness histogram. Clients name queues freely, and a series once shown
 * must stay (a counter only goes up): past the cap, new ones count under OTHER.
 */
export const MAX_JOB_SERIES = 1000;
/** The label value of what is past the cap; no queue or task name can be it (queueName's pattern). */
export const OTHER = '(other)';

/** The label sets admitted so far, at most `max`: one admitted stays admitted. */
class SeriesCap {
  private seen = new Set<string>();

  constructor(private readonly max: number) {}

  admit(key: string): boolean {
    if (this.seen.has(key)) return true;
    if (this.seen.size >= this.max) return false;
    this.seen.add(key);
    return true;
  }
}

/** Task reads in flight at once for outcomes of jobs created elsewhere (each a store round trip or two). */
export const TASK_LOOKUP_BATCH = 64;

/** The fusion_host_breakers gauge reads the store at most this often. */
const BREAKERS_READ_MS = 5_000;

export class ApiMetrics {
  readonly registry = new Registry();
  readonly enqueued: Counter<'queue' | 'task'>;
  readonly completed: Counter<'queue' | 'task'>;
  readonly failed: Counter<'queue' | 'task'>;
  readonly retried: Counter<'queue' | 'task'>;
  readonly snoozed: Counter<'queue' | 'task'>;
  readonly attemptDuration: Histogram<'queue' | 'task' | 'outcome'>;
  /** Observed for every created job (a schedule occurrence's lateness comes with its creation): kept locally. */
  readonly lateness: LocalHistogram;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: LocalHistogram;
  private tasks = new Bounded<string>(TASK_MEMORY);
  /**
   * Jobs created here whose task is not in `tasks` yet: id, task, id, task, ... in creation order.
   * A Map insert per created job was ~1 µs of POST /v1/jobs (a cache miss or two in a table of
   * up to 50,000 entries), and most of those entries were never read: this process's own workers
   * report the task with the outcome (lifecycle), and an API process running no workers on SQLite
   * hears no outcomes at all. So the pairs are appended here (sequential memory) and indexed only
   * when an outcome's task is missing from `tasks`; the oldest half goes at TASK_MEMORY jobs.
   */
  private unindexed: string[] = [];
  private startedAt = new Bounded<number>(100_000);
  private dueAt = new Bounded<number>(100_000);
  /** Handler durations (ms) of attempts this process ran, until their store event comes. */
  private ranMs = new Bounded<number>(100_000);
  /** Outcomes of jobs whose task this process does not know, waiting for a store read. */
  private lookups: { e: StoreEvent; durationMs: number | undefined }[] = [];
  private lookingUp = false;
  private readonly maxLookups: number;
  private unsubscribe: (() => void) | null = null;
  private readonly lifecycle?: Lifecycle;
  // The per-request counts live in tallies, handed to prom-client when /metrics is read.
  private enqueuedTally: CounterTally<'queue' | 'task'>;
  private requestTally: CounterTally<'method' | 'route' | 'status'>;
  private routeCellsGen = 0;
  private queueCellsGen = 0;
  private queueCells = new Map<string, Map<string, CountCell>>();
  private routeCells = new Map<string, Map<string, { duration: HistogramCell; statuses: Map<number, CountCell> }>>();
  private jobSeries = new SeriesCap(MAX_JOB_SERIES);
  private latenessSeries = new SeriesCap(MAX_JOB_SERIES);

  constructor(
    private readonly store: Store,
    opts: {
      defaultMetrics?: boolean; waiting?: () => number; lagMs?: () => number; lifecycle?: Lifecycle;
      /** The clock queued jobs' ages are measured by (the store's times; default the machine's). */
      now?: () => number;
      /** Outcomes whose task may wait for a store read; beyond, they count under task 'unknown'. */
      maxTaskLookups?: number;
    } = {},
  ) {
    this.lifecycle = opts.lifecycle;
    this.maxLookups = opts.maxTaskLookups ?? 10_000;
    const r = [this.registry];
    const jobLabels = ['queue', 'task'] as const;
    const flushEnqueued = () => this.enqueuedTally.flush();
    this.enqueued = new Counter({ name: 'fusion_jobs_enqueued_total', help: 'Jobs created through this API', labelNames: jobLabels, registers: r, collect: flushEnqueued });
    this.enqueuedTally = new CounterTally(this.enqueued);
    this.completed = new Counter({ name: 'fusion_jobs_completed_total', help: 'Jobs completed', labelNames: jobLabels, registers: r });
    this.failed = new Counter({ name: 'fusion_jobs_failed_total', help: 'Jobs failed for good (no attempts left or not retryable)', labelNames: jobLabels, registers: r });
    this.retried = new Counter({ name: 'fusion_jobs_retried_total', help: 'Attempts that failed and were scheduled for retry', labelNames: jobLabels, registers: r });
    this.snoozed = new Counter({ name: 'fusion_jobs_snoozed_total', help: 'Attempts that put their job off, no attempt spent (a send rate full, a slow host, a SnoozeError)', labelNames: jobLabels, registers: r });
    this.attemptDuration = new Histogram({
      name: 'fusion_job_attempt_duration_seconds', help: 'Duration of one attempt, by outcome',
      labelNames: ['queue', 'task', 'outcome'], buckets: DURATION_BUCKETS, registers: r,
    });
    this.lateness = new LocalHistogram('fusion_scheduler_lateness_seconds', 'How long after its due time a delayed job or schedule occurrence became runnable', LATENESS_BUCKETS, this.registry);
    const flushRequests = () => this.requestTally.flush();
    this.httpRequests = new Counter({ name: 'fusion_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: r, collect: flushRequests });
    this.requestTally = new CounterTally(this.httpRequests);
    this.httpDuration = new LocalHistogram('fusion_http_request_duration_seconds', 'HTTP request duration', [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 60], this.registry);
    const depth = new Gauge({ name: 'fusion_queue_depth', help: 'Jobs per queue and state', labelNames: ['queue', 'state'], registers: r });
    const oldest = new Gauge({ name: 'fusion_queue_oldest_job_age_seconds', help: 'Age of the oldest queued job', labelNames: ['queue'], registers: r });
    const paused = new Gauge({ name: 'fusion_queue_paused', help: '1 when the queue is paused', labelNames: ['queue'], registers: r });
    // One store read per scrape feeds all three queue gauges.
    let scrape: Promise<void> | null = null;
    const refresh = () =>
      (scrape ??= (async () => {
        try {
          const qs = await store.listQueues();
          const now = (opts.now ?? Date.now)();
          depth.reset();
          oldest.reset();
          paused.reset();
          for (const q of qs) {
            for (const s of JOB_STATES) depth.set({ queue: q.name, state: s }, q.counts[s]);
            oldest.set({ queue: q.name }, q.oldestQueuedAt === null ? 0 : Math.max(0, (now - q.oldestQueuedAt) / 1000));
            paused.set({ queue: q.name }, q.paused ? 1 : 0);
          }
        } finally {
          scrape = null;
        }
      })());
    // prom-client calls collect() on each gauge; they share one read.
    (depth as unknown as { collect: () => Promise<void> }).collect = refresh;
    (oldest as unknown as { collect: () => Promise<void> }).collect = refresh;
    (paused as unknown as { collect: () => Promise<void> }).collect = refresh;
    // Breakers per destination host (webhooks and callbacks), by state: read from the shared state at
    // most every BREAKERS_READ_MS (a report reads each listed host's record), however often scraped.
    const breakers = new Gauge({ name: 'fusion_host_breakers', help: 'Destination hosts of webhooks and callbacks whose breaker opened lately, by state (open, half-open, closed)', labelNames: ['state'], registers: r });
    let breakersReadAt = -Infinity;
    (breakers as unknown as { collect: () => Promise<void> }).collect = async () => {
      const now = (opts.now ?? Date.now)();
      if (now - breakersReadAt < BREAKERS_READ_MS) return;
      breakersReadAt = now;
      const views = await hostBreakers(store.shared, now);
      for (const state of ['open', 'half-open', 'closed'] as const) breakers.set({ state }, views.filter((b) => b.state === state).length);
    };
    if (opts.waiting) {
      const waiting = opts.waiting;
      new Gauge({ name: 'fusion_api_long_polls', help: 'Requests waiting on a job (?wait=)', registers: r, collect() { this.set(waiting()); } });
    }
    if (opts.lagMs) {
      // Always exposed (Node's own nodejs_eventloop_lag_* come only with the process metrics).
      const lagMs = opts.lagMs;
      new Gauge({ name: 'fusion_event_loop_lag_seconds', help: 'Event-loop lag: worst timer delay of the last second (what /readyz checks)', registers: r, collect() { this.set(lagMs() / 1000); } });
    }
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'fusion_' });
  }

  start(): this {
    if (this.unsubscribe) return this;
    // Only events naming a job are counted: on PostgreSQL, other processes' adds need not notify us.
    const offs = [this.store.subscribe((e) => this.onEvent(e), { jobEventsOnly: true })];
    if (this.lifecycle) {
      const ran = (e: AttemptEnd) => {
        this.tasks.set(e.job.id, e.job.task);
        this.ranMs.set(e.job.id, e.durationMs);
      };
      offs.push(this.lifecycle.on('job.completed', ran), this.lifecycle.on('job.retrying', ran), this.lifecycle.on('job.failed', ran), this.lifecycle.on('job.snoozed', ran));
    }
    this.unsubscribe = () => offs.forEach((off) => off());
    return this;
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** The API knows the task of what it creates; remembering it saves a store read per outcome. */
  created(queue: string, task: string, jobId: string): void {
    const u = this.unindexed;
    if (u.length >= 2 * TASK_MEMORY) u.splice(0, TASK_MEMORY);
    u.push(jobId, task);
    // Cells by queue then task through nested maps, as in request(): no key string per job.
    if (this.enqueuedTally.generation !== this.queueCellsGen) {
      this.queueCells.clear();
      this.queueCellsGen = this.enqueuedTally.generation;
    }
    let cell = this.queueCells.get(queue)?.get(task);
    if (cell === undefined) {
      // A pair past the cap is not kept here either: these maps would grow with the names.
      if (!this.jobSeries.admit(`${queue}\u0000${task}`)) [queue, task] = [OTHER, OTHER];
      let byTask = this.queueCells.get(queue);
      if (byTask === undefined) this.queueCells.set(queue, (byTask = new Map()));
      cell = byTask.get(task);
      if (cell === undefined) byTask.set(task, (cell = this.enqueuedTally.cell(`${queue}\u0000${task}`, () => ({ queue, task }))));
    }
    cell.n++;
  }

  /** The task of a job this process created or ran, if still remembered. */
  private taskOf(id: string): string | undefined {
    const task = this.tasks.get(id);
    if (task !== undefined || this.unindexed.length === 0) return task;
    this.indexCreated();
    return this.tasks.get(id);
  }

  /** Move the created jobs' (id, task) pairs into `tasks`, in creation order (a later pair wins). */
  private indexCreated(): void {
    const u = this.unindexed;
    this.unindexed = [];
    for (let i = 0; i < u.length; i += 2) this.tasks.set(u[i]!, u[i + 1]!);
  }

  /**
   * A removed or cancelled job's task is forgotten. Its pair may still wait unindexed, and indexed
   * later it would outlive the delete: an id made again by another process, with another task,
   * would count under the old one. So the pairs are indexed first (each pair once, as at creation).
   */
  private forgetTask(id: string): void {
    if (this.unindexed.length > 0) this.indexCreated();
    this.tasks.delete(id);
  }

  /** One finished HTTP request. */
  request(method: string, route: string, status: number, seconds: number): void {
    // Cells by method, route and status through nested maps: no key string built per request.
    const gen = this.requestTally.generation + this.httpDuration.generation;
    if (gen !== this.routeCellsGen) {
      this.routeCells.clear();
      this.routeCellsGen = gen;
    }
    let byRoute = this.routeCells.get(method);
    if (byRoute === undefined) this.routeCells.set(method, (byRoute = new Map()));
    let rc = byRoute.get(route);
    if (rc === undefined) {
      const k = `${method} ${route}`;
      byRoute.set(route, (rc = { duration: this.httpDuration.cell(k, () => ({ method, route })), statuses: new Map() }));
    }
    let count = rc.statuses.get(status);
    if (count === undefined) rc.statuses.set(status, (count = this.requestTally.cell(`${method} ${route} ${status}`, () => ({ method, route, status: String(status) }))));
    count.n++;
    rc.duration.observe(seconds);
  }

  private onEvent(e: StoreEvent): void {
    if (!e.jobId) return;
    switch (e.type) {
      case 'scheduled':
        // A job scheduled while it ran was snoozed: an attempt's end, as a retry is.
        if (this.startedAt.get(e.jobId) !== undefined) void this.outcome(e);
        else if (e.runAt !== undefined) this.dueAt.set(e.jobId, e.runAt);
        return;
      case 'queued': {
        const due = e.runAt ?? this.dueAt.get(e.jobId);
        // Most jobs were never scheduled: no deletes from an empty map for them.
        if (this.dueAt.size > 0) this.dueAt.delete(e.jobId);
        if (due !== undefined && due < e.at) {
          const queue = this.latenessSeries.admit(e.queue) ? e.queue : OTHER;
          this.lateness.cell(queue, () => ({ queue })).observe((e.at - due) / 1000);
        }
        // Back in line without an outcome (stall recovery, a release at shutdown): no attempt runs now,
        // so a later 'scheduled' (an operator's reschedule) is no snooze.
        if (this.startedAt.size > 0) this.startedAt.delete(e.jobId);
        return;
      }
      case 'stalled':
        this.startedAt.delete(e.jobId);
        return;
      case 'active':
        this.startedAt.set(e.jobId, e.at);
        return;
      case 'completed':
      case 'failed':
      case 'retrying':
        void this.outcome(e);
        return;
      case 'removed':
      case 'cancelled':
        this.forgetTask(e.jobId);
        this.startedAt.delete(e.jobId);
        // A retry or snooze the store turned into a cancel left its attempt's duration here.
        this.ranMs.delete(e.jobId);
        return;
    }
  }

  private outcome(e: StoreEvent): void {
    const id = e.jobId!;
    const started = this.startedAt.get(id);
    this.startedAt.delete(id);
    const ranMs = this.ranMs.get(id);
    if (ranMs !== undefined) this.ranMs.delete(id);
    if ((e.type === 'retrying' || e.type === 'scheduled') && e.runAt !== undefined) this.dueAt.set(id, e.runAt);
    const durationMs = ranMs ?? (started !== undefined ? e.at - started : undefined);
    const task = e.task ?? this.taskOf(id);
    if (task !== undefined) return this.count(e, task, durationMs);
    // A job another process created: its task is read from the store, in batches (below). Past the
    // cap the store is far behind us; counting under 'unknown' beats an ever-longer line of reads.
    if (this.lookups.length >= this.maxLookups) return this.count(e, 'unknown', durationMs);
    this.lookups.push({ e, durationMs });
    if (!this.lookingUp) void this.lookUpTasks();
  }

  /**
   * Reads the tasks of pending outcomes, one batch at a time. A store connection answers in order,
   * so every read sent before this process's next add delays that add: fired all at once (one per
   * completion of a busy queue), they once held POST /v1/jobs for ten seconds behind a campaign.
   */
  private async lookUpTasks(): Promise<void> {
    this.lookingUp = true;
    try {
      while (this.lookups.length > 0) {
        const batch = this.lookups.splice(0, TASK_LOOKUP_BATCH);
        const tasks = await Promise.all(batch.map(({ e }) => this.store.getJob({ id: e.jobId! }).then((j) => j?.task ?? 'unknown', () => 'unknown')));
        batch.forEach(({ e, durationMs }, k) => this.count(e, tasks[k]!, durationMs));
      }
    } finally {
      this.lookingUp = false;
    }
  }

  private count(e: StoreEvent, task: string, durationMs: number | undefined): void {
    const snoozed = e.type === 'scheduled';
    if (e.type === 'retrying' || snoozed) this.tasks.set(e.jobId!, task);
    else this.tasks.delete(e.jobId!);
    const labels = this.jobSeries.admit(`${e.queue}\u0000${task}`) ? { queue: e.queue, task } : { queue: OTHER, task: OTHER };
    (e.type === 'completed' ? this.completed : e.type === 'failed' ? this.failed : snoozed ? this.snoozed : this.retried).inc(labels);
    if (durationMs !== undefined) this.attemptDuration.observe({ ...labels, outcome: snoozed ? 'snoozed' : e.type }, Math.max(0, durationMs) / 1000);
  }
}
