// Success and failure callbacks are jobs of their own (task `fusion.callback`), added in the
// same atomic step as the outcome, so a callback is never lost and retries like any job.
import { DEFAULTS, type Job, type JobError, type NewJob } from './job.js';

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
}

export function callbackJobs(job: Job, outcome: 'completed' | 'failed', now: number, result?: unknown, error?: JobError): NewJob[] {
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
  return [{
    id: `${job.id}:${outcome}-callback`, queue: CALLBACK_QUEUE, task: CALLBACK_TASK, payload, priority: job.priority,
    maxAttempts: DEFAULTS.maxAttempts, backoff: DEFAULTS.backoff, timeout: 30_000, maxStalls: DEFAULTS.maxStalls,
    runAt: now, createdAt: now, description: `${outcome} callback of ${job.id}`, tags: [], callbacks: null, scheduleId: null,
  }];
}
