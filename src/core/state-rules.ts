// A job's state rules, written once: which operator action each state allows and where it leads,
// what each attempt outcome does, what a lost lease does (stall recovery), and how an ended
// attempt is recorded. Every store applies these (SQL and Lua guards are built from the tables
// below); tests/contract/areas/state-rules.ts drives every row on every store, so a store that
// disagrees fails there rather than in production.
import type { AttemptOutcome, JobError, JobState } from './job.js';
import { conflict, type FusionError } from './errors.js';
import type { StoreEventType } from './store.js';

/** What an operator (API, dashboard, terminal) can do to one job. */
export type OperatorAction = 'cancel' | 'reschedule' | 'promote' | 'retry' | 'remove';

interface ActionRule {
  /** The states the action is allowed from. */
  from: readonly JobState[];
  /** The conflict message for any other state. */
  refusal(id: string, state: JobState): string;
}

export const ACTION_RULES: Readonly<Record<OperatorAction, ActionRule>> = {
  // An active job is not ended here: it is asked to stop (cancelRequested) and its worker ends it.
  cancel: { from: ['scheduled', 'queued', 'active'], refusal: (id, s) => `job ${id} is ${s} and cannot be cancelled` },
  reschedule: { from: ['scheduled', 'queued'], refusal: (id, s) => `job ${id} is ${s}; only scheduled or queued jobs can be rescheduled` },
  promote: { from: ['scheduled'], refusal: (id, s) => `job ${id} is ${s}; only scheduled jobs can be promoted` },
  retry: { from: ['failed', 'cancelled'], refusal: (id, s) => `job ${id} is ${s}; only failed or cancelled jobs can be retried` },
  // An active job's worker still holds it: deleting it would leave the worker reporting on nothing.
  remove: { from: ['scheduled', 'queued', 'completed', 'failed', 'cancelled'], refusal: (id) => `job ${id} is active; cancel it first` },
};

export function allows(action: OperatorAction, state: JobState): boolean {
  return ACTION_RULES[action].from.includes(state);
}

/** The conflict (409) an action gets from a state it is not allowed from. */
export function refusal(action: OperatorAction, id: string, state: JobState): FusionError {
  return conflict(ACTION_RULES[action].refusal(id, state), { id, state });
}

/** Throws the action's conflict unless `state` allows it. */
export function guardAction(action: OperatorAction, id: string, state: JobState): void {
  if (!allows(action, state)) throw refusal(action, id, state);
}

/** The states an action is allowed from, as one comma-framed string (",a,b,") for a Lua guard's string.find. */
export function allowedList(action: OperatorAction): string {
  return `,${ACTION_RULES[action].from.join(',')},`;
}

/** Where an allowed action leaves the job ('removed': deleted; 'cancel-requested': still active, asked to stop). */
export function actionResult(action: OperatorAction, state: JobState, runAt: number, now: number): JobState | 'removed' | 'cancel-requested' {
  switch (action) {
    case 'cancel':
      return state === 'active' ? 'cancel-requested' : 'cancelled';
    case 'reschedule':
      return runAt > now ? 'scheduled' : 'queued';
    case 'promote':
    case 'retry':
      return 'queued';
    case 'remove':
      return 'removed';
  }
}

/** The end of an attempt, as the worker reports it (Outcome.kind). */
export type OutcomeKind = 'completed' | 'retry' | 'failed' | 'cancelled' | 'released' | 'snoozed';

interface OutcomeRule {
  /** The attempt's outcome in the job's history. */
  recorded: AttemptOutcome;
  /** false: the attempt is given back and does not count (attempts goes down by one). */
  counts: boolean;
  /** true: the job ends (endedAt is set). */
  ends: boolean;
  /**
   * true: if the job was asked to cancel during the attempt, it ends cancelled instead
   * (CANCELLED_AT_ATTEMPT_END), as stall recovery does. A handler that fails before its worker hears
   * of the request would otherwise run the job again; a completion or a failure stands.
   */
  yieldsToCancel: boolean;
}

/**
 * Every outcome applies only while the reporting worker's lease token still holds an active job;
 * otherwise nothing changes and the outcome is reported as not applied.
 */
export const OUTCOME_RULES: Readonly<Record<OutcomeKind, OutcomeRule>> = {
  completed: { recorded: 'completed', counts: true, ends: true, yieldsToCancel: false },
  retry: { recorded: 'retrying', counts: true, ends: false, yieldsToCancel: true },
  failed: { recorded: 'failed', counts: true, ends: true, yieldsToCancel: false },
  cancelled: { recorded: 'cancelled', counts: true, ends: true, yieldsToCancel: false },
  released: { recorded: 'released', counts: false, ends: false, yieldsToCancel: true },
  snoozed: { recorded: 'snoozed', counts: false, ends: false, yieldsToCancel: true },
};

export const OUTCOME_KINDS = Object.keys(OUTCOME_RULES) as OutcomeKind[];

/**
 * The error of a job whose attempt ended in a retry, snooze or release after a cancel request
 * (OutcomeRule.yieldsToCancel): it ends cancelled, the attempt counted and recorded as cancelled, as
 * stall recovery counts it. A release may come before the attempt began (a job waiting for a slot
 * when its worker stops): the message says only that a worker held the job.
 */
export const CANCELLED_AT_ATTEMPT_END: JobError = {
  message: 'cancelled: the request came while a worker held it', retryable: false, name: 'CancelledError',
};

/**
 * The state an applied outcome leaves the job in. A retry is always scheduled, even when due at
 * once: a claim promotes due scheduled jobs first, and one rule is simpler for every store.
 */
export function outcomeState(kind: OutcomeKind): JobState {
  switch (kind) {
    case 'retry':
    case 'snoozed':
      return 'scheduled';
    case 'released':
      return 'queued';
    default:
      return kind;
  }
}

/** The store event an applied outcome gives (a job put off or retried later is due again at its retryAt). */
export function outcomeEvent(kind: OutcomeKind): StoreEventType {
  switch (kind) {
    case 'retry':
      return 'retrying';
    case 'released':
      return 'queued';
    case 'snoozed':
      return 'scheduled';
    default:
      return kind;
  }
}

/** What recovery does with an active job whose lease ran out (its worker is presumed lost). */
export interface StallDecision {
  state: 'queued' | 'failed' | 'cancelled';
  /** The error the job ends with, for 'failed' and 'cancelled'. */
  error: JobError | null;
  /** false: the lost attempt does not count against maxAttempts (attempts goes down by one). */
  countsAttempt: boolean;
}

export const CANCELLED_WHILE_LOST: JobError = { message: 'cancelled while its worker was lost', retryable: false, name: 'CancelledError' };

/** Numbers, or placeholders a store's own code fills in (the PostgreSQL recovery function does). */
export function stalledTooOften(stalls: number | string, maxStalls: number | string): JobError {
  return {
    message: `job stalled ${stalls} times (limit ${maxStalls}): its worker lost the lease each time`,
    retryable: false, name: 'StalledError', code: 'stalled',
  };
}

/**
 * Stall recovery, River's rescuer in one function: a job asked to cancel ends cancelled; a job
 * past its stall limit fails; any other goes back to its queue without spending an attempt.
 * Every branch counts one more stall and records the attempt as 'stalled'.
 */
export function stallDecision(job: { stalls: number; maxStalls: number; cancelRequested: boolean }): StallDecision {
  if (job.cancelRequested) return { state: 'cancelled', error: CANCELLED_WHILE_LOST, countsAttempt: true };
  if (job.stalls + 1 > job.maxStalls) return { state: 'failed', error: stalledTooOften(job.stalls + 1, job.maxStalls), countsAttempt: true };
  return { state: 'queued', error: null, countsAttempt: false };
}
