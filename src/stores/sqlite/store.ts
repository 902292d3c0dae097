// The SQLite store: one file, WAL, every contract operation one IMMEDIATE transaction,
// so several processes may share the file. better-sqlite3 is synchronous; the async
// signatures are the contract's, shared with network stores.
import { guardAction } from '../../core/state-rules.js';
import Database from 'better-sqlite3';
import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Job, JobState, NewJob, LogLine, JobError } from '../../core/job.js';
import { FINISHED_STATES, isFinished, newJobView, JOB_STATES } from '../../core/job.js';
import { notFound, FusionError } from '../../core/errors.js';
import type {
  ClaimRequest, ClaimResult, CleanQuery, HeartbeatResult, ListQuery, Outcome, Page, QueueInfo, RecoverResult,
  ScheduleRecord, StateCounts, Store, StoreEvent, StoreListener, WorkerInfo,
} from '../../core/store.js';
import type {
  AddJobs, AdvanceSchedule, BeatWorker, CountJobs, DueSchedules, FinishAndClaimJobs, FinishJobs,
  HeartbeatJobs, JobAction, JobRef, ListWorkers, LogJob, ProgressJob, PromoteDueJobs, QueueAction,
  RecoverExpiredJobs, RescheduleJob, RetryJob, SaveSchedule, ScheduleRef, SetQueueOptions, WorkerRef,
  StoreCapabilities,
} from '../../core/store.js';
import { ScheduleConflict, WORK_EVENTS, emptyCounts } from '../../core/store.js';
import { MIGRATE_FROM_FIRST, SCHEMA, STATE_INDEX, WORK_LOG_KEEP } from './schema.js';
import { afterCursor, orderBy, parseStateCursor, stateCursor } from '../list-order.js';
import { SqliteSharedState } from './shared-state.js';
import type { SharedState } from '../../core/store.js';
import { JOB_COLUMNS, fromRaw, rowToJob, type JobRow } from './rows.js';

export interface SqliteStoreOptions {
  /** NORMAL (default): a commit survives a process crash, the last ones may be lost on power failure.
   *  FULL: fsync on every commit, nothing lost on power failure, slower. */
  synchronous?: 'NORMAL' | 'FULL';
  busyTimeoutMs?: number;
  /**
   * While someone subscribes, check whether another connection committed, and emit events for jobs
   * it added, so workers in other processes start them at once instead of at their next poll: on
   * each change of the -wal file where the file system reports changes (inotify), and from a timer
   * every 5 × watchMs as the fallback (every watchMs where there are no such reports). 0 turns it
   * off. Default 4; the check is one PRAGMA when nothing changed.
   */
  watchMs?: number;
  /**
   * Checkpoint the WAL from a timer this often (ms) instead of inside whichever commit crosses
   * SQLite's 1000-page mark: that commit paid the checkpoint's fsyncs (~3-4 ms), which set the p99
   * enqueue→start latency. A commit still checkpoints at 8,000 pages if the timer cannot keep up.
   * 0 leaves SQLite's default. Default 1000: a checkpoint writes each page changed since the last
   * once (and syncs), and the same few index pages change at every commit, so fewer checkpoints
   * write less. From 250 to 1000 ms: webhook deliveries 64-68 → 57-61 µs CPU each (4 paired runs).
   */
  checkpointMs?: number;
}

type Row = Record<string, unknown>;

/**
 * A claim reads the jobs it takes (`pickSql`, in claim order) and then leases each by seq (`take`),
 * with no RETURNING: SQLite runs a RETURNING clause as a trigger program per row that fills a
 * temporary b-tree, and `seq IN (subquery)` builds another one, at every claim. Read then update,
 * inside the claim's IMMEDIATE transaction, is as atomic and cost a claim-and-finish transaction
 * 14-29% less CPU (measured, one job per claim).
 *
 * The pick has its LIMIT written in. A LIMIT bound as a parameter costs a re-prepare of the
 * statement at every run: SQLite's planner reads a bound LIMIT's value to estimate rows, so each
 * new binding expires the plan (~100 µs for the former claim UPDATE and its ten indexes, measured;
 * a literal LIMIT: ~10-20 µs). Claims of up to CLAIM_LITERAL_MAX jobs get a statement per size;
 * larger ones take the LIMIT through a subquery, which the planner does not read.
 */
const pickSql = (limit: string) =>
  `SELECT * FROM jobs WHERE state = 'queued' AND queue = ? ORDER BY priority DESC, seq LIMIT ${limit}`;
const CLAIM_LITERAL_MAX = 256;

export class SqliteStore implements Store {
  readonly capabilities: StoreCapabilities = { finishAndClaim: (p) => this.finishAndClaimJobs(p) };
  readonly db: Database.Database;
  private listeners = new Set<StoreListener>();
  private tokenPrefix = randomBytes(6).toString('base64url');
  private tokenSeq = 0;
  private st: ReturnType<SqliteStore['prepare']>;
  private readonly watchMs: number;
  private watchTimer: NodeJS.Timeout | null = null;
  private fileWatch: FSWatcher | null = null;
  private checkQueued = false;
  private checkpointTimer: NodeJS.Timeout | null = null;
  private dataVersion = 0;
  /** Highest seq already reported (or present when watching began). */
  private seenSeq = 0;
  /** Highest work_log seq already read. */
  private seenWork = 0;
  /** Rows this connection inserted: their events were emitted at commit, the watcher skips them. */
  private ownSeqs = new Set<number>();
  private pendingOwn: number[] = [];
  private sharedState?: SqliteSharedState;
  /** One transaction wrapper for every call: better-sqlite3 builds a new one per db.transaction() (~4% of a c=1 cycle). */
  private readonly runTx: Database.Transaction<(fn: () => unknown) => unknown>;
  /** Claim picks by literal LIMIT (see pickSql). */
  private pickBySize = new Map<number, Database.Statement>();
  /**
   * Queues whose row this connection has seen: an add to one skips the ensure-queue INSERT. No
   * operation deletes a queue row, so once seen it stays.
   */
  private knownQueues = new Set<string>();
  /** Queues ensured by the transaction under way: known once it commits. */
  private pendingQueues: string[] = [];
  get shared(): SharedState { return (this.sharedState ??= new SqliteSharedState(this.db)); }

  constructor(readonly path: string, opts: SqliteStoreOptions = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`);
    this.db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
    this.db.pragma('temp_store = MEMORY');
    const first = this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'jobs_list'`).get();
    this.db.exec(SCHEMA);
    if (first) this.db.transaction(() => this.db.exec(MIGRATE_FROM_FIRST)).immediate();
    this.st = this.prepare();
    this.runTx = this.db.transaction((fn: () => unknown) => fn());
    const cols = this.st.pick.columns().map((c) => c.name);
    if (cols.join() !== JOB_COLUMNS.join()) throw new Error(`jobs columns are not in the order rows.ts reads: ${cols.join()}`);
    this.watchMs = path === ':memory:' ? 0 : opts.watchMs ?? 4;
    const checkpointMs = path === ':memory:' ? 0 : opts.checkpointMs ?? 1000;
    if (checkpointMs > 0) {
      this.db.pragma('wal_autocheckpoint = 8000');
      const checkpoint = this.db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
      this.checkpointTimer = setInterval(() => {
        // PASSIVE never waits on other connections; with nothing new in the WAL it is a no-op.
        try {
          if (this.db.open) checkpoint.get();
        } catch {
          // busy: the next tick (or a commit at 8,000 pages) does it
        }
      }, checkpointMs);
      this.checkpointTimer.unref();
    }
  }

  private prepare() {
    const d = this.db;
    return {
      insert: d.prepare(`INSERT INTO jobs (id, queue, task, payload, priority, state, max_attempts, backoff, timeout,
        max_stalls, run_at, created_at, description, tags, callbacks, schedule_id)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`),
      byId: d.prepare(`SELECT * FROM jobs WHERE id = ?`),
      ensureQueue: d.prepare(`INSERT INTO queues (name) VALUES (?) ON CONFLICT(name) DO NOTHING`),
      queueRow: d.prepare(`SELECT * FROM queues WHERE name = ?`),
      promoteQueue: d.prepare(`UPDATE jobs SET state = 'queued' WHERE state = 'scheduled' AND queue = ? AND run_at <= ?
        RETURNING id`),
      nextDue: d.prepare(`SELECT min(run_at) AS t FROM jobs WHERE state = 'scheduled' AND queue = ?`),
      activeCount: d.prepare(`SELECT count(*) AS n FROM jobs WHERE queue = ? AND state = 'active'`),
      pick: d.prepare(pickSql('(SELECT ?)')).raw(true),
      // Positional (worker, token, until, now, seq), as the finishes: binding by name costs more.
      take: d.prepare(`UPDATE jobs SET state = 'active', attempts = attempts + 1, worker_id = ?, lease_token = ?,
        lease_until = ?, started_at = ?, cancel_requested = 0 WHERE seq = ?`),
      rateUse: d.prepare(`UPDATE queues SET rate_window_start = ?, rate_count = ? WHERE name = ?`),
      heartbeat: d.prepare(`UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_token = ? AND state = 'active'
        RETURNING cancel_requested`),
      // The finishes change a job only under its lease. They return nothing: the job's queue, for the
      // event, is read first (jobQueue), as RETURNING costs a trigger program and a temporary
      // b-tree per run (see pickSql).
      jobQueue: d.prepare(`SELECT queue FROM jobs WHERE id = ?`).pluck(),
      // Positional (result, at, at, id, token): the hottest statement, and binding by name costs more.
      complete: d.prepare(`UPDATE jobs SET state = 'completed', result = ?, ended_at = ?, lease_token = NULL,
        lease_until = NULL, worker_id = NULL, error = NULL,
        history = ${closeAttempt(`'completed'`, '?')}
        WHERE id = ? AND lease_token = ? AND state = 'active'`),
      retry: d.prepare(`UPDATE jobs SET state = 'scheduled', run_at = @retryAt, error = @error, lease_token = NULL,
        lease_until = NULL, worker_id = NULL,
        history = ${closeAttempt(`'retrying'`, '@at', true)}
        WHERE id = @id AND lease_token = @token AND state = 'active'`),
      endWith: d.prepare(`UPDATE jobs SET state = @state, error = @error, ended_at = @at, lease_token = NULL,
        lease_until = NULL, worker_id = NULL,
        history = ${closeAttempt('@state', '@at', true)}
        WHERE id = @id AND lease_token = @token AND state = 'active'`),
      release: d.prepare(`UPDATE jobs SET state = 'queued', attempts = max(attempts - 1, 0), lease_token = NULL,
        lease_until = NULL, worker_id = NULL,
        history = ${closeAttempt(`'released'`)}
        WHERE id = @id AND lease_token = @token AND state = 'active'`),
      progress: d.prepare(`UPDATE jobs SET progress = ? WHERE id = ? AND lease_token = ? AND state = 'active' RETURNING queue`),
      log: d.prepare(`INSERT INTO job_logs (job_id, at, message) VALUES (?, ?, ?)`),
      logs: d.prepare(`SELECT at, message FROM job_logs WHERE job_id = ? ORDER BY rowid`),
      // LIMIT through a subquery: a bound LIMIT re-prepares the statement at each run (see pickSql).
      expired: d.prepare(`SELECT * FROM jobs WHERE state = 'active' AND lease_until < ? ORDER BY lease_until LIMIT (SELECT ?)`),
      stallRequeue: d.prepare(`UPDATE jobs SET state = 'queued', attempts = max(attempts - 1, 0), stalls = stalls + 1,
        lease_token = NULL, lease_until = NULL, worker_id = NULL,
        history = ${closeAttempt(`'stalled'`)}
        WHERE seq = @seq`),
      stallEnd: d.prepare(`UPDATE jobs SET state = @state, stalls = stalls + @stall, error = @error, ended_at = @at,
        lease_token = NULL, lease_until = NULL, worker_id = NULL,
        history = ${closeAttempt('@outcome', '@at', true)}
        WHERE seq = @seq`),
      queueNames: d.prepare(`SELECT name FROM queues`),
      setState: d.prepare(`UPDATE jobs SET state = @state, run_at = @runAt, ended_at = @endedAt, cancel_requested = @cr
        WHERE id = @id RETURNING *`),
      requestCancel: d.prepare(`UPDATE jobs SET cancel_requested = 1 WHERE id = ? RETURNING *`),
      retryJob: d.prepare(`UPDATE jobs SET state = 'queued', run_at = @now, ended_at = NULL, error = NULL, result = NULL,
        cancel_requested = 0, stalls = 0, attempts = CASE WHEN @reset THEN 0 ELSE attempts END,
        max_attempts = CASE WHEN @reset THEN max_attempts ELSE max(max_attempts, attempts + 1) END
        WHERE id = @id RETURNING *`),
      remove: d.prepare(`DELETE FROM jobs WHERE id = ?`),
      removeLogs: d.prepare(`DELETE FROM job_logs WHERE job_id = ?`),
      // One count per state's own partial index (jobs_queue holds no state).
      counts: d.prepare(JOB_STATES.map((st) => `SELECT queue, '${st}' AS state, count(*) AS n FROM jobs WHERE state = '${st}' GROUP BY queue`)
        .join(' UNION ALL ')),
      countsOf: d.prepare(JOB_STATES.map((st) => `SELECT '${st}' AS state, count(*) AS n FROM jobs WHERE state = '${st}' AND queue = @q`)
        .join(' UNION ALL ')),
      oldestQueued: d.prepare(`SELECT queue, min(created_at) AS t FROM jobs WHERE state = 'queued' GROUP BY queue`),
      allQueues: d.prepare(`SELECT * FROM queues ORDER BY name`),
      schedGet: d.prepare(`SELECT * FROM schedules WHERE id = ?`),
      schedAll: d.prepare(`SELECT * FROM schedules ORDER BY id`),
      schedUpsert: d.prepare(`INSERT INTO schedules (id, spec, next_run_at, paused, run_count, last_run_at, created_at,
        updated_at, version) VALUES (@id, @spec, @nextRunAt, @paused, @runCount, @lastRunAt, @now, @now, 1)
        ON CONFLICT(id) DO UPDATE SET spec = excluded.spec, next_run_at = excluded.next_run_at, paused = excluded.paused,
        run_count = coalesce(@runCountSet, run_count), last_run_at = coalesce(@lastRunAtSet, last_run_at),
        updated_at = excluded.updated_at, version = version + 1 RETURNING *`),
      schedRemove: d.prepare(`DELETE FROM schedules WHERE id = ?`),
      schedDue: d.prepare(`SELECT * FROM schedules WHERE paused = 0 AND next_run_at IS NOT NULL AND next_run_at <= ?
        ORDER BY next_run_at LIMIT (SELECT ?)`),
      schedNext: d.prepare(`SELECT min(next_run_at) AS t FROM schedules WHERE paused = 0 AND next_run_at IS NOT NULL`),
      schedAdvance: d.prepare(`UPDATE schedules SET next_run_at = @nextRunAt, run_count = @runCount,
        last_run_at = @lastRunAt, updated_at = @now, version = version + 1 WHERE id = @id AND version = @version`),
      workerBeat: d.prepare(`INSERT INTO workers (id, info, expires_at) VALUES (?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET info = excluded.info, expires_at = excluded.expires_at`),
      workerGone: d.prepare(`DELETE FROM workers WHERE id = ?`),
      workersLive: d.prepare(`SELECT info FROM workers WHERE expires_at >= ? ORDER BY id`),
      workersExpire: d.prepare(`DELETE FROM workers WHERE expires_at < ?`),
      dataVersion: d.prepare(`PRAGMA data_version`).pluck(),
      maxSeq: d.prepare(`SELECT coalesce(max(seq), 0) FROM jobs`).pluck(),
      addedSince: d.prepare(`SELECT seq, id, queue, run_at, created_at FROM jobs WHERE seq > ? ORDER BY seq LIMIT 1000`),
      shareWork: d.prepare(`INSERT INTO work_log (origin, type, queue, job_id, at, run_at) VALUES (?, ?, ?, ?, ?, ?)`),
      trimWork: d.prepare(`DELETE FROM work_log WHERE seq <= ?`),
      maxWork: d.prepare(`SELECT coalesce(max(seq), 0) FROM work_log`).pluck(),
      workSince: d.prepare(`SELECT seq, origin, type, queue, job_id, at, run_at FROM work_log WHERE seq > ? ORDER BY seq LIMIT 1000`),
    };
  }

  private emit(events: StoreEvent[]): void {
    if (this.listeners.size === 0 || events.length === 0) return;
    for (const l of this.listeners) for (const e of events) l(e);
  }

  private tx<T>(fn: () => T): T {
    try {
      const out = this.runTx.immediate(fn) as T;
      if (this.pendingOwn.length) for (const seq of this.pendingOwn.splice(0)) this.ownSeqs.add(seq);
      if (this.pendingQueues.length) for (const q of this.pendingQueues.splice(0)) this.knownQueues.add(q);
      return out;
    } catch (err) {
      this.pendingOwn.length = 0;
      this.pendingQueues.length = 0;
      throw err;
    }
  }

  /**
   * Inside a transaction: record the work events an UPDATE made, so watchers in other processes
   * wake for them as they do for new rows (a retried job starts at once, not at the next poll).
   */
  private shareWork(events: StoreEvent[]): void {
    for (const e of events) {
      if (!WORK_EVENTS.has(e.type)) continue;
      const seq = Number(this.st.shareWork.run(this.tokenPrefix, e.type, e.queue, e.jobId ?? null, e.at, e.runAt ?? null).lastInsertRowid);
      if (seq % 1000 === 0) this.st.trimWork.run(seq - WORK_LOG_KEEP);
    }
  }

  private mustGet(id: string): JobRow {
    const row = this.st.byId.get(id) as JobRow | undefined;
    if (!row) throw notFound('job', id);
    return row;
  }

  private insertJobs(jobs: NewJob[], now: number, events: StoreEvent[]): { job: Job; created: boolean }[] {
    const queues = new Set<string>();
    const out: { job: Job; created: boolean }[] = [];
    for (const j of jobs) {
      if (!queues.has(j.queue)) {
        queues.add(j.queue);
        if (!this.knownQueues.has(j.queue)) {
          this.st.ensureQueue.run(j.queue);
          this.pendingQueues.push(j.queue);
        }
      }
      const state: JobState = j.runAt > now ? 'scheduled' : 'queued';
      // Positional: binding a named-parameter object costs ~1 µs more per row.
      const info = this.st.insert.run(
        j.id, j.queue, j.task, JSON.stringify(j.payload ?? null), j.priority, state, j.maxAttempts, JSON.stringify(j.backoff),
        j.timeout, j.maxStalls, j.runAt, j.createdAt, j.description, j.tags.length ? JSON.stringify(j.tags) : null,
        j.callbacks ? JSON.stringify(j.callbacks) : null, j.scheduleId,
      );
      if (info.changes === 1) {
        if (this.watchTimer) this.pendingOwn.push(Number(info.lastInsertRowid));
        out.push({ job: newJobView(j, state), created: true });
        events.push({ type: state, queue: j.queue, jobId: j.id, at: now, runAt: j.runAt });
      } else {
        out.push({ job: rowToJob(this.mustGet(j.id)), created: false });
      }
    }
    return out;
  }

  async addJobs({ jobs, now }: AddJobs) {
    const events: StoreEvent[] = [];
    const out = this.tx(() => this.insertJobs(jobs, now, events));
    this.emit(events);
    return out;
  }

  async claimJobs(req: ClaimRequest): Promise<ClaimResult> {
    const events: StoreEvent[] = [];
    const result = this.tx(() => this.claimIn(req, events));
    this.emit(events);
    return result;
  }

  /** Outcomes and the next claim in one transaction: one commit per worker cycle instead of two. */
  async finishAndClaimJobs({ outcomes, claim: req }: FinishAndClaimJobs): Promise<{ applied: boolean[]; claim: ClaimResult }> {
    const events: StoreEvent[] = [];
    const result = this.tx(() => {
      const applied = this.finishIn(outcomes, events);
      return { applied, claim: this.claimIn(req, events) };
    });
    this.emit(events);
    return result;
  }

  private claimIn(req: ClaimRequest, events: StoreEvent[]): ClaimResult {
    const token = `${this.tokenPrefix}.${(this.tokenSeq++).toString(36)}`;
    const jobs: Job[] = [];
    let nextWakeAt: number | null = null;
    const wakeAt = (t: number | null) => {
      if (t !== null && (nextWakeAt === null || t < nextWakeAt)) nextWakeAt = t;
    };
    for (const queue of req.queues) {
      const q = this.st.queueRow.get(queue) as Row | undefined;
      if (!q) continue;
      this.knownQueues.add(queue);
      if (q.paused) continue;
      // Promote only when something is due: a read on the due index costs less than an UPDATE that
      // opens every index to change nothing, which is most claims.
      let due = (this.st.nextDue.get(queue) as { t: number | null }).t;
      if (due !== null && due <= req.now) {
        for (const r of this.st.promoteQueue.all(queue, req.now) as { id: string }[]) {
          events.push({ type: 'queued', queue, jobId: r.id, at: req.now });
        }
        due = (this.st.nextDue.get(queue) as { t: number | null }).t;
      }
      wakeAt(due);
      let n = req.limit - jobs.length;
      if (n <= 0) continue;
      if (q.concurrency != null) {
        const active = (this.st.activeCount.get(queue) as { n: number }).n;
        n = Math.min(n, (q.concurrency as number) - active);
      }
      let windowStart = q.rate_window_start as number;
      let used = q.rate_count as number;
      if (q.rate_max != null) {
        const win = q.rate_window_ms as number;
        if (req.now >= windowStart + win) {
          windowStart = req.now;
          used = 0;
        }
        const left = (q.rate_max as number) - used;
        if (left <= n) wakeAt(windowStart + win);
        n = Math.min(n, left);
      }
      if (n <= 0) continue;
      const picked = (Number.isInteger(n) && n <= CLAIM_LITERAL_MAX ? this.pickOf(n).all(queue) : this.st.pick.all(queue, n)) as unknown[][];
      const until = req.now + req.leaseMs;
      const rows = picked.map((raw) => {
        const r = fromRaw(raw);
        this.st.take.run(req.workerId, token, until, req.now, r.seq);
        // The row as the take left it.
        r.state = 'active';
        r.attempts += 1;
        r.worker_id = req.workerId;
        r.lease_token = token;
        r.lease_until = until;
        r.started_at = req.now;
        r.cancel_requested = 0;
        return r;
      });
      if (q.rate_max != null) this.st.rateUse.run(windowStart, used + rows.length, queue);
      for (const r of rows) {
        jobs.push(rowToJob(r));
        events.push({ type: 'active', queue, jobId: r.id, at: req.now });
      }
      if (jobs.length >= req.limit) break;
    }
    return { jobs, nextWakeAt };
  }

  private pickOf(limit: number): Database.Statement {
    let s = this.pickBySize.get(limit);
    if (!s) {
      s = this.db.prepare(pickSql(String(limit))).raw(true);
      this.pickBySize.set(limit, s);
    }
    return s;
  }

  async heartbeatJobs({ leases, leaseMs, now }: HeartbeatJobs): Promise<HeartbeatResult[]> {
    return this.tx(() =>
      leases.map((l) => {
        const r = this.st.heartbeat.get(now + leaseMs, l.id, l.token) as { cancel_requested: number } | undefined;
        return { id: l.id, ok: r !== undefined, cancelRequested: r ? r.cancel_requested === 1 : false };
      }),
    );
  }

  async finishJobs({ outcomes }: FinishJobs): Promise<boolean[]> {
    const events: StoreEvent[] = [];
    const applied = this.tx(() => this.finishIn(outcomes, events));
    this.emit(events);
    return applied;
  }

  private finishIn(outcomes: Outcome[], events: StoreEvent[]): boolean[] {
    return outcomes.map((o) => {
      const queue = this.st.jobQueue.get(o.id) as string | undefined;
      if (queue === undefined) return false;
      let changes = 0;
      switch (o.kind) {
        case 'completed':
          changes = this.st.complete.run(o.result === undefined ? null : JSON.stringify(o.result), o.at, o.at, o.id, o.token).changes;
          break;
        case 'retry':
          changes = this.st.retry.run({
            id: o.id, token: o.token, at: o.at, retryAt: o.retryAt, error: JSON.stringify(o.error), message: o.error.message, details: detailsOf(o.error),
          }).changes;
          break;
        case 'failed':
        case 'cancelled':
          changes = this.st.endWith.run({
            id: o.id, token: o.token, at: o.at, state: o.kind, error: o.error ? JSON.stringify(o.error) : null, message: o.error?.message ?? null, details: detailsOf(o.error),
          }).changes;
          break;
        case 'released':
          changes = this.st.release.run({ id: o.id, token: o.token, at: o.at }).changes;
          break;
      }
      if (changes === 0) return false;
      const type = o.kind === 'retry' ? 'retrying' : o.kind === 'released' ? 'queued' : o.kind;
      const event: StoreEvent = { type, queue, jobId: o.id, at: o.at, runAt: o.kind === 'retry' ? o.retryAt : undefined };
      events.push(event);
      // A job given back at shutdown is for the workers of other processes.
      if (o.kind === 'released') this.shareWork([event]);
      if (o.enqueue?.length) this.insertJobs(o.enqueue, o.at, events);
      return true;
    });
  }

  async progressJob({ lease, progress, now }: ProgressJob): Promise<boolean> {
    const r = this.st.progress.get(JSON.stringify(progress ?? null), lease.id, lease.token) as { queue: string } | undefined;
    if (r) this.emit([{ type: 'progress', queue: r.queue, jobId: lease.id, at: now, progress }]);
    return r !== undefined;
  }

  async logJob({ id, message, now }: LogJob): Promise<void> {
    this.st.log.run(id, now, message);
  }

  async jobLogs({ id }: JobRef): Promise<LogLine[]> {
    return this.st.logs.all(id) as LogLine[];
  }

  async recoverExpiredJobs({ now, limit = 1000 }: RecoverExpiredJobs): Promise<RecoverResult> {
    const events: StoreEvent[] = [];
    const res: RecoverResult = { requeued: [], failed: [], cancelled: [] };
    this.tx(() => {
      for (const r of this.st.expired.all(now, limit) as JobRow[]) {
        const base = { seq: r.seq, at: now };
        if (r.cancel_requested) {
          const error: JobError = { message: 'cancelled while its worker was lost', retryable: false, name: 'CancelledError' };
          this.st.stallEnd.run({ ...base, state: 'cancelled', stall: 1, error: JSON.stringify(error), outcome: 'stalled', message: error.message, details: null });
          res.cancelled.push(r.id);
          events.push({ type: 'cancelled', queue: r.queue, jobId: r.id, at: now });
        } else if (r.stalls + 1 > r.max_stalls) {
          const error: JobError = {
            message: `job stalled ${r.stalls + 1} times (limit ${r.max_stalls}): its worker lost the lease each time`,
            retryable: false, name: 'StalledError', code: 'stalled',
          };
          this.st.stallEnd.run({ ...base, state: 'failed', stall: 1, error: JSON.stringify(error), outcome: 'stalled', message: error.message, details: null });
          res.failed.push(r.id);
          events.push({ type: 'stalled', queue: r.queue, jobId: r.id, at: now }, { type: 'failed', queue: r.queue, jobId: r.id, at: now });
        } else {
          this.st.stallRequeue.run(base);
          res.requeued.push(r.id);
          events.push({ type: 'stalled', queue: r.queue, jobId: r.id, at: now }, { type: 'queued', queue: r.queue, jobId: r.id, at: now });
        }
      }
      this.shareWork(events);
    });
    this.emit(events);
    return res;
  }

  async promoteDueJobs({ now, limit = 10_000 }: PromoteDueJobs): Promise<number> {
    const events: StoreEvent[] = [];
    this.tx(() => {
      for (const { name } of this.st.queueNames.all() as { name: string }[]) {
        for (const r of this.st.promoteQueue.all(name, now) as { id: string }[]) {
          events.push({ type: 'queued', queue: name, jobId: r.id, at: now });
          if (events.length >= limit) return;
        }
      }
    });
    this.emit(events);
    return events.length;
  }

  async getJob({ id }: JobRef): Promise<Job | null> {
    const row = this.st.byId.get(id) as JobRow | undefined;
    return row ? rowToJob(row) : null;
  }

  async listJobs(q: ListQuery): Promise<Page<Job>> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.queue !== undefined) (where.push('queue = ?'), args.push(q.queue));
    // A known state is written as a literal: only then may the plan use that state's partial index.
    const known = q.state !== undefined && (JOB_STATES as readonly string[]).includes(q.state);
    if (q.state !== undefined) {
      if (known) where.push(`state = '${q.state}'`);
      else (where.push('state = ?'), args.push(q.state));
    }
    if (q.task !== undefined) (where.push('task = ?'), args.push(q.task));
    // One state: that state's own order (list-order.ts); otherwise newest first by seq.
    const state = known ? q.state! : null;
    if (q.cursor !== undefined) {
      if (state) {
        where.push(afterCursor(state, (v) => (args.push(v), '?'), parseStateCursor(q.cursor)));
      } else {
        const seq = Number.parseInt(q.cursor, 36);
        if (!Number.isFinite(seq)) throw new FusionError('invalid_cursor', 'cursor is not one this store gave', { cursor: q.cursor });
        where.push('seq < ?');
        args.push(seq);
      }
    }
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 1000);
    // Each state's order is an index of its own (queue first); naming it makes a bad plan an
    // error, not a scan of the queue's history.
    const index = state && q.queue !== undefined ? `INDEXED BY ${STATE_INDEX[state]}` : '';
    const sql = `SELECT * FROM jobs ${index} ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${state ? orderBy(state) : 'seq DESC'} LIMIT ${limit + 1}`;
    const rows = this.db.prepare(sql).all(...args) as JobRow[];
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(rowToJob), nextCursor: more && last ? (state ? stateCursor(last as unknown as { seq: number }, state) : last.seq.toString(36)) : null };
  }

  async countJobs({ queue }: CountJobs = {}): Promise<Record<string, StateCounts>> {
    const out: Record<string, StateCounts> = {};
    if (queue !== undefined) {
      out[queue] = emptyCounts();
      for (const r of this.st.countsOf.all({ q: queue }) as { state: JobState; n: number }[]) out[queue][r.state] = r.n;
      return out;
    }
    for (const r of this.st.counts.all() as { queue: string; state: JobState; n: number }[]) {
      (out[r.queue] ??= emptyCounts())[r.state] = r.n;
    }
    return out;
  }

  async cancelJob({ id, now }: JobAction): Promise<Job> {
    const events: StoreEvent[] = [];
    const job = this.tx(() => {
      const row = this.mustGet(id);
      if (row.state === 'active') {
        const r = this.st.requestCancel.get(id) as JobRow;
        events.push({ type: 'cancel-requested', queue: row.queue, jobId: id, at: now });
        this.shareWork(events);
        return rowToJob(r);
      }
      guardAction('cancel', id, row.state);
      const r = this.st.setState.get({ id, state: 'cancelled', runAt: row.run_at, endedAt: now, cr: 0 }) as JobRow;
      events.push({ type: 'cancelled', queue: row.queue, jobId: id, at: now });
      return rowToJob(r);
    });
    this.emit(events);
    return job;
  }

  async rescheduleJob({ id, runAt, now }: RescheduleJob): Promise<Job> {
    const events: StoreEvent[] = [];
    const job = this.tx(() => {
      const row = this.mustGet(id);
      guardAction('reschedule', id, row.state);
      const state = runAt > now ? 'scheduled' : 'queued';
      const r = this.st.setState.get({ id, state, runAt, endedAt: null, cr: 0 }) as JobRow;
      events.push({ type: state, queue: row.queue, jobId: id, at: now, runAt });
      this.shareWork(events);
      return rowToJob(r);
    });
    this.emit(events);
    return job;
  }

  async promoteJob({ id, now }: JobAction): Promise<Job> {
    const events: StoreEvent[] = [];
    const job = this.tx(() => {
      const row = this.mustGet(id);
      guardAction('promote', id, row.state);
      const r = this.st.setState.get({ id, state: 'queued', runAt: now, endedAt: null, cr: 0 }) as JobRow;
      events.push({ type: 'queued', queue: row.queue, jobId: id, at: now });
      this.shareWork(events);
      return rowToJob(r);
    });
    this.emit(events);
    return job;
  }

  async retryJob({ id, now, ...opts }: RetryJob): Promise<Job> {
    const events: StoreEvent[] = [];
    const job = this.tx(() => {
      const row = this.mustGet(id);
      guardAction('retry', id, row.state);
      const r = this.st.retryJob.get({ id, now, reset: opts.resetAttempts === false ? 0 : 1 }) as JobRow;
      events.push({ type: 'queued', queue: row.queue, jobId: id, at: now });
      this.shareWork(events);
      return rowToJob(r);
    });
    this.emit(events);
    return job;
  }

  async removeJob({ id, now }: JobAction): Promise<void> {
    const events: StoreEvent[] = [];
    this.tx(() => {
      const row = this.mustGet(id);
      guardAction('remove', id, row.state);
      this.st.remove.run(id);
      this.st.removeLogs.run(id);
      events.push({ type: 'removed', queue: row.queue, jobId: id, at: now });
    });
    this.emit(events);
  }

  async cleanJobs(q: CleanQuery): Promise<number> {
    const states = (q.states ?? FINISHED_STATES).filter((s) => isFinished(s));
    if (states.length === 0) return 0;
    const limit = Math.min(Math.max(q.limit ?? 1000, 1), 100_000);
    return this.tx(() => {
      let removed = 0;
      for (const state of states) {
        const args: unknown[] = [state, q.endedBefore];
        let sql = `SELECT id FROM jobs WHERE state = ? AND ended_at < ?`;
        if (q.queue !== undefined) (sql += ' AND queue = ?'), args.push(q.queue);
        sql += ` LIMIT ${limit - removed}`;
        const ids = (this.db.prepare(sql).all(...args) as { id: string }[]).map((r) => r.id);
        for (const id of ids) {
          this.st.remove.run(id);
          this.st.removeLogs.run(id);
        }
        removed += ids.length;
        if (removed >= limit) break;
      }
      return removed;
    });
  }

  async pauseQueue({ queue, now }: QueueAction): Promise<void> {
    this.tx(() => {
      this.st.ensureQueue.run(queue);
      this.db.prepare(`UPDATE queues SET paused = 1 WHERE name = ?`).run(queue);
    });
    this.emit([{ type: 'paused', queue, at: now }]);
  }

  async resumeQueue({ queue, now }: QueueAction): Promise<void> {
    const events: StoreEvent[] = [{ type: 'resumed', queue, at: now }];
    this.tx(() => {
      this.st.ensureQueue.run(queue);
      this.db.prepare(`UPDATE queues SET paused = 0 WHERE name = ?`).run(queue);
      this.shareWork(events);
    });
    this.emit(events);
  }

  async setQueueOptions({ queue, options: opts, now }: SetQueueOptions): Promise<void> {
    // Options can open room (higher limits): let idle workers, here and in other processes, look again.
    const events: StoreEvent[] = [{ type: 'resumed', queue, at: now }];
    this.tx(() => {
      this.st.ensureQueue.run(queue);
      if (opts.rateLimit !== undefined) {
        this.db.prepare(`UPDATE queues SET rate_max = ?, rate_window_ms = ?, rate_window_start = 0, rate_count = 0 WHERE name = ?`)
          .run(opts.rateLimit?.max ?? null, opts.rateLimit?.windowMs ?? null, queue);
      }
      if (opts.concurrency !== undefined) {
        this.db.prepare(`UPDATE queues SET concurrency = ? WHERE name = ?`).run(opts.concurrency, queue);
      }
      this.shareWork(events);
    });
    this.emit(events);
  }

  async listQueues(): Promise<QueueInfo[]> {
    const counts = await this.countJobs();
    const oldest = new Map((this.st.oldestQueued.all() as { queue: string; t: number }[]).map((r) => [r.queue, r.t]));
    return (this.st.allQueues.all() as Row[]).map((q) => ({
      name: q.name as string,
      paused: q.paused === 1,
      rateLimit: q.rate_max != null ? { max: q.rate_max as number, windowMs: q.rate_window_ms as number } : null,
      concurrency: (q.concurrency as number | null) ?? null,
      counts: counts[q.name as string] ?? emptyCounts(),
      oldestQueuedAt: oldest.get(q.name as string) ?? null,
    }));
  }

  async saveSchedule({ schedule: rec, now, expectedVersion }: SaveSchedule): Promise<ScheduleRecord> {
    const row = this.tx(() => {
      if (expectedVersion !== undefined) {
        const version = (this.st.schedGet.get(rec.id) as Row | undefined)?.version as number | undefined ?? 0;
        if (version !== expectedVersion) throw new ScheduleConflict(rec.id, expectedVersion, version);
      }
      return this.st.schedUpsert.get({
        id: rec.id, spec: JSON.stringify(rec.spec), nextRunAt: rec.nextRunAt, paused: rec.paused ? 1 : 0,
        runCount: rec.runCount ?? 0, lastRunAt: rec.lastRunAt ?? null, now,
        runCountSet: rec.runCount ?? null, lastRunAtSet: rec.lastRunAt ?? null,
      });
    }) as Row;
    return rowToSchedule(row);
  }

  async getSchedule({ id }: ScheduleRef): Promise<ScheduleRecord | null> {
    const r = this.st.schedGet.get(id) as Row | undefined;
    return r ? rowToSchedule(r) : null;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return (this.st.schedAll.all() as Row[]).map(rowToSchedule);
  }

  async removeSchedule({ id }: ScheduleRef): Promise<boolean> {
    return this.st.schedRemove.run(id).changes === 1;
  }

  async dueSchedules({ now, limit }: DueSchedules): Promise<ScheduleRecord[]> {
    return (this.st.schedDue.all(now, limit) as Row[]).map(rowToSchedule);
  }

  async nextScheduleAt(): Promise<number | null> {
    return (this.st.schedNext.get() as { t: number | null }).t;
  }

  async advanceSchedule({ id, expectedVersion, next, jobs, now }: AdvanceSchedule): Promise<boolean> {
    const events: StoreEvent[] = [];
    const ok = this.tx(() => {
      const changed = this.st.schedAdvance.run({ id, version: expectedVersion, now, ...next }).changes === 1;
      if (changed && jobs.length) this.insertJobs(jobs, now, events);
      return changed;
    });
    this.emit(events);
    return ok;
  }

  async beatWorker({ worker: info, ttlMs }: BeatWorker): Promise<void> {
    this.st.workerBeat.run(info.id, JSON.stringify(info), info.lastSeenAt + ttlMs);
  }

  async removeWorker({ id }: WorkerRef): Promise<void> {
    this.st.workerGone.run(id);
  }

  async listWorkers({ now }: ListWorkers): Promise<WorkerInfo[]> {
    this.st.workersExpire.run(now);
    return (this.st.workersLive.all(now) as { info: string }[]).map((r) => JSON.parse(r.info));
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    this.startWatch();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopWatch();
    };
  }

  // Cross-process wake-up. PRAGMA data_version changes only when another connection commits, so a
  // check that finds nothing costs one tiny statement; on a change, jobs added since the last seen
  // seq become 'queued'/'scheduled' events, as if added here. A commit by another process writes
  // the -wal file, so a watch on the directory (inotify) runs the check at once; the timer stays as
  // the fallback where the file system has no such events, and for a check that ran before the
  // writer published its commit. Work an UPDATE made (retry, promote, reschedule, release, lease
  // recovery, a cancel request, a resumed queue) comes from the work_log table the same way.
  private startWatch(): void {
    if (this.watchTimer || this.watchMs <= 0 || !this.db.open) return;
    this.dataVersion = this.st.dataVersion.get() as number;
    this.seenSeq = this.st.maxSeq.get() as number;
    this.seenWork = this.st.maxWork.get() as number;
    this.ownSeqs.clear();
    const wal = `${basename(this.path)}-wal`;
    try {
      this.fileWatch = watch(dirname(this.path), { persistent: false }, (_event, name) => {
        if (name === wal) this.checkSoon();
      });
      // A watch that fails later (directory gone, watch limit) leaves the timer alone, at full rate.
      const fw = this.fileWatch;
      fw.on('error', () => {
        fw.close();
        if (this.fileWatch !== fw) return; // stopped already
        this.fileWatch = null;
        this.armTimer();
      });
    } catch {
      this.fileWatch = null;
    }
    this.armTimer();
  }

  private armTimer(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = setInterval(() => this.checkExternal(), this.fileWatch ? this.watchMs * 5 : this.watchMs);
    this.watchTimer.unref();
  }

  /** One check per turn of the event loop however many file events came in it. */
  private checkSoon(): void {
    if (this.checkQueued) return;
    this.checkQueued = true;
    setImmediate(() => {
      this.checkQueued = false;
      if (this.watchTimer) this.checkExternal();
    });
  }

  private stopWatch(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = null;
    this.fileWatch?.close();
    this.fileWatch = null;
    this.ownSeqs.clear();
  }

  private checkExternal(): void {
    if (!this.db.open) return this.stopWatch();
    const v = this.st.dataVersion.get() as number;
    if (v === this.dataVersion) {
      // Nobody else committed since the last scan: every newer row is ours, so move past them.
      for (const seq of this.ownSeqs) if (seq > this.seenSeq) this.seenSeq = seq;
      this.ownSeqs.clear();
      return;
    }
    this.dataVersion = v;
    const events: StoreEvent[] = [];
    for (;;) {
      const rows = this.st.addedSince.all(this.seenSeq) as { seq: number; id: string; queue: string; run_at: number; created_at: number }[];
      for (const r of rows) {
        this.seenSeq = r.seq;
        if (this.ownSeqs.delete(r.seq)) continue;
        // A job is added scheduled exactly when it is due after its creation time.
        const scheduled = r.run_at > r.created_at;
        events.push({ type: scheduled ? 'scheduled' : 'queued', queue: r.queue, jobId: r.id, at: r.created_at, runAt: r.run_at });
      }
      if (rows.length < 1000) break;
    }
    for (const seq of this.ownSeqs) if (seq <= this.seenSeq) this.ownSeqs.delete(seq);
    for (;;) {
      const rows = this.st.workSince.all(this.seenWork) as {
        seq: number; origin: string; type: StoreEvent['type']; queue: string; job_id: string | null; at: number; run_at: number | null;
      }[];
      for (const r of rows) {
        this.seenWork = r.seq;
        if (r.origin === this.tokenPrefix) continue;
        const e: StoreEvent = { type: r.type, queue: r.queue, at: r.at };
        if (r.job_id !== null) e.jobId = r.job_id;
        if (r.run_at !== null) e.runAt = r.run_at;
        events.push(e);
      }
      if (rows.length < 1000) break;
    }
    this.emit(events);
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.stopWatch();
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    if (this.db.open) this.db.close();
  }
}

function rowToSchedule(r: Row): ScheduleRecord {
  return {
    id: r.id as string,
    spec: JSON.parse(r.spec as string),
    nextRunAt: (r.next_run_at as number | null) ?? null,
    paused: r.paused === 1,
    runCount: r.run_count as number,
    lastRunAt: (r.last_run_at as number | null) ?? null,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
    version: r.version as number,
  };
}


/** The JSON of an error's structured details for the attempt history, or null. */
const detailsOf = (e: JobError | undefined | null): string | null => (e?.details ? JSON.stringify(e.details) : null);

/**
 * SQL that appends the attempt an UPDATE ends to the history column. The history holds ended
 * attempts only; the open one is read from attempts, worker_id and started_at (see rowToJob), so a
 * claim writes no JSON. SET expressions see the row as it was, before the UPDATE clears the lease.
 */
function closeAttempt(outcome: string, at = '@at', withError = false): string {
  const record = (extra: string) => `json_object('attempt', attempts, 'workerId', worker_id, 'startedAt', started_at, 'endedAt', ${at},
      'outcome', ${outcome}${extra})`;
  // A failed attempt keeps its error's message, and its structured details (a delivery's provider,
  // code, retryable) when the error has them: @details is their JSON, or NULL.
  const ended = withError
    ? `CASE WHEN @details IS NULL THEN ${record(`, 'error', @message`)} ELSE ${record(`, 'error', @message, 'details', json(@details)`)} END`
    : record('');
  // Spliced as text, not json_insert: the array is not parsed again for each attempt (~0.8 us, measured).
  return `CASE WHEN history = '[]' THEN '[' ELSE substr(history, 1, length(history) - 1) || ',' END
    || ${ended} || ']'`;
}
