// Success and failure callbacks are jobs of their own (task `fusion.callback`), added in the
// same atomic step as the outcome, so a callback is never lost and retries like any job.
import type { AttemptRecord, Job, JobError, NewJob } from './job.js';
import type { TaskRegistry } from './registry.js';
import { createHash } from 'node:crypto';
import { INT_MAX, INT_MIN, MAX_ID, resolveSpec } from './spec.js';

export const CALLBACK_TASK = 'fusion.callback';
export const CALLBACK_QUEUE = 'callbacks';

export interface CallbackPayload {
  url: string;
  format?: 'json' | 'form';
  event: 'job.completed' | 'job.failed';
  job: {
    id: string; queue: string; task: string; state: 'completed' | 'failed'; attempts: number; description: string | null;
    result?: unknown; error?: JobError;
  };
  /** A payload's own callback may carry data of the sender's, sent back as given (channels/payload-callback.ts). */
  metadata?: unknown;
}

/**
 * '' for the job's first end of this kind, then '-2', '-3', ... for the next ones, counted from its
 * history: a job retried by hand (failed|cancelled → queued) that fails again has ended again, and
 * is told under an id of its own (before, the first failure's callback id made the store add
 * nothing). Fixed per end (the same history on every worker), so an outcome stored twice still adds
 * one callback. `job.history` is what came before the attempt that ends now.
 */
export function endSuffix(job: Pick<Job, 'history'>, outcome: 'completed' | 'failed'): string {
  let before = 0;
  for (const h of job.history) if (h.outcome === outcome || (outcome === 'failed' && endedByRecovery(h))) before++;
  return before > 0 ? `-${before + 1}` : '';
}

/**
 * '' for the job's first run, then '-2', '-3', ... for its runs after each retry by hand (which
 * follows an end in failure or cancel its history records): for ids per attempt, whose numbers start
 * again at 1 after such a retry (resetAttempts).
 */
export function runSuffix(job: Pick<Job, 'history'>): string {
  let retried = 0;
  for (const h of job.history) if (h.outcome === 'failed' || h.outcome === 'cancelled' || endedByRecovery(h)) retried++;
  return retried > 0 ? `-${retried + 1}` : '';
}

/** A stall that ended its job (stall recovery failed or cancelled it): its record carries the error, a requeued one none. */
function endedByRecovery(h: AttemptRecord): boolean {
  return h.outcome === 'stalled' && h.error !== undefined;
}

/**
 * A follow-up job's id: `base` (the job's id and what names the follow-up) while it fits MAX_ID, else
 * its head and a digest of the whole, the same for the same base on every worker, so an end still
 * adds one job. Before, a job id within 200 characters whose callback id went past them made the
 * enqueue funnel throw out of the worker's outcome (the process died; the job came back to the next
 * worker to kill it too) or out of a maintenance pass.
 */
export function followUpId(base: string): string {
  if (base.length <= MAX_ID) return base;
  // Not cut inside a surrogate pair: a lone half is not well-formed text, which ids must be.
  const cut = 150 - (/[\ud800-\udbff]/.test(base[149]!) ? 1 : 0);
  return `${base.slice(0, cut)}~${createHash('sha256').update(base).digest('base64url')}`;
}

export function callbackJobs(
  job: Job, outcome: 'completed' | 'failed', now: number, result?: unknown, error?: JobError, registry?: TaskRegistry,
): NewJob[] {
  const url = outcome === 'completed' ? job.callbacks?.onSuccess : job.callbacks?.onFailure;
  if (!url) return [];
  const payload: CallbackPayload = {
    url,
    format: job.callbacks?.format ?? 'json',
    event: outcome === 'completed' ? 'job.completed' : 'job.failed',
    job: {
      id: job.id, queue: job.queue, task: job.task, state: outcome, attempts: job.attempts, description: job.description,
      ...(outcome === 'completed' ? { result } : { error: error && { ...error, stack: undefined } }),
    },
  };
  // Prepared as every other job is (the enqueue funnel's resolveSpec: the callback task's defaults
  // and payload check), though it is stored with the outcome, in the same atomic step.
  return [resolveSpec({
    id: followUpId(`${job.id}:${outcome}-callback${endSuffix(job, outcome)}`), queue: CALLBACK_QUEUE, task: CALLBACK_TASK, payload,
    // Within what enqueue takes: SQLite and Redis kept wider priorities before it checked them, and
    // a callback job refused here fails the outcome's store call on every attempt.
    priority: Math.min(INT_MAX, Math.max(INT_MIN, job.priority)),
    timeout: 30_000, description: `${outcome} callback of ${job.id}`,
  }, now, registry)];
}
