// Maintenance: returns expired leases to the queue, promotes due jobs (so counts tell the truth
// even with no worker on a queue), and applies retention in bounded batches so it never holds
// the store for long: to finished jobs, and (hourly) to schedules that ended.
import { systemClock, type Clock } from './clock.js';
import { silentLogger, type Logger } from './logger.js';
import type { Store } from './store.js';
import { isStoreFull } from './store-errors.js';
import { callbackJobs } from './callbacks.js';
import type { TaskRegistry } from './registry.js';

export interface RetentionPolicy {
  completedMs: number;
  failedMs: number;
  cancelledMs: number;
  /** Schedules that ended (no next run, not paused: a limit or COUNT reached, an `at` fired), from their last change. */
  endedSchedulesMs: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  completedMs: 24 * 3600_000,
  failedMs: 7 * 24 * 3600_000,
  cancelledMs: 7 * 24 * 3600_000,
  endedSchedulesMs: 7 * 24 * 3600_000,
};

/**
 * How often ended schedules are looked for. The look reads every schedule (the contract has no
 * index of ended ones), so it runs hourly, not every pass; an hour late in a week's retention.
 */
const SCHEDULE_SWEEP_MS = 3600_000;

/**
 * How often the worker registry is read: a read drops the entries of workers whose beats stopped
 * (the store's listWorkers), and nothing else did but a dashboard or GET /v1/workers, so every
 * worker process killed without its clean stop (kill -9, OOM, an evicted pod) stayed for good.
 */
const WORKERS_SWEEP_MS = 60_000;

export interface MaintenanceOptions {
  intervalMs?: number;
  retention?: Partial<RetentionPolicy>;
  /** Rows removed per store call. */
  batch?: number;
  clock?: Clock;
  logger?: Logger;
  /** Task defaults for the failure callbacks of jobs that stalled too often (the callback task's retries). */
  registry?: TaskRegistry;
}

export class Maintenance {
  private cancel: (() => void) | null = null;
  private runningPass: Promise<void> | null = null;
  private readonly intervalMs: number;
  private readonly retention: RetentionPolicy;
  private readonly batch: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly registry?: TaskRegistry;
  /** The last pass found the store full (a step refused for room). */
  private storeFull = false;
  private schedulesSweptAt = -Infinity;
  private workersSweptAt = -Infinity;

  constructor(private store: Store, opts: MaintenanceOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.retention = { ...DEFAULT_RETENTION, ...opts.retention };
    this.batch = opts.batch ?? 1000;
    this.clock = opts.clock ?? store.clock ?? systemClock; // a shared store's: its server's time
    this.log = opts.logger ?? silentLogger;
    this.registry = opts.registry;
  }

  start(): this {
    if (this.cancel) return this;
    if (this.clock.synced === false) void this.clock.ready?.(); // reads the server, if nothing else has
    const tick = () => {
      // A pass on a clock that does not know the store's time yet could take live leases: skip it.
      if (this.clock.synced === false) {
        if (this.cancel) this.cancel = this.clock.at(this.clock.now() + this.intervalMs, tick);
        return;
      }
      this.runningPass = this.runOnce()
        .then(() => undefined)
        .catch((err) => this.log.error({ err: (err as Error).message }, 'maintenance pass failed'))
        .finally(() => {
          this.runningPass = null;
          if (this.cancel) this.cancel = this.clock.at(this.clock.now() + this.intervalMs, tick);
        });
    };
    this.cancel = this.clock.at(this.clock.now(), tick);
    return this;
  }

  async stop(): Promise<void> {
    this.cancel?.();
    this.cancel = null;
    await this.runningPass;
  }

  /** One pass. Returns what it did, for tests and logs. */
  async runOnce(): Promise<{ requeued: number; failed: number; promoted: number; removed: number }> {
    const now = this.clock.now();
    // A full store (Redis at maxmemory refuses promotions, which grow the ready index; a full
    // PostgreSQL disk may refuse recovery too): the pass goes on to retention, which is what frees it.
    let full = false;
    const unlessFull = <T>(step: Promise<T>, none: T): Promise<T> => step.catch((err: unknown) => {
      if (!isStoreFull(err)) throw err;
      // Once an episode, not every pass.
      if (!this.storeFull && !full) this.log.warn({ err: (err as Error).message }, 'the store is full: leases and due jobs wait until it has room; retention goes on');
      full = true;
      return none;
    });
    const rec = await unlessFull(this.store.recoverExpiredJobs({ now, limit: this.batch }), { requeued: [], failed: [], cancelled: [] });
    if (rec.requeued.length || rec.failed.length || rec.cancelled.length) {
      this.log.warn({ requeued: rec.requeued.length, failed: rec.failed.length, cancelled: rec.cancelled.length }, 'recovered expired leases');
    }
    if (rec.failed.length) await unlessFull(this.callBackFailed(rec.failed, now), undefined);
    const promoted = await unlessFull(this.store.promoteDueJobs({ now, limit: this.batch }), 0);
    if (this.storeFull && !full) this.log.info({}, 'the store has room again');
    this.storeFull = full;
    let removed = 0;
    const r = this.retention;
    for (const [state, keep] of [['completed', r.completedMs], ['failed', r.failedMs], ['cancelled', r.cancelledMs]] as const) {
      // Bounded batches, yielding between them, so retention never blocks claims for long.
      for (let i = 0; i < 10; i++) {
        const n = await this.store.cleanJobs({ states: [state], endedBefore: now - keep, limit: this.batch });
        removed += n;
        if (n < this.batch) break;
        await new Promise((res) => setImmediate(res));
      }
    }
    if (now - this.workersSweptAt >= WORKERS_SWEEP_MS) {
      this.workersSweptAt = now;
      await unlessFull(this.store.listWorkers({ now }), []);
    }
    if (now - this.schedulesSweptAt >= SCHEDULE_SWEEP_MS) {
      this.schedulesSweptAt = now;
      await this.removeEndedSchedules(now);
    }
    return { requeued: rec.requeued.length, failed: rec.failed.length, promoted, removed };
  }

  /**
   * A job recovery failed (it stalled too often: its worker died on it each time) has ended as surely
   * as one whose handler threw, and its enqueuer waits for its failure callback all the same (before,
   * none was ever sent). Recovery runs inside each store (SQL, Lua) without the callback task's
   * defaults, so the callbacks are added here, right after it, under the ids callbacks.ts gives: a
   * pass that adds one again adds nothing. A process that dies between the two steps loses them.
   */
  private async callBackFailed(ids: string[], now: number): Promise<void> {
    const jobs = await Promise.all(ids.map((id) => this.store.getJob({ id })));
    // The history before the attempt that ended it, as a worker's outcome sees it (callbacks.ts counts earlier ends).
    const follow = jobs.flatMap((j) => (j?.state === 'failed' && j.callbacks
      ? callbackJobs({ ...j, history: j.history.slice(0, -1) }, 'failed', now, undefined, j.error ?? undefined, this.registry)
      : []));
    if (follow.length) await this.store.addJobs({ jobs: follow, now });
  }

  /**
   * Every /remind_me, every /schedule/ with a repeat, every `at` leaves a schedule that ends: kept
   * for good, they made GET /v1/schedules and the event hub's look at schedules (every 2 s while a
   * dashboard is open) grow with every reminder ever made. Each is removed only while it is still
   * the record read here (version and createdAt), so one updated or made again meanwhile stays.
   */
  private async removeEndedSchedules(now: number): Promise<void> {
    const before = now - this.retention.endedSchedulesMs;
    let n = 0;
    for (const r of await this.store.listSchedules()) {
      if (r.nextRunAt !== null || r.paused || Math.max(r.updatedAt, r.lastRunAt ?? 0) >= before) continue;
      if (await this.store.removeSchedule({ id: r.id, expected: { version: r.version, createdAt: r.createdAt } })) n++;
    }
    if (n > 0) this.log.info({ removed: n }, 'removed schedules that ended');
  }
}
