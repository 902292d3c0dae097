// The Redis store. Every state change is one Lua script (lua/, called through script-calls.ts) on
// one hash-tag slot, so the same code runs on a single Redis and on Redis Cluster. What a slot
// cannot hold atomically across queues (follow-up jobs of an outcome, jobs of a schedule) goes
// through an outbox in the source slot (outbox.ts).
//
// This class only wires the parts together, each in a module named for its concern: keys.ts (key
// and channel names), context.ts (what the parts share), jobs-in.ts (add), outbox.ts, claim.ts
// (claim, heartbeat, finish, hand-off), lost-claims.ts, recovery.ts (stall recovery, sweep lock,
// due jobs), operator.ts, lists.ts, queues.ts, schedules.ts, workers.ts, pubsub.ts.
import { Cluster, type Redis } from 'ioredis';
import { FusionError } from '../../core/errors.js';
import type {
  AddJobs, AdvanceSchedule, BeatWorker, ClaimRequest, ClaimResult, CleanQuery, CountJobs, DueSchedules, FinishAndClaimJobs, FinishAnswer, FinishJobs,
  HandoffJobs, HeartbeatJobs, HeartbeatResult, JobAction, JobRef, ListQuery, ListWorkers, LogJob, Page, ProgressJob, PromoteDueJobs,
  QueueAction, QueueInfo, RecoverExpiredJobs, RecoverResult, RescheduleJob, RetryJob, RemoveSchedule, SaveSchedule, ScheduleRecord, ScheduleRef,
  SetQueueOptions, SharedState, StateCounts, Store, StoreCapabilities, StoreListener, SubscribeOptions, WorkerInfo, WorkerRef,
} from '../../core/store.js';
import type { Job, LogLine } from '../../core/job.js';
import type { SharedClock } from '../../core/shared-clock.js';
import { ScriptRunner } from './runner.js';
import { watchSilence, type RedisClient, type RedisTarget, type ReplicaWait } from './connect.js';
import { RedisSharedState } from './shared-state.js';
import { RedisKeys } from './keys.js';
import { RedisContext } from './context.js';
import { JobsIn } from './jobs-in.js';
import { Outbox } from './outbox.js';
import { Claims } from './claim.js';
import { Recovery } from './recovery.js';
import { OperatorActions } from './operator.js';
import { JobLists } from './lists.js';
import { Queues } from './queues.js';
import { Schedules } from './schedules.js';
import { Workers } from './workers.js';
import { PubSub, closeClient } from './pubsub.js';
import { currentJobFormat, storedJobFormat, upgradeJobFormat, type FormatUpgrade, type StoredJobFormat } from './job-format.js';

export interface RedisStoreOptions {
  /** Key prefix (default "fusion"). Stores with different prefixes share a Redis without seeing each other. */
  prefix?: string;
  /**
   * How scripts run: 'auto' (default) as a function library (FCALL) where Redis has functions
   * (7.0+), as EVALSHA otherwise; 'eval' always as EVALSHA.
   */
  scripts?: 'auto' | 'eval';
  /**
   * How long the sweep lock (one recoverExpired at a time across processes) lasts without renewal
   * (default 5000 ms). A sweep renews it as it goes; a sweeper that dies or loses its connection
   * holds recovery up for at most this long. Keep it at most about the shortest lease.
   */
  sweepLockMs?: number;
}

const SWEEP_LOCK_MS = 5000;

export class RedisStore implements Store {
  readonly capabilities: StoreCapabilities = {
    finishAndClaim: (params) => this.finishAndClaimJobs(params),
    handoff: (params) => this.handoffJobs(params),
    /** Each call is a network round trip: workers keep two outcome batches in flight. */
    pipelined: true,
    /** One connection (per slot): calls apply and answer in the order sent, so workers claim ahead. */
    inOrder: true,
    workEvents: (listener) => this.subscribe(listener, { workOnly: true }),
  };
  readonly prefix: string;
  readonly cluster: boolean;
  readonly client: RedisClient;
  /** How many replicas confirm an add before it is answered (`?waitReplicas=`), or null. */
  readonly replicaWait: ReplicaWait | null;
  /** Adds' own connection where they wait for replicas, else null. */
  private readonly addClient: RedisClient | null;
  private readonly ctx: RedisContext;
  private readonly pubsub: PubSub;
  private readonly jobsIn: JobsIn;
  private readonly claims: Claims;
  private readonly recovery: Recovery;
  private readonly operator: OperatorActions;
  private readonly lists: JobLists;
  private readonly queues: Queues;
  private readonly schedules: Schedules;
  private readonly workers: Workers;
  private sharedState?: RedisSharedState;
  private readonly stopWatches: (() => void)[];

  constructor(target: RedisTarget, opts: RedisStoreOptions = {}) {
    this.prefix = opts.prefix ?? target.prefix ?? 'fusion';
    // No leading '?': the scripts' channel is '?prefix:events' on a single Redis (keys.ts), and they read that mark.
    if (!/^[^{}\s?][^{}\s]{0,99}$/.test(this.prefix)) {
      throw new FusionError('invalid_store', 'a Redis key prefix must be 1-100 characters without braces or spaces, not starting with ?', { prefix: this.prefix });
    }
    this.cluster = target.cluster;
    this.client = target.create(`${this.prefix}:cmd`);
    this.replicaWait = target.replicaWait;
    this.addClient = target.replicaWait ? target.create(`${this.prefix}:add`) : null;
    this.stopWatches = [this.client, this.addClient].map((client) => (client ? watchSilence(client, target.socketTimeoutMs) : () => {}));
    const functions = (opts.scripts ?? 'auto') === 'auto';
    const scripts = new ScriptRunner(this.client, functions);
    const ctx = new RedisContext(this.client, new RedisKeys(this.prefix, this.cluster), this.cluster, scripts,
      this.addClient ? new ScriptRunner(this.addClient, functions, target.replicaWait) : scripts);
    this.ctx = ctx;
    this.pubsub = new PubSub(ctx, target);
    this.lists = new JobLists(ctx);
    this.jobsIn = new JobsIn(ctx, (id) => this.lists.getJob({ id }));
    const outbox = new Outbox(ctx, this.jobsIn);
    this.claims = new Claims(ctx, outbox, this.pubsub);
    this.pubsub.handoff = { channels: () => this.claims.handoffChannels(), message: (text) => this.claims.handoffMessage(text) };
    this.jobsIn.handed = (token, row, now) => this.claims.handedByAdd(token, row, now);
    this.recovery = new Recovery(ctx, outbox, Math.max(50, opts.sweepLockMs ?? SWEEP_LOCK_MS));
    this.operator = new OperatorActions(ctx);
    this.queues = new Queues(ctx);
    this.schedules = new Schedules(ctx, outbox);
    this.workers = new Workers(ctx);

    // Connection errors surface as failed calls (and ping() for readiness); ioredis reconnects on its own.
    this.client.on('error', (err: Error) => (ctx.lastError = err));
    this.addClient?.on('error', (err: Error) => (ctx.lastError = err));
    this.client.on('ready', () => {
      // A Redis that restarted without its data has lost the queue set: register queues again on next use.
      ctx.reconnected();
      this.claims.lostClaims.reconnected();
    });
    const dropped = () => this.claims.lostClaims.connectionDropped();
    this.client.on('close', dropped);
    if (this.client instanceof Cluster) this.client.on('+node', (node: Redis) => node.on('close', dropped));
  }

  /** The last connection error seen, for diagnostics. */
  get lastError(): Error | null {
    return this.ctx.lastError;
  }

  /** Counters for diagnostics and tests: lost claims put back (and their jobs), sweep lock renewals. */
  get stats(): { lostClaims: number; releasedJobs: number; sweepRenewals: number } {
    return this.ctx.stats;
  }

  /** The server's time, which every process of this store goes by (shared-clock.ts). */
  get clock(): SharedClock {
    return this.ctx.clock;
  }

  get shared(): SharedState {
    return (this.sharedState ??= new RedisSharedState(this.client, this.prefix));
  }

  // JobStore
  addJobs(params: AddJobs): Promise<{ job: Job; created: boolean }[]> { return this.jobsIn.addJobs(params); }
  claimJobs(params: ClaimRequest): Promise<ClaimResult> { return this.claims.claimJobs(params); }
  heartbeatJobs(params: HeartbeatJobs): Promise<HeartbeatResult[]> { return this.claims.heartbeatJobs(params); }
  finishJobs(params: FinishJobs): Promise<FinishAnswer[]> { return this.claims.finishJobs(params); }
  finishAndClaimJobs(params: FinishAndClaimJobs): Promise<{ applied: FinishAnswer[]; claim: ClaimResult }> { return this.claims.finishAndClaimJobs(params); }
  handoffJobs(params: HandoffJobs): () => Promise<void> { return this.claims.handoffJobs(params); }
  progressJob(params: ProgressJob): Promise<boolean> { return this.claims.progressJob(params); }
  logJob(params: LogJob): Promise<void> { return this.claims.logJob(params); }
  recoverExpiredJobs(params: RecoverExpiredJobs): Promise<RecoverResult> { return this.recovery.recoverExpiredJobs(params); }
  promoteDueJobs(params: PromoteDueJobs): Promise<number> { return this.recovery.promoteDueJobs(params); }
  getJob(params: JobRef): Promise<Job | null> { return this.lists.getJob(params); }
  jobLogs(params: JobRef): Promise<LogLine[]> { return this.lists.jobLogs(params); }
  listJobs(params: ListQuery): Promise<Page<Job>> { return this.lists.listJobs(params); }

  // QueueAdmin
  cancelJob(params: JobAction): Promise<Job> { return this.operator.cancelJob(params); }
  rescheduleJob(params: RescheduleJob): Promise<Job> { return this.operator.rescheduleJob(params); }
  promoteJob(params: JobAction): Promise<Job> { return this.operator.promoteJob(params); }
  retryJob(params: RetryJob): Promise<Job> { return this.operator.retryJob(params); }
  removeJob(params: JobAction): Promise<void> { return this.operator.removeJob(params); }
  cleanJobs(params: CleanQuery): Promise<number> { return this.operator.cleanJobs(params); }
  pauseQueue(params: QueueAction): Promise<void> { return this.queues.pauseQueue(params); }
  resumeQueue(params: QueueAction): Promise<void> { return this.queues.resumeQueue(params); }
  setQueueOptions(params: SetQueueOptions): Promise<void> { return this.queues.setQueueOptions(params); }
  countJobs(params?: CountJobs): Promise<Record<string, StateCounts>> { return this.queues.countJobs(params); }
  listQueues(): Promise<QueueInfo[]> { return this.queues.listQueues(); }

  // ScheduleStore
  saveSchedule(params: SaveSchedule): Promise<ScheduleRecord> { return this.schedules.saveSchedule(params); }
  getSchedule(params: ScheduleRef): Promise<ScheduleRecord | null> { return this.schedules.getSchedule(params); }
  listSchedules(): Promise<ScheduleRecord[]> { return this.schedules.listSchedules(); }
  removeSchedule(params: RemoveSchedule): Promise<boolean> { return this.schedules.removeSchedule(params); }
  dueSchedules(params: DueSchedules): Promise<ScheduleRecord[]> { return this.schedules.dueSchedules(params); }
  nextScheduleAt(): Promise<number | null> { return this.schedules.nextScheduleAt(); }
  advanceSchedule(params: AdvanceSchedule): Promise<boolean> { return this.schedules.advanceSchedule(params); }

  // WorkerRegistry
  beatWorker(params: BeatWorker): Promise<void> { return this.workers.beatWorker(params); }
  removeWorker(params: WorkerRef): Promise<void> { return this.workers.removeWorker(params); }
  listWorkers(params: ListWorkers): Promise<WorkerInfo[]> { return this.workers.listWorkers(params); }

  // EventSource
  subscribe(listener: StoreListener, opts: SubscribeOptions & { workOnly?: boolean } = {}): () => void { return this.pubsub.subscribe(listener, opts); }

  /** The job hash format this store's adds write: 'lean' (only fields not at their default) or 'full' (job-format.ts). */
  jobFormat(): Promise<'lean' | 'full'> { return currentJobFormat(this.ctx); }
  /** The format as stored, marking nothing (`fusion store info`): 'empty' is marked lean at the first write. */
  storedJobFormat(): Promise<StoredJobFormat> { return storedJobFormat(this.ctx); }
  /** `fusion store upgrade`: mark the prefix lean, refused while live workers of an earlier version are registered unless forced. */
  upgradeJobFormat(params: { now: number; force: boolean }): Promise<FormatUpgrade> { return upgradeJobFormat(this.ctx, params); }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    if (this.ctx.closed) return;
    this.ctx.closed = true;
    this.ctx.clock.stop();
    this.pubsub.dropListeners();
    // A last try for lost claims' jobs; if it fails they come back when their leases run out.
    await this.claims.lostClaims.close();
    // The watch stays until QUIT is answered: on a silent path it drops the connection, and QUIT ends.
    await Promise.all([closeClient(this.client), this.addClient && closeClient(this.addClient), this.pubsub.close()]);
    for (const stop of this.stopWatches) stop();
  }
}
