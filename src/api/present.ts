// How jobs look from outside: ISO times, no lease token, no stack traces, secret-looking payload
// fields masked (a read-only key must not reveal an OTP or a provider token).
import type { Job, JobError, JobState } from '../core/job.js';
import { secretMasker } from '../core/secret-fields.js';
import { iso } from './times.js';

const maskers = new WeakMap<string[], (v: unknown) => unknown>();
/**
 * One masker per list of extra names (the server keeps one list), built once; the rule is the one
 * logs use (core/secret-fields.ts). It runs on every answer, so it copies only the objects that hold a secret.
 */
export function maskerFor(extra: string[]): (v: unknown) => unknown {
  let m = maskers.get(extra);
  if (!m) maskers.set(extra, (m = secretMasker({ extra, maxDepth: 20 })));
  return m;
}
const maskSecrets = (v: unknown, extra: string[]) => maskerFor(extra)(v);

const errorView = (e: JobError | null) => (e ? { message: e.message, name: e.name ?? null, code: e.code ?? null, retryable: e.retryable } : null);

export function jobView(j: Job, sensitive: string[]) {
  return {
    id: j.id,
    queue: j.queue,
    task: j.task,
    state: j.state,
    priority: j.priority,
    payload: maskSecrets(j.payload, sensitive),
    attempts: j.attempts,
    maxAttempts: j.maxAttempts,
    backoff: j.backoff,
    timeout: j.timeout,
    runAt: iso(j.runAt),
    createdAt: iso(j.createdAt),
    startedAt: iso(j.startedAt),
    endedAt: iso(j.endedAt),
    result: maskSecrets(j.result, sensitive),
    error: errorView(j.error),
    progress: j.progress ?? null,
    stalls: j.stalls,
    cancelRequested: j.cancelRequested,
    workerId: j.workerId,
    description: j.description,
    tags: j.tags,
    callbacks: j.callbacks,
    scheduleId: j.scheduleId,
    history: j.history.length === 0 ? [] : j.history.map((h) => ({ ...h, startedAt: iso(h.startedAt), endedAt: iso(h.endedAt) })),
  };
}

/** The status words the original Fusion (RQ) clients compare against. */
export const RQ_STATUS: Record<JobState, string> = {
  scheduled: 'scheduled',
  queued: 'queued',
  active: 'started',
  completed: 'finished',
  failed: 'failed',
  cancelled: 'canceled',
};

/** The status words Celery clients (/api/tasks) compare against. */
export function celeryStatus(j: Job): string {
  switch (j.state) {
    case 'scheduled':
      return j.attempts > 0 ? 'RETRY' : 'PENDING';
    case 'queued':
      return 'PENDING';
    case 'active':
      return 'STARTED';
    case 'completed':
      return 'SUCCESS';
    case 'failed':
      return 'FAILURE';
    case 'cancelled':
      return 'REVOKED';
  }
}

export const tagValue = (tags: string[], prefix: string) => tags.find((t) => t.startsWith(prefix))?.slice(prefix.length) ?? null;

export function legacyJobInfo(j: Job, sensitive: string[]) {
  return {
    job_id: j.id,
    status: RQ_STATUS[j.state],
    state: j.state,
    queue: j.queue,
    task: j.task,
    task_type: tagValue(j.tags, 'task_type:'),
    description: j.description,
    priority: j.priority,
    payload: maskSecrets(j.payload, sensitive),
    result: maskSecrets(j.result, sensitive),
    error: j.error?.message ?? null,
    retry_attempts: Math.max(0, j.attempts - 1),
    attempts: j.attempts,
    max_attempts: j.maxAttempts,
    created_at: iso(j.createdAt),
    enqueued_at: iso(j.createdAt),
    scheduled_at: iso(j.runAt),
    started_at: iso(j.startedAt),
    ended_at: iso(j.endedAt),
    success_task_handler: j.callbacks?.onSuccess ?? null,
    failed_task_handler: j.callbacks?.onFailure ?? null,
    schedule_id: j.scheduleId,
  };
}
