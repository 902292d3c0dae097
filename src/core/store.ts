// The Store contract. Every method is one atomic operation in the store: no caller may
// split one into read-then-write. The same contract suite (tests/contract/) runs on every store.
import type { Job, JobError, JobState, NewJob, LogLine } from './job.js';

export interface ClaimRequest {
  /** Queues to take from, in the order given: the first is drained before the next is tried. */
  queues: string[];
  workerId: string;
  limit: number;
  leaseMs: number;
  now: number;
  /**
   * For a worker listening through Store.handoff: when the claim leaves slots free because the
   * queue ran dry, the store may lease that many jobs added in the next idleMs to this worker on
   * its own and hand them over. The worker claims again within idleMs while idle.
   */
  idleMs?: number;
}

export interface ClaimResult {
  /** Claimed jobs, now active, each with a fresh leaseToken. */
  jobs: Job[];
  /**
   * The earliest time something in these queues may become claimable without a new event:
   * a scheduled job coming due or a rate-limit window reopening. null when nothing is pending.
   */
  nextWakeAt: number | null;
}

interface OutcomeBase {
  id: string;
  token: string;
  at: number;
  /** Jobs to add in the same atomic step if the outcome is applied (e.g. success/failure callbacks). */
  enqueue?: NewJob[];
}
/** The end of one attempt, reported by the worker that holds the lease. */
export type Outcome =
  | (OutcomeBase & { kind: 'completed'; result: unknown })
  | (OutcomeBase & { kind: 'retry'; error: JobError; retryAt: number })
  | (OutcomeBase & { kind: 'failed'; error: JobError })
  | (OutcomeBase & { kind: 'cancelled'; error?: JobError })
  /** Given back unfinished (graceful shutdown): back to queued, the attempt does not count. */
  | (OutcomeBase & { kind: 'released' });

export interface Lease {
  id: string;
  token: string;
}

export interface HeartbeatResult {
  id: string;
  /** false: the lease is lost (expired and recovered, or the job was removed). Stop working on it. */
  ok: boolean;
  cancelRequested: boolean;
}

/**
 * A list's order, the same on every store (the contract suite checks it):
 * - without `state`: newest first (by enqueue order), across states;
 * - with `state`, that state's own order: queued in run order (priority, then enqueue order),
 *   scheduled by due time (soonest first), active by lease expiry (soonest first), completed,
 *   failed and cancelled by end time (latest first).
 * Jobs equal on that key come in no promised order. Each order is an index every store keeps
 * anyway (Redis's per-state ZSETs, the SQL stores' per-state partial indexes), so a page costs the
 * same at any depth. The cursor is opaque and belongs to the query it came from.
 */
export interface ListQuery {
  queue?: string;
  state?: JobState;
  task?: string;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  limit?: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type StateCounts = Record<JobState, number>;

export interface RateLimit {
  max: number;
  windowMs: number;
}

export interface QueueOptions {
  /** At most `max` jobs started per `windowMs`, across all workers. null clears it. */
  rateLimit?: RateLimit | null;
  /** At most this many active at once, across all workers. null clears it. */
  concurrency?: number | null;
}

export interface QueueInfo {
  name: string;
  paused: boolean;
  rateLimit: RateLimit | null;
  concurrency: number | null;
  counts: StateCounts;
  /** createdAt of the oldest queued job, or null. */
  oldestQueuedAt: number | null;
}

export interface CleanQuery {
  queue?: string;
  /** Finished states to remove; default all finished ones. */
  states?: JobState[];
  /** Remove jobs that ended before this time (epoch ms). */
  endedBefore: number;
  /** Bound on rows removed in one call, so a clean never blocks the store for long. */
  limit?: number;
}

export interface RetryOptions {
  /** true (default): attempts start again from 0. false: keep counting (one more attempt is allowed). */
  resetAttempts?: boolean;
}

export interface RecoverResult {
  requeued: string[];
  failed: string[];
  cancelled: string[];
}

/** A stored schedule. `spec` is owned by the scheduler (trigger + job template); the store keeps it as JSON. */
export interface ScheduleRecord {
  id: string;
  spec: unknown;
  /** Next occurrence to fire, or null when the schedule has ended. */
  nextRunAt: number | null;
  paused: boolean;
  runCount: number;
  lastRunAt: number | null;
  createdAt: number;
  updatedAt: number;
  /** Bumped by every write; advanceSchedule compares it. */
  version: number;
}

/** What a caller writes; the store keeps version, createdAt, updatedAt. runCount/lastRunAt keep their values when omitted. */
export interface ScheduleWrite {
  id: string;
  spec: unknown;
  nextRunAt: number | null;
  paused: boolean;
  runCount?: number;
  lastRunAt?: number | null;
}

export interface ScheduleAdvance {
  nextRunAt: number | null;
  runCount: number;
  lastRunAt: number | null;
}

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  running: string[];
  startedAt: number;
  lastSeenAt: number;
}

export type StoreEventType =
  | 'queued'
  | 'scheduled'
  | 'active'
  | 'progress'
  | 'completed'
  | 'retrying'
  | 'failed'
  | 'cancelled'
  | 'cancel-requested'
  | 'stalled'
  | 'removed'
  | 'paused'
  | 'resumed';

export interface StoreEvent {
  type: StoreEventType;
  queue: string;
  /** Absent for queue-level events (paused, resumed). */
  jobId?: string;
  /** The job's task, for stores that have it at hand (optional: /v1/events looks it up otherwise). */
  task?: string;
  at: number;
  /** For 'scheduled' and 'retrying': when the job is due. */
  runAt?: number;
  progress?: unknown;
}

export type StoreListener = (e: StoreEvent) => void;

/** The events a worker acts on: new work, work coming due, and cancel requests. */
export const WORK_EVENTS: ReadonlySet<StoreEventType> = new Set<StoreEventType>(['queued', 'scheduled', 'retrying', 'resumed', 'cancel-requested']);

/**
 * Optional: small state every process of a store agrees on, with expiry (provider health, send
 * rates, delivery status). Keys are free-form strings; each call is atomic in the store.
 */
export interface SharedState {
  /** Count one event in a fixed window of windowMs starting at the first hit; the count so far in the window. */
  hit(key: string, windowMs: number, now: number): Promise<number>;
  /** Raise a flag until untilMs (a later flag wins over an earlier one). */
  flag(key: string, untilMs: number, now: number): Promise<void>;
  /** When the flag ends, or null if it is down. */
  flagged(key: string, now: number): Promise<number | null>;
  /**
   * A send slot of a rate of perSecond (evenly spaced, no burst): reserves the next free slot if it
   * starts within maxWaitMs and answers how long to wait for it (0: now). Past maxWaitMs nothing is
   * reserved and the answer is negative: minus the wait there would be.
   */
  take(key: string, perSecond: number, maxWaitMs: number, now: number): Promise<number>;
  /** A small JSON value kept for ttlMs. */
  put(key: string, value: unknown, ttlMs: number, now: number): Promise<void>;
  get<T = unknown>(key: string, now: number): Promise<T | null>;
  /**
   * Optional: add to named integer counters kept under one key (created at 0), and keep the key
   * ttlMs from now. Lets many processes sum statistics (provider sends per time bucket) atomically.
   */
  tally?(key: string, add: Record<string, number>, ttlMs: number, now: number): Promise<void>;
  /** Optional, with tally: the counters of each key, null for an absent or expired one. */
  tallies?(keys: string[], now: number): Promise<(Record<string, number> | null)[]>;
}

/** Options of Store.add. */
export interface AddOptions {
  /**
   * The caller's own database transaction (a `pg` client on PostgreSQL): the jobs commit or roll
   * back with the caller's rows. Only a store with `acceptsTx` takes it.
   */
  tx?: unknown;
}

export interface Store {
  /** True when add() takes { tx } (PostgreSQL). */
  readonly acceptsTx?: boolean;
  /**
   * True when each call is a network round trip (Redis): workers keep two outcome batches in
   * flight, so the store and the worker work at the same time. Absent or false for an embedded store.
   */
  readonly remote?: boolean;
  /** Insert jobs atomically. A job whose id exists returns the existing job with created=false. */
  add(jobs: NewJob[], now: number, opts?: AddOptions): Promise<{ job: Job; created: boolean }[]>;
  claim(req: ClaimRequest): Promise<ClaimResult>;
  /** Extend the leases of running jobs; tells which are lost or asked to cancel. */
  heartbeat(leases: Lease[], leaseMs: number, now: number): Promise<HeartbeatResult[]>;
  /** Apply attempt outcomes; each only if its token still holds the job. Returns which were applied. */
  finish(outcomes: Outcome[]): Promise<boolean[]>;
  /**
   * Optional: `finish(outcomes)` then `claim(req)` as one atomic step, so a worker's cycle costs one
   * round trip (one commit on SQLite) instead of two. Same results as the two calls in a row.
   */
  finishAndClaim?(outcomes: Outcome[], req: ClaimRequest): Promise<{ applied: boolean[]; claim: ClaimResult }>;
  /**
   * Optional: jobs this store leased to an idle worker at add time (see ClaimRequest.idleMs) reach
   * `listener`, already active under their own lease, as claimed jobs would. Returns a stop that
   * gives back what was promised to the worker and not yet handed over.
   */
  handoff?(workerId: string, listener: (jobs: Job[]) => void): () => Promise<void>;
  progress(lease: Lease, progress: unknown, now: number): Promise<boolean>;
  log(id: string, message: string, now: number): Promise<void>;
  logs(id: string): Promise<LogLine[]>;
  /** Active jobs whose lease ran out: back to queued, or failed past their stall limit, or cancelled if asked. */
  recoverExpired(now: number, limit?: number): Promise<RecoverResult>;
  /** Move due scheduled jobs to queued (claim does this too, per queue). Returns how many moved. */
  promoteDue(now: number, limit?: number): Promise<number>;

  get(id: string): Promise<Job | null>;
  list(q: ListQuery): Promise<Page<Job>>;
  counts(queue?: string): Promise<Record<string, StateCounts>>;
  /** scheduled|queued → cancelled; active → cancelRequested (its worker aborts it). */
  cancel(id: string, now: number): Promise<Job>;
  /** scheduled|queued → scheduled at runAt (queued if runAt <= now). */
  reschedule(id: string, runAt: number, now: number): Promise<Job>;
  /** scheduled → queued now. */
  promote(id: string, now: number): Promise<Job>;
  /** failed|cancelled → queued. */
  retry(id: string, opts: RetryOptions, now: number): Promise<Job>;
  /** Delete a job that is not active. */
  remove(id: string, now: number): Promise<void>;
  clean(q: CleanQuery): Promise<number>;

  pause(queue: string, now: number): Promise<void>;
  resume(queue: string, now: number): Promise<void>;
  setQueueOptions(queue: string, opts: QueueOptions, now: number): Promise<void>;
  queues(): Promise<QueueInfo[]>;

  upsertSchedule(rec: ScheduleWrite, now: number): Promise<ScheduleRecord>;
  getSchedule(id: string): Promise<ScheduleRecord | null>;
  listSchedules(): Promise<ScheduleRecord[]>;
  removeSchedule(id: string): Promise<boolean>;
  /** Unpaused schedules with nextRunAt <= now, oldest first. */
  dueSchedules(now: number, limit: number): Promise<ScheduleRecord[]>;
  /** Earliest nextRunAt of any unpaused schedule, or null. */
  nextScheduleAt(): Promise<number | null>;
  /**
   * Compare-and-set: if the schedule's version is still `expectedVersion`, apply `next` and add `jobs`
   * in one atomic step, and return true. Otherwise change nothing and return false.
   */
  advanceSchedule(id: string, expectedVersion: number, next: ScheduleAdvance, jobs: NewJob[], now: number): Promise<boolean>;

  /** Record a live worker (expires after ttlMs without another beat). */
  workerBeat(info: WorkerInfo, ttlMs: number): Promise<void>;
  workerGone(id: string): Promise<void>;
  listWorkers(now: number): Promise<WorkerInfo[]>;

  /**
   * State-change events of this store. Cross-process for stores that can (Redis), in-process otherwise.
   * With `workOnly`, the listener needs only WORK_EVENTS and a store may spare it the rest (Redis
   * sends those on a channel of their own, so a busy worker does not read an event per job it runs).
   */
  subscribe(listener: StoreListener, opts?: { workOnly?: boolean }): () => void;
  /** Optional: state shared by every process of this store (see SharedState). */
  readonly shared?: SharedState;
  /** Cheap reachability check for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function emptyCounts(): StateCounts {
  return { scheduled: 0, queued: 0, active: 0, completed: 0, failed: 0, cancelled: 0 };
}
