// The Store contract. Every method is one atomic operation in the store: no caller may
// split one into read-then-write. The same contract suite (tests/contract/) runs on every store.
import type { SharedClock } from './shared-clock.js';
import type { Job, JobError, JobState, NewJob, LogLine } from './job.js';
import { FusionError } from './errors.js';
import { boundedText } from './bounded-text.js';

export interface ClaimRequest {
  /** Queues to take from, in the order given: the first is drained before the next is tried. */
  queues: string[];
  workerId: string;
  limit: number;
  leaseMs: number;
  now: number;
  /**
   * For a worker listening through capabilities.handoff: when the claim leaves slots free because the
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
  | (OutcomeBase & { kind: 'released' })
  /** Put off by the handler (SnoozeError): scheduled again at retryAt, the attempt does not count. */
  | (OutcomeBase & { kind: 'snoozed'; retryAt: number; /** For the log line; not stored. */ reason?: string });

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
  /** Bumped by every write; advanceSchedule compares it (and createdAt, when given: see AdvanceSchedule). */
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
  | 'resumed'
  /**
   * A queue's rate limit or concurrency was set (setQueueOptions). Not a 'resumed': a paused queue
   * stays paused. Workers look again (higher limits may open room) and give back what they claimed
   * ahead under the old limits.
   */
  | 'limits-changed';

export interface StoreEvent {
  type: StoreEventType;
  queue: string;
  /** Absent for queue-level events (paused, resumed, limits-changed). */
  jobId?: string;
  /** The job's task, for stores that have it at hand (optional: /v1/events looks it up otherwise). */
  task?: string;
  at: number;
  /** For 'scheduled' and 'retrying': when the job is due. */
  runAt?: number;
  progress?: unknown;
  /**
   * Set on the 'resumed' a store sends every queue once its event connection is back (Redis
   * pub/sub, PostgreSQL LISTEN): events of the time it was down are lost. It wakes workers as any
   * 'resumed' does; no queue was resumed, and listeners that keep a record (the event hub) learn
   * of the gap.
   */
  missed?: true;
}

export type StoreListener = (e: StoreEvent) => void;

/**
 * The events a worker acts on: new work, work coming due, cancel requests, pauses and new limits
 * (jobs it claimed ahead that wait for a slot go back to a paused queue instead of starting, and
 * to a queue whose limits changed, to be claimed again under them).
 */
export const WORK_EVENTS: ReadonlySet<StoreEventType> = new Set<StoreEventType>(['queued', 'scheduled', 'retrying', 'resumed', 'paused', 'limits-changed', 'cancel-requested']);

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
   * reserved and the answer is negative: minus the wait there would be. With maxWaitMs -1 it only
   * looks: minus the wait for the next free slot, 0 when it is free now (never reserved).
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
  /**
   * Optional: add members to a named set kept without expiry (a row, hash field or sorted-set member
   * each: atomic per member, O(1) in the set's size, adding one twice is one member).
   */
  addMembers?(set: string, members: string[]): Promise<void>;
  /**
   * Optional, with addMembers: up to limit members of the set after `after` (exclusive), in binary
   * (code unit) order, read a page at a time without reading the rest of the set.
   */
  members?(set: string, limit: number, after?: string): Promise<string[]>;
}

// ---- One params object per operation (named entity + verb, like the method) ----
// Every operation whose effect depends on the time takes `now` (epoch ms) from the caller: no store
// reads the clock for a job's or a queue's state, so tests and simulations drive time themselves.

export interface AddJobs {
  jobs: NewJob[];
  now: number;
  /**
   * The caller's own database transaction (a `pg` client on PostgreSQL): the jobs commit or roll
   * back with the caller's rows. Only a store with `capabilities.transactions` takes it.
   */
  tx?: unknown;
}
/** Options of an enqueue: the `tx` of AddJobs. */
export type AddOptions = Pick<AddJobs, 'tx'>;
export interface AddedJob {
  job: Job;
  created: boolean;
}
export interface HeartbeatJobs {
  leases: Lease[];
  leaseMs: number;
  now: number;
}
export interface FinishJobs {
  /** Each outcome carries its own time (`at`). */
  outcomes: Outcome[];
}
export interface FinishAndClaimJobs {
  outcomes: Outcome[];
  claim: ClaimRequest;
}
/**
 * What an outcome did: false, nothing (its lease token no longer holds the job); true, applied as
 * reported; 'cancelled', applied as a cancellation instead: a retry, snooze or release of a job asked
 * to cancel during its attempt (OutcomeRule.yieldsToCancel in state-rules.ts).
 */
export type FinishAnswer = boolean | 'cancelled';
export interface FinishAndClaimResult {
  applied: FinishAnswer[];
  claim: ClaimResult;
}
export interface HandoffJobs {
  workerId: string;
  listener: (jobs: Job[]) => void;
}
export interface ProgressJob {
  lease: Lease;
  progress: unknown;
  now: number;
}
export interface LogJob {
  id: string;
  message: string;
  now: number;
}
/** One job by id, for reads. */
export interface JobRef {
  id: string;
}
/** One job by id, for an operator action at `now`. */
export interface JobAction {
  id: string;
  now: number;
}
export interface RescheduleJob extends JobAction {
  runAt: number;
}
export interface RetryJob extends JobAction, RetryOptions {}
export interface RecoverExpiredJobs {
  now: number;
  limit?: number;
}
export interface PromoteDueJobs {
  now: number;
  limit?: number;
}
export interface CountJobs {
  /** One queue only; all queues when absent. */
  queue?: string;
}
export interface QueueAction {
  queue: string;
  now: number;
}
export interface SetQueueOptions extends QueueAction {
  options: QueueOptions;
}
export interface SaveSchedule {
  schedule: ScheduleWrite;
  now: number;
  /**
   * Optimistic concurrency: save only if the stored schedule's version is still this one (0: only if
   * it does not exist yet). On a mismatch nothing changes and the store throws a ScheduleConflict.
   * Absent: save whatever is stored (create or overwrite).
   */
  expectedVersion?: number;
  /**
   * With expectedVersion > 0: save only if the stored schedule's createdAt is also this one, else
   * the same ScheduleConflict (its actual version as for a version mismatch). A schedule removed and
   * created again under the same id starts at version 1 again, so the version alone cannot tell a
   * write read from the old schedule from one read from the new. Absent: the version alone is compared.
   */
  expectedCreatedAt?: number;
}
export interface ScheduleRef {
  id: string;
}
export interface RemoveSchedule extends ScheduleRef {
  /** Remove only while the stored schedule is at this version and has this createdAt (retention: an update since keeps it). */
  expected?: { version: number; createdAt: number };
}
export interface DueSchedules {
  now: number;
  limit: number;
}
export interface AdvanceSchedule {
  id: string;
  expectedVersion: number;
  /**
   * Advance only if the stored schedule's createdAt is also this one (else false, nothing changed):
   * a schedule removed and created again under the same id starts at version 1 again, so a fire read
   * from the old one must not advance the new one or add the old template's jobs. Absent: the
   * version alone is compared.
   */
  expectedCreatedAt?: number;
  next: ScheduleAdvance;
  jobs: NewJob[];
  now: number;
}
export interface BeatWorker {
  /** Its lastSeenAt is the time of this beat. */
  worker: WorkerInfo;
  ttlMs: number;
}
export interface WorkerRef {
  id: string;
}
export interface ListWorkers {
  now: number;
}

/** SaveSchedule's version check failed: someone else wrote the schedule since it was read. */
export class ScheduleConflict extends FusionError {
  constructor(id: string, expected: number, actual: number) {
    super('conflict', `schedule ${id} changed (version ${actual}, expected ${expected}); read it again`, { id, expected, actual }, 409);
  }
}

// ---- The roles ----

/** Log lines a job keeps, its latest: a handler that logs in a loop must not grow the store without bound. */
export const MAX_JOB_LOG_LINES = 1000;
/** The most characters of one log line a job keeps (as of an error's message): the rest is counted, not kept. */
export const MAX_LOG_LINE = 8192;
/**
 * The longest progress value, in characters of its JSON (16 MiB): it is stored on the job on every
 * update and sent to every event viewer. Above what the channels record there (a push job's state per
 * device: up to 1,000 tokens of up to 4,096 characters, each twice, about 8.5 MB), which a refusal
 * would make send again.
 */
export const MAX_PROGRESS_JSON = 16 * 1024 * 1024;

/** A log line as a store keeps it: at most MAX_LOG_LINE characters, the rest counted. A line is not worth failing a job over. */
export const storedLogLine = (message: string): string => boundedText(message, MAX_LOG_LINE);

/**
 * A progress value's JSON as a store keeps it; one longer than MAX_PROGRESS_JSON is refused
 * (invalid_request): a handler that reports megabytes hears of it, rather than every viewer.
 */
export function storedProgress(progress: unknown): string {
  const json = JSON.stringify(progress ?? null) ?? 'null';
  if (json.length > MAX_PROGRESS_JSON) {
    throw new FusionError('invalid_request', `progress must have a JSON form of at most ${MAX_PROGRESS_JSON} characters, got ${json.length}`, { field: 'progress', length: json.length });
  }
  return json;
}

/**
 * Jobs: insert, the worker's claim/heartbeat/finish cycle, operator actions and reads.
 * - addJobs is all or nothing, across queues: if one job is refused (invalid, or the store fails),
 *   none is added. A job whose id exists already is not added again: the answer holds the stored job
 *   with created=false (ids are unique whatever the state while the job is kept; across queues
 *   too, except on Redis Cluster where they are unique within a queue).
 * - Every job of a claim is leased to exactly one claimer, however many processes claim at once.
 */
export interface JobStore {
  addJobs(p: AddJobs): Promise<AddedJob[]>;
  claimJobs(req: ClaimRequest): Promise<ClaimResult>;
  /** Extend the leases of running jobs; tells which are lost or asked to cancel. */
  heartbeatJobs(p: HeartbeatJobs): Promise<HeartbeatResult[]>;
  /** Apply attempt outcomes; each only if its token still holds the job. Returns what each did (FinishAnswer). */
  finishJobs(p: FinishJobs): Promise<FinishAnswer[]>;
  progressJob(p: ProgressJob): Promise<boolean>;
  /** Append a log line (a job keeps its last MAX_JOB_LOG_LINES); dropped when the store no longer holds the job (retention took its lines with it). */
  logJob(p: LogJob): Promise<void>;
  /** A job's log lines, oldest first. */
  jobLogs(p: JobRef): Promise<LogLine[]>;
  /** Active jobs whose lease ran out: back to queued, or failed past their stall limit, or cancelled if asked. */
  recoverExpiredJobs(p: RecoverExpiredJobs): Promise<RecoverResult>;
  /** Move due scheduled jobs to queued (claim does this too, per queue). Returns how many moved. */
  promoteDueJobs(p: PromoteDueJobs): Promise<number>;

  getJob(p: JobRef): Promise<Job | null>;
  /** One page in the order ListQuery describes, the same on every store. */
  listJobs(q: ListQuery): Promise<Page<Job>>;
  /** Per queue, how many jobs are in each state. */
  countJobs(p?: CountJobs): Promise<Record<string, StateCounts>>;
  /** scheduled|queued → cancelled; active → cancelRequested (its worker aborts it). */
  cancelJob(p: JobAction): Promise<Job>;
  /** scheduled|queued → scheduled at runAt (queued if runAt <= now). */
  rescheduleJob(p: RescheduleJob): Promise<Job>;
  /** scheduled → queued now. */
  promoteJob(p: JobAction): Promise<Job>;
  /** failed|cancelled → queued. */
  retryJob(p: RetryJob): Promise<Job>;
  /** Delete a job that is not active; its 'removed' event is at `now`. */
  removeJob(p: JobAction): Promise<void>;
  cleanJobs(q: CleanQuery): Promise<number>;
}

/** Queues: pause, resume, limits, and the list of queues (by name). Events of these are at `now`. */
export interface QueueAdmin {
  pauseQueue(p: QueueAction): Promise<void>;
  resumeQueue(p: QueueAction): Promise<void>;
  setQueueOptions(p: SetQueueOptions): Promise<void>;
  /** Every queue the store knows, by name. */
  listQueues(): Promise<QueueInfo[]>;
}

/** Schedules: records owned by the scheduler, with a version every write bumps. */
export interface ScheduleStore {
  /** Create or replace; with expectedVersion (and expectedCreatedAt), only if they still match (else ScheduleConflict). */
  saveSchedule(p: SaveSchedule): Promise<ScheduleRecord>;
  getSchedule(p: ScheduleRef): Promise<ScheduleRecord | null>;
  /** Every schedule, by id. */
  listSchedules(): Promise<ScheduleRecord[]>;
  removeSchedule(p: RemoveSchedule): Promise<boolean>;
  /** Unpaused schedules with nextRunAt <= now, oldest first. */
  dueSchedules(p: DueSchedules): Promise<ScheduleRecord[]>;
  /** Earliest nextRunAt of any unpaused schedule, or null. */
  nextScheduleAt(): Promise<number | null>;
  /**
   * Compare-and-set: if the schedule's version is still `expectedVersion` (and its createdAt
   * `expectedCreatedAt`, when given), apply `next` and add `jobs` in one atomic step, and return true.
   * Otherwise change nothing and return false.
   */
  advanceSchedule(p: AdvanceSchedule): Promise<boolean>;
}

/** Live workers, each expiring ttlMs after its last beat. */
export interface WorkerRegistry {
  beatWorker(p: BeatWorker): Promise<void>;
  removeWorker(p: WorkerRef): Promise<void>;
  /** Workers alive at `now`, by id. */
  listWorkers(p: ListWorkers): Promise<WorkerInfo[]>;
}

export interface EventSource {
  /**
   * State-change events of this store. Cross-process for stores that can (Redis, PostgreSQL, SQLite
   * watching its file), in-process otherwise. A listener sees the events of every call made after
   * subscribe returns.
   */
  subscribe(listener: StoreListener, opts?: SubscribeOptions): () => void;
}

export interface SubscribeOptions {
  /**
   * The subscriber uses only events that name their job (`jobId`: a job's end, a long poll's
   * wake-up, a metric per job). A store may then spare it what it announces to other processes per
   * queue: on PostgreSQL such a subscriber does not count as waiting for other processes' adds, so
   * they send it no `NOTIFY` (those name no job).
   */
  jobEventsOnly?: boolean;
}

/**
 * What only some stores can do, for speed or reach. A caller asks (`store.capabilities.x?.(...)`)
 * and falls back to the plain roles when absent; results are the same either way.
 */
export interface StoreCapabilities {
  /**
   * finishJobs then claimJobs as one atomic step, so a worker's cycle costs one round trip (one
   * commit on SQLite) instead of two. Same results as the two calls in a row.
   */
  finishAndClaim?(p: FinishAndClaimJobs): Promise<FinishAndClaimResult>;
  /**
   * Idle hand-off: jobs this store leased to an idle worker at add time (see ClaimRequest.idleMs)
   * reach `listener`, already active under their own lease, as claimed jobs would. Returns a stop
   * that gives back what was promised to the worker and not yet handed over.
   */
  handoff?(p: HandoffJobs): () => Promise<void>;
  /**
   * Each call is a network round trip (Redis, PostgreSQL): callers keep a few calls in flight so
   * the store and the process work at the same time (a worker two outcome batches, the enqueue
   * funnel three adds).
   */
  pipelined?: boolean;
  /**
   * Calls in flight together are applied and answered in the order they were sent (Redis: one
   * connection per slot), so jobs claimed by calls in flight start in the store's claim order. A
   * worker then lets every outcome batch in flight carry a claim; on a pool (PostgreSQL) two claims
   * in flight may land the lower-priority job first, so it keeps one claim in the air at a time
   * (outcome-only batches overlap it).
   */
  inOrder?: boolean;
  /**
   * A subscription to WORK_EVENTS only, which the store can serve cheaper than all events (Redis
   * sends them on a channel of their own, so a busy worker does not read an event per job it runs;
   * on PostgreSQL other processes' adds then notify it only while its claims come up short).
   */
  workEvents?(listener: StoreListener): () => void;
  /** addJobs takes the caller's own transaction (`tx`, PostgreSQL). */
  transactions?: boolean;
}

export interface Store extends JobStore, QueueAdmin, ScheduleStore, WorkerRegistry, EventSource {
  readonly capabilities: StoreCapabilities;
  /** Optional role: state shared by every process of this store (see SharedState). */
  readonly shared?: SharedState;
  /**
   * Optional: the time every process of this store agrees on, the server's (see shared-clock.ts).
   * Fusion.open uses it unless given a clock of its own. Absent where every process shares this
   * machine's clock (SQLite).
   */
  readonly clock?: SharedClock;
  /** Cheap reachability check for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function emptyCounts(): StateCounts {
  return { scheduled: 0, queued: 0, active: 0, completed: 0, failed: 0, cancelled: 0 };
}
