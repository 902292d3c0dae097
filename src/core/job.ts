// The job model: what a job is, its states, and the spec a caller gives to create one.

export const JOB_STATES = ['scheduled', 'queued', 'active', 'completed', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINISHED_STATES: readonly JobState[] = ['completed', 'failed', 'cancelled'];

export const PRIORITIES = { high: 2, moderate: 1, low: 0 } as const;
export type PriorityName = keyof typeof PRIORITIES;
export type Priority = PriorityName | number;

export type BackoffPolicy =
  | { type: 'exponential'; base?: number; cap?: number; jitter?: boolean }
  | { type: 'fixed'; delay: number }
  | { type: 'list'; delays: number[] };

export interface JobError {
  message: string;
  name?: string;
  stack?: string;
  retryable: boolean;
  code?: string;
  /** Structured facts about the failure (a delivery's provider, its status code, ...). */
  details?: Record<string, unknown>;
}

export type AttemptOutcome = 'completed' | 'retrying' | 'failed' | 'cancelled' | 'stalled' | 'released' | 'snoozed';

export interface AttemptRecord {
  attempt: number;
  workerId: string;
  startedAt: number;
  endedAt?: number;
  outcome?: AttemptOutcome;
  error?: string;
  /** A failed attempt's structured facts, from its error (a delivery's provider, code, retryable, status). */
  details?: Record<string, unknown>;
  /** A snoozed record's count of snoozes in a row: a run of them is one record, the latest. */
  snoozes?: number;
}

export interface JobCallbacks {
  onSuccess?: string;
  onFailure?: string;
  /** `json` (default): `{ event, job }`. `form`: the original Fusion worker's form fields
   *  (description, job_id, status, retry_attempts | failure_trace), for its existing handlers. */
  format?: 'json' | 'form';
}

export interface LogLine {
  at: number;
  message: string;
}

export interface Job<P = unknown, R = unknown> {
  id: string;
  queue: string;
  task: string;
  payload: P;
  priority: number;
  state: JobState;
  /** Attempts started so far (a stalled attempt counts). */
  attempts: number;
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** Per-attempt time limit in ms; 0 means none. */
  timeout: number;
  /** When the job is (or was) due. */
  runAt: number;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  result: R | null;
  error: JobError | null;
  history: AttemptRecord[];
  progress: unknown;
  stalls: number;
  maxStalls: number;
  cancelRequested: boolean;
  workerId: string | null;
  leaseToken: string | null;
  leaseUntil: number | null;
  description: string | null;
  tags: string[];
  callbacks: JobCallbacks | null;
  /** Schedule that produced this job, if any. */
  scheduleId: string | null;
}

/** What a caller gives to create a job. */
export interface JobSpec<P = unknown> {
  task: string;
  payload?: P;
  queue?: string;
  id?: string;
  priority?: Priority;
  /** Absolute due time (epoch ms or Date). Wins over `delay`. */
  runAt?: number | Date;
  /** Due in this many ms from now. */
  delay?: number;
  maxAttempts?: number;
  backoff?: BackoffPolicy;
  timeout?: number;
  maxStalls?: number;
  description?: string;
  tags?: string[];
  callbacks?: JobCallbacks;
  scheduleId?: string;
}

/** A fully resolved job ready for a store to insert. */
export interface NewJob {
  id: string;
  /**
   * The id Fusion made for this job when its spec gave none (resolveSpec). While `id` still equals
   * it, the id is Fusion's to choose, and a store may store the job under an id of its own making
   * instead (SQLite: a UUIDv7 that carries the row's seq, so that no id index is written); the
   * store's answer carries the id the job has. An id set afterwards (an Idempotency-Key's, a
   * follow-up's) differs from it and is kept as given. Only newId's output belongs here: a store
   * takes a job whose id is its madeId as plain text without testing it.
   */
  madeId?: string;
  queue: string;
  task: string;
  payload: unknown;
  priority: number;
  maxAttempts: number;
  backoff: BackoffPolicy;
  timeout: number;
  maxStalls: number;
  runAt: number;
  createdAt: number;
  description: string | null;
  tags: string[];
  callbacks: JobCallbacks | null;
  scheduleId: string | null;
  /**
   * The payload as JSON text once something has made it (payloadJsonOf): a store that writes the
   * payload as text and the HTTP answer that echoes it then share one JSON.stringify (~4,000
   * instructions for a small payload, callgrind). resolveSpec makes it (a payload without a JSON
   * form is refused there); never stored as a column. The payload must not change once it is set.
   */
  payloadJson?: string;
}

/** The job's payload as JSON text (`null` for none), made once and kept on the job. */
export function payloadJsonOf(j: NewJob): string {
  let text = j.payloadJson;
  if (text === undefined) j.payloadJson = text = JSON.stringify(j.payload ?? null);
  return text;
}

export const DEFAULTS = {
  queue: 'default',
  priority: PRIORITIES.moderate,
  maxAttempts: 10,
  // Frozen: stores recognise the default policy by identity and keep its JSON text.
  backoff: Object.freeze({ type: 'exponential', base: 1000, cap: 3_600_000, jitter: true }) as BackoffPolicy,
  timeout: 0,
  maxStalls: 3,
  leaseMs: 30_000,
};

/** The default backoff policy's JSON text (type, base, cap, jitter): written once for the stores and the API that recognise the policy by identity. */
export const DEFAULT_BACKOFF_JSON = JSON.stringify(DEFAULTS.backoff);

export function resolvePriority(p: Priority | undefined): number {
  if (p === undefined) return DEFAULTS.priority;
  if (typeof p === 'number') {
    if (!Number.isInteger(p)) throw new TypeError(`priority must be an integer, got ${p}`);
    return p;
  }
  const n = PRIORITIES[p];
  if (n === undefined) throw new TypeError(`unknown priority "${p}" (use high, moderate, low or an integer)`);
  return n;
}

/**
 * The snoozes in a row that ended the job's attempts before the one running now (a claimed job's
 * history ends with that one, no outcome yet; a run of snoozes is one record counting them).
 */
export function snoozesInARow(job: Pick<Job, 'history'>): number {
  const { history } = job;
  let i = history.length - 1;
  if (i >= 0 && !history[i]!.outcome) i--;
  const before = history[i];
  return before?.outcome === 'snoozed' ? (before.snoozes ?? 1) : 0;
}

export function isFinished(state: JobState): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

/**
 * The view of a job a store has just created, built without reading it back. A literal, not a
 * spread of `j`: spreading into an object this wide fell off V8's fast path and cost ~15 µs per
 * job, three quarters of a bulk enqueue.
 */
export function newJobView(j: NewJob, state: JobState, id = j.id): Job {
  return {
    id, queue: j.queue, task: j.task, payload: j.payload, priority: j.priority, state, attempts: 0,
    maxAttempts: j.maxAttempts, backoff: j.backoff, timeout: j.timeout, runAt: j.runAt, createdAt: j.createdAt,
    startedAt: null, endedAt: null, result: null, error: null, history: [], progress: null, stalls: 0,
    maxStalls: j.maxStalls, cancelRequested: false, workerId: null, leaseToken: null, leaseUntil: null,
    description: j.description, tags: j.tags, callbacks: j.callbacks, scheduleId: j.scheduleId,
  };
}
