// The SQLite store: one file, WAL, every contract operation one IMMEDIATE transaction, so several
// processes may share the file. better-sqlite3 is synchronous; the async signatures are the
// contract's, shared with network stores. This class is the facade: each operation is a function of
// the connection (connection.ts) in the module of its concern:
//   jobs-in.ts    adding jobs                   claim.ts     claim, finish, heartbeat, recover, promote
//   operator.ts   cancel, retry, ... , clean    lists.ts     get, list (keyset cursors), count, logs
//   queues.ts     pause, resume, options        schedules.ts schedules and their advance
//   workers.ts    the worker registry           watch.ts     other processes' commits as events
//   statements.ts every prepared statement      migrate.ts   numbered schema migrations (migrations/*.sql)
import type { Job, LogLine } from '../../core/job.js';
import type {
  AddJobs, AdvanceSchedule, BeatWorker, ClaimRequest, ClaimResult, CleanQuery, CountJobs, DueSchedules,
  FinishAndClaimJobs, FinishAnswer, FinishJobs, HeartbeatJobs, HeartbeatResult, JobAction, JobRef, ListQuery, ListWorkers, LogJob,
  Page, ProgressJob, PromoteDueJobs, QueueAction, QueueInfo, RecoverExpiredJobs, RecoverResult, RescheduleJob, RetryJob,
  RemoveSchedule, SaveSchedule, ScheduleRecord, ScheduleRef, SetQueueOptions, SharedState, StateCounts, Store, StoreCapabilities,
  StoreListener, WorkerInfo, WorkerRef,
} from '../../core/store.js';
import type Database from 'better-sqlite3';
import * as claim from './claim.js';
import { SqliteConnection } from './connection.js';
import { addJobs, type AddedJob } from './jobs-in.js';
import * as lists from './lists.js';
import { schemaVersion } from './migrate.js';
import * as operator from './operator.js';
import * as queues from './queues.js';
import * as schedules from './schedules.js';
import { SqliteSharedState } from './shared-state.js';
import { CrossProcessWatcher } from './watch.js';
import * as workers from './workers.js';
import { DiskFullError, DiskReserve } from './disk-reserve.js';
import { isStoreFull } from '../../core/store-errors.js';

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
  /**
   * Room kept on the database's disk for the jobs under way when it fills (disk-reserve.ts): a
   * file of this many MB next to the database, freed at the first write a full disk refuses, so
   * heartbeats and outcomes go on while adds wait (store_full). Default 8; 0 keeps none.
   */
  reserveMb?: number;
}

const NO_CLAIM: ClaimResult = { jobs: [], nextWakeAt: null };

export class SqliteStore implements Store {
  readonly capabilities: StoreCapabilities = { finishAndClaim: (p) => this.finishAndClaimJobs(p) };
  private readonly conn: SqliteConnection;
  private readonly watcher: CrossProcessWatcher;
  private checkpointTimer: NodeJS.Timeout | null = null;
  private sharedState?: SqliteSharedState;
  private readonly reserve: DiskReserve | null;

  constructor(readonly path: string, opts: SqliteStoreOptions = {}) {
    this.conn = new SqliteConnection(path, opts);
    const reserveMb = path === ':memory:' ? 0 : opts.reserveMb ?? 8;
    this.reserve = reserveMb > 0 ? new DiskReserve(`${path}-reserve`, reserveMb * 1048576) : null;
    this.watcher = new CrossProcessWatcher(this.conn, path === ':memory:' ? 0 : opts.watchMs ?? 4);
    const checkpointMs = path === ':memory:' ? 0 : opts.checkpointMs ?? 1000;
    if (checkpointMs > 0) this.checkpointEvery(checkpointMs);
  }

  get db(): Database.Database {
    return this.conn.db;
  }

  get shared(): SharedState {
    return (this.sharedState ??= new SqliteSharedState(this.conn.db));
  }

  /** The file's schema version: the last migration applied (migrations/NNN_*.sql). */
  schemaVersion(): number {
    return schemaVersion(this.conn.db);
  }

  private checkpointEvery(ms: number): void {
    const db = this.conn.db;
    db.pragma('wal_autocheckpoint = 8000');
    const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
    this.checkpointTimer = setInterval(() => {
      // PASSIVE never waits on other connections; with nothing new in the WAL it is a no-op.
      try {
        if (db.open) checkpoint.get();
      } catch {
        // busy: the next tick (or a commit at 8,000 pages) does it
      }
    }, ms);
    this.checkpointTimer.unref();
  }

  /**
   * New work (adds, claims, promotions, a schedule's runs, log lines): refused while the disk's
   * reserve is in use; a full disk it meets frees the reserve for the work under way (disk-reserve.ts).
   */
  private newWork<T>(run: () => T): T {
    if (this.reserve?.full) throw new DiskFullError();
    try {
      return run();
    } catch (err) {
      if (isStoreFull(err)) this.reserve?.release();
      throw err;
    }
  }

  /** Work under way (heartbeats, outcomes, recovery, retention): a full disk frees the reserve, and it goes again once. */
  private workUnderWay<T>(run: () => T): T {
    try {
      return run();
    } catch (err) {
      if (!isStoreFull(err) || !this.reserve?.release()) throw err;
      return run();
    }
  }

  // Not async: an async function's promise and frame for each add (a lone add awaits one), and the
  // answer is ready at once. A throw still comes back as a rejection.
  addJobs({ jobs, now }: AddJobs): Promise<AddedJob[]> {
    try {
      return Promise.resolve(this.newWork(() => addJobs(this.conn, jobs, now)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async claimJobs(req: ClaimRequest): Promise<ClaimResult> {
    return this.newWork(() => claim.claimJobs(this.conn, req));
  }

  /** While the disk is full, the outcomes alone: the claim would take the room they need. */
  async finishAndClaimJobs({ outcomes, claim: req }: FinishAndClaimJobs): Promise<{ applied: FinishAnswer[]; claim: ClaimResult }> {
    if (!this.reserve?.full) {
      try {
        return claim.finishAndClaimJobs(this.conn, outcomes, req);
      } catch (err) {
        if (!isStoreFull(err)) throw err;
        this.reserve?.release();
      }
    }
    return { applied: await this.finishJobs({ outcomes }), claim: NO_CLAIM };
  }

  async finishJobs({ outcomes }: FinishJobs): Promise<FinishAnswer[]> {
    return this.workUnderWay(() => claim.finishJobs(this.conn, outcomes));
  }

  async heartbeatJobs({ leases, leaseMs, now }: HeartbeatJobs): Promise<HeartbeatResult[]> {
    return this.workUnderWay(() => claim.heartbeatJobs(this.conn, leases, leaseMs, now));
  }

  async progressJob({ lease, progress, now }: ProgressJob): Promise<boolean> {
    return this.workUnderWay(() => claim.progressJob(this.conn, lease, progress, now));
  }

  async logJob({ id, message, now }: LogJob): Promise<void> {
    this.newWork(() => claim.logJob(this.conn, id, message, now));
  }

  async recoverExpiredJobs({ now, limit = 1000 }: RecoverExpiredJobs): Promise<RecoverResult> {
    return this.workUnderWay(() => claim.recoverExpiredJobs(this.conn, now, limit));
  }

  async promoteDueJobs({ now, limit = 10_000 }: PromoteDueJobs): Promise<number> {
    return this.newWork(() => claim.promoteDueJobs(this.conn, now, limit));
  }

  async getJob({ id }: JobRef): Promise<Job | null> {
    return lists.getJob(this.conn, id);
  }

  async listJobs(q: ListQuery): Promise<Page<Job>> {
    return lists.listJobs(this.conn, q);
  }

  async countJobs({ queue }: CountJobs = {}): Promise<Record<string, StateCounts>> {
    return lists.countJobs(this.conn, queue);
  }

  async jobLogs({ id }: JobRef): Promise<LogLine[]> {
    return lists.jobLogs(this.conn, id);
  }

  async cancelJob({ id, now }: JobAction): Promise<Job> {
    return this.workUnderWay(() => operator.cancelJob(this.conn, id, now));
  }

  async rescheduleJob({ id, runAt, now }: RescheduleJob): Promise<Job> {
    return operator.rescheduleJob(this.conn, id, runAt, now);
  }

  async promoteJob({ id, now }: JobAction): Promise<Job> {
    return operator.promoteJob(this.conn, id, now);
  }

  async retryJob({ id, now, resetAttempts }: RetryJob): Promise<Job> {
    return operator.retryJob(this.conn, id, now, resetAttempts !== false);
  }

  async removeJob({ id, now }: JobAction): Promise<void> {
    this.workUnderWay(() => operator.removeJob(this.conn, id, now));
  }

  async cleanJobs(q: CleanQuery): Promise<number> {
    return this.workUnderWay(() => operator.cleanJobs(this.conn, q));
  }

  async pauseQueue({ queue, now }: QueueAction): Promise<void> {
    queues.pauseQueue(this.conn, queue, now);
  }

  async resumeQueue({ queue, now }: QueueAction): Promise<void> {
    queues.resumeQueue(this.conn, queue, now);
  }

  async setQueueOptions({ queue, options, now }: SetQueueOptions): Promise<void> {
    queues.setQueueOptions(this.conn, queue, options, now);
  }

  async listQueues(): Promise<QueueInfo[]> {
    return queues.listQueues(this.conn);
  }

  async saveSchedule(p: SaveSchedule): Promise<ScheduleRecord> {
    return schedules.saveSchedule(this.conn, p);
  }

  async getSchedule({ id }: ScheduleRef): Promise<ScheduleRecord | null> {
    return schedules.getSchedule(this.conn, id);
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return schedules.listSchedules(this.conn);
  }

  async removeSchedule({ id, expected }: RemoveSchedule): Promise<boolean> {
    return schedules.removeSchedule(this.conn, id, expected);
  }

  async dueSchedules({ now, limit }: DueSchedules): Promise<ScheduleRecord[]> {
    return schedules.dueSchedules(this.conn, now, limit);
  }

  async nextScheduleAt(): Promise<number | null> {
    return schedules.nextScheduleAt(this.conn);
  }

  async advanceSchedule(p: AdvanceSchedule): Promise<boolean> {
    return this.newWork(() => schedules.advanceSchedule(this.conn, p));
  }

  async beatWorker({ worker, ttlMs }: BeatWorker): Promise<void> {
    this.workUnderWay(() => workers.beatWorker(this.conn, worker, ttlMs));
  }

  async removeWorker({ id }: WorkerRef): Promise<void> {
    workers.removeWorker(this.conn, id);
  }

  async listWorkers({ now }: ListWorkers): Promise<WorkerInfo[]> {
    return workers.listWorkers(this.conn, now);
  }

  subscribe(listener: StoreListener): () => void {
    this.conn.listeners.add(listener);
    this.watcher.start();
    return () => {
      this.conn.listeners.delete(listener);
      if (this.conn.listeners.size === 0) this.watcher.stop();
    };
  }

  async ping(): Promise<void> {
    this.conn.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.conn.listeners.clear();
    this.watcher.stop();
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    if (this.conn.db.open) this.conn.db.close();
  }
}
