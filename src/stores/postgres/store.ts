// The PostgreSQL store: a pool of connections, every contract operation one statement (a function
// of the schema for the multi-step ones: claim, finish, the worker's cycle, lease recovery) or one
// short transaction with row locks (operator actions). Claims take rows with FOR UPDATE SKIP LOCKED
// from partial indexes; outcomes travel as one JSON array applied in one UPDATE. Other processes
// learn of new work through LISTEN/NOTIFY on a connection of its own (listen.ts), sent only when a
// store waits (wait-marks.ts). This class is the facade: each operation is a function of the
// context (context.ts: pool, statements, listeners) in the module of its concern:
//   jobs-in.ts    adding jobs (add-one.ts, add-many.ts)   claim.ts     claim, finish, heartbeat, recover, promote
//   operator.ts   cancel, retry, ... , clean              lists.ts     get, list (keyset cursors), count, logs
//   queues.ts     pause, resume, options                  schedules.ts schedules and their advance
//   workers.ts    the worker registry                     events.ts    subscriptions and the LISTEN connection
//   statements.ts every statement's text                  migrate.ts   numbered schema migrations (migrations/*.sql)
import type { SharedClock } from '../../core/shared-clock.js';
import type pg from 'pg';
import type { Job, LogLine } from '../../core/job.js';
import { FusionError } from '../../core/errors.js';
import type {
  AddJobs, AdvanceSchedule, BeatWorker, ClaimRequest, ClaimResult, CleanQuery, CountJobs, DueSchedules,
  FinishAndClaimJobs, FinishAnswer, FinishJobs, HeartbeatJobs, HeartbeatResult, JobAction, JobRef, ListQuery, ListWorkers, LogJob,
  Page, ProgressJob, PromoteDueJobs, QueueAction, QueueInfo, RecoverExpiredJobs, RecoverResult, RescheduleJob, RetryJob,
  RemoveSchedule, SaveSchedule, ScheduleRecord, ScheduleRef, SetQueueOptions, SharedState, StateCounts, Store, StoreCapabilities,
  StoreListener, SubscribeOptions, WorkerInfo, WorkerRef,
} from '../../core/store.js';
import { WORK_EVENTS } from '../../core/store.js';
import * as claim from './claim.js';
import { checkSchemaName, parsePostgresUrl } from './connect.js';
import { redactStoreUrl } from '../url.js';
import { PostgresContext } from './context.js';
import * as events from './events.js';
import { addJobs } from './jobs-in.js';
import * as lists from './lists.js';
import { migrate, schemaVersion } from './migrate.js';
import * as operator from './operator.js';
import * as queues from './queues.js';
import * as schedules from './schedules.js';
import { PostgresSharedState } from './shared-state.js';
import { SchemaVacuum } from './vacuum.js';
import * as workers from './workers.js';

export interface PostgresStoreOptions {
  /** Schema (namespace) of the store's tables; default "fusion", or ?schema= in the URL (either a lower-case identifier, SCHEMA_NAME). */
  schema?: string;
  /** Pool size; default 10, or ?max= in the URL. */
  max?: number;
  /** Apply pending migrations at open (default true). */
  migrate?: boolean;
}

export class PostgresStore implements Store {
  readonly capabilities: StoreCapabilities = {
    finishAndClaim: (p) => this.finishAndClaimJobs(p),
    /** Each call is a network round trip: workers keep two outcome batches in flight. */
    pipelined: true,
    /** addJobs takes { tx }: a caller's pg client inside its own transaction. */
    transactions: true,
    /** A worker's subscription: adds notify it only while its claims come up short (wait-marks.ts). */
    workEvents: (listener) => this.subscribe((e) => WORK_EVENTS.has(e.type) && listener(e), { workOnly: true }),
  };
  private readonly ctx: PostgresContext;
  private readonly vacuum: SchemaVacuum;
  private sharedState?: PostgresSharedState;

  private constructor(connectionString: string, schema: string, max: number, socketTimeoutMs: number) {
    this.ctx = new PostgresContext(connectionString, schema, max, socketTimeoutMs);
    this.vacuum = new SchemaVacuum(this.ctx);
  }

  /** Open a store from a postgres:// URL and bring its schema up to date. */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const p = parsePostgresUrl(url);
    // An option is held to the URL's rule: a longer name made a NOTIFY channel PostgreSQL refuses.
    if (opts.schema !== undefined) checkSchemaName(opts.schema);
    const store = new PostgresStore(p.connectionString, opts.schema ?? p.schema, opts.max ?? p.max, p.socketTimeoutMs);
    if (opts.migrate !== false) {
      try {
        const c = await store.pool.connect();
        try {
          await migrate(c, store.schema);
        } finally {
          c.release();
        }
      } catch (err) {
        store.ctx.silence.close();
        await store.pool.end().catch(() => {});
        throw new FusionError('store_unavailable', `could not open the PostgreSQL store at ${redactStoreUrl(url)}: ${(err as Error).message}`, {});
      }
    }
    return store;
  }

  get pool(): pg.Pool {
    return this.ctx.pool;
  }

  /** Schema (namespace) of the store's tables. */
  get schema(): string {
    return this.ctx.schema;
  }

  get connectionString(): string {
    return this.ctx.connectionString;
  }

  /** Marks this store's notifications, so its own events are not emitted twice. */
  get origin(): string {
    return this.ctx.origin;
  }

  /** The last connection or background error seen, for diagnostics. */
  get lastError(): Error | null {
    return this.ctx.lastError;
  }

  /** The server's time, which every process of this store goes by (shared-clock.ts). */
  get clock(): SharedClock {
    return this.ctx.clock;
  }

  /** Provider health, send slots and delivery status, agreed on by every process of this schema. */
  get shared(): SharedState {
    return (this.sharedState ??= new PostgresSharedState(this.ctx.pool, this.ctx.quotedSchema));
  }

  /** The schema's version (highest migration applied). */
  schemaVersion(): Promise<number> {
    return schemaVersion(this.ctx.pool, this.ctx.schema);
  }

  async addJobs({ jobs, now, tx }: AddJobs) {
    return addJobs(this.ctx, jobs, now, tx);
  }

  async claimJobs(req: ClaimRequest): Promise<ClaimResult> {
    return claim.claimJobs(this.ctx, req);
  }

  async finishAndClaimJobs({ outcomes, claim: req }: FinishAndClaimJobs): Promise<{ applied: FinishAnswer[]; claim: ClaimResult }> {
    return claim.finishAndClaimJobs(this.ctx, outcomes, req);
  }

  async finishJobs({ outcomes }: FinishJobs): Promise<FinishAnswer[]> {
    return claim.finishJobs(this.ctx, outcomes);
  }

  async heartbeatJobs({ leases, leaseMs, now }: HeartbeatJobs): Promise<HeartbeatResult[]> {
    return claim.heartbeatJobs(this.ctx, leases, leaseMs, now);
  }

  async progressJob({ lease, progress, now }: ProgressJob): Promise<boolean> {
    return claim.progressJob(this.ctx, lease, progress, now);
  }

  async logJob({ id, message, now }: LogJob): Promise<void> {
    return claim.logJob(this.ctx, id, message, now);
  }

  async recoverExpiredJobs({ now, limit = 1000 }: RecoverExpiredJobs): Promise<RecoverResult> {
    return claim.recoverExpiredJobs(this.ctx, now, limit);
  }

  async promoteDueJobs({ now, limit = 10_000 }: PromoteDueJobs): Promise<number> {
    return claim.promoteDueJobs(this.ctx, now, limit);
  }

  async getJob({ id }: JobRef): Promise<Job | null> {
    return lists.getJob(this.ctx, id);
  }

  async listJobs(q: ListQuery): Promise<Page<Job>> {
    return lists.listJobs(this.ctx, q);
  }

  async countJobs({ queue }: CountJobs = {}): Promise<Record<string, StateCounts>> {
    return lists.countJobs(this.ctx, queue);
  }

  async jobLogs({ id }: JobRef): Promise<LogLine[]> {
    return lists.jobLogs(this.ctx, id);
  }

  async cancelJob({ id, now }: JobAction): Promise<Job> {
    return operator.cancelJob(this.ctx, id, now);
  }

  async rescheduleJob({ id, runAt, now }: RescheduleJob): Promise<Job> {
    return operator.rescheduleJob(this.ctx, id, runAt, now);
  }

  async promoteJob({ id, now }: JobAction): Promise<Job> {
    return operator.promoteJob(this.ctx, id, now);
  }

  async retryJob({ id, now, resetAttempts }: RetryJob): Promise<Job> {
    return operator.retryJob(this.ctx, id, now, resetAttempts !== false);
  }

  async removeJob({ id, now }: JobAction): Promise<void> {
    return operator.removeJob(this.ctx, id, now);
  }

  async cleanJobs(q: CleanQuery): Promise<number> {
    const removed = await operator.cleanJobs(this.ctx, q);
    // Where autovacuum does not run, reclaim the dead tuples retention leaves (vacuum.ts).
    if (removed > 0) await this.vacuum.afterDeletes(removed);
    return removed;
  }

  async pauseQueue({ queue, now }: QueueAction): Promise<void> {
    return queues.pauseQueue(this.ctx, queue, now);
  }

  async resumeQueue({ queue, now }: QueueAction): Promise<void> {
    return queues.resumeQueue(this.ctx, queue, now);
  }

  async setQueueOptions({ queue, options, now }: SetQueueOptions): Promise<void> {
    return queues.setQueueOptions(this.ctx, queue, options, now);
  }

  async listQueues(): Promise<QueueInfo[]> {
    return queues.listQueues(this.ctx);
  }

  async saveSchedule(p: SaveSchedule): Promise<ScheduleRecord> {
    return schedules.saveSchedule(this.ctx, p);
  }

  async getSchedule({ id }: ScheduleRef): Promise<ScheduleRecord | null> {
    return schedules.getSchedule(this.ctx, id);
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return schedules.listSchedules(this.ctx);
  }

  async removeSchedule({ id, expected }: RemoveSchedule): Promise<boolean> {
    return schedules.removeSchedule(this.ctx, id, expected);
  }

  async dueSchedules({ now, limit }: DueSchedules): Promise<ScheduleRecord[]> {
    return schedules.dueSchedules(this.ctx, now, limit);
  }

  async nextScheduleAt(): Promise<number | null> {
    return schedules.nextScheduleAt(this.ctx);
  }

  async advanceSchedule(p: AdvanceSchedule): Promise<boolean> {
    return schedules.advanceSchedule(this.ctx, p);
  }

  async beatWorker({ worker, ttlMs }: BeatWorker): Promise<void> {
    return workers.beatWorker(this.ctx, worker, ttlMs);
  }

  async removeWorker({ id }: WorkerRef): Promise<void> {
    return workers.removeWorker(this.ctx, id);
  }

  async listWorkers({ now }: ListWorkers): Promise<WorkerInfo[]> {
    return workers.listWorkers(this.ctx, now);
  }

  /**
   * A worker's subscription (workOnly) needs notifications only while it sleeps, which its short
   * claims mark; one that uses only events naming a job (jobEventsOnly: long polls, metrics) needs
   * none (notifications of adds name no job); any other (event streams, dashboards) needs every
   * add's, so it holds the '*' mark.
   */
  subscribe(listener: StoreListener, opts: SubscribeOptions & { workOnly?: boolean } = {}): () => void {
    return events.subscribe(this.ctx, listener, opts.workOnly === true || opts.jobEventsOnly === true);
  }

  /** Resolves once this store's LISTEN connection (and a '*' mark it holds) is in place (events.ts). */
  async listening(): Promise<void> {
    return events.listening(this.ctx);
  }

  async ping(): Promise<void> {
    await this.ctx.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.ctx.closed) return;
    this.ctx.closed = true;
    this.ctx.clock.stop();
    await events.stopListening(this.ctx);
    this.ctx.silence.close();
    // Over a silent path a polite end never finishes: past the socket timeout its sockets are destroyed.
    await this.ctx.silence.endPool(this.ctx.pool, this.ctx.poolClients);
  }
}
