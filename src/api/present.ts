// How jobs look from outside: ISO times, no lease token, no stack traces, secret-looking payload
// fields masked (a read-only key must not reveal an OTP or a provider token).
import type { Job, JobError, JobState } from '../core/job.js';
import { SECRET_KEYS } from '../logging.js';
import { iso } from './times.js';

/**
 * Mask secret-looking fields (built-in names plus `extra`), copying only the objects that hold one:
 * this runs on every answer, so the common case (nothing to mask) allocates nothing.
 */
export function makeMasker(extra: string[]): (v: unknown) => unknown {
  const keys = new Set([...SECRET_KEYS, ...extra].map((k) => k.toLowerCase()));
  // Payloads reuse a handful of field names; remembering the verdict per name saves a lowercased
  // copy of every key of every answer. Bounded: a flood of distinct names only resets it.
  const verdicts = new Map<string, boolean>();
  const secret = (k: string): boolean => {
    let r = verdicts.get(k);
    if (r === undefined) {
      r = keys.has(k.toLowerCase());
      if (verdicts.size >= 10_000) verdicts.clear();
      verdicts.set(k, r);
    }
    return r;
  };
  const needs = (v: unknown, depth: number): boolean => {
    if (v === null || typeof v !== 'object' || depth > 20) return false;
    if (Array.isArray(v)) return v.some((x) => needs(x, depth + 1));
    for (const k in v) if (secret(k) || needs((v as Record<string, unknown>)[k], depth + 1)) return true;
    return false;
  };
  const mask = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v !== 'object' || depth > 20 || !needs(v, depth)) return v;
    if (Array.isArray(v)) return v.map((x) => mask(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = secret(k) ? '[redacted]' : mask(x, depth + 1);
    return out;
  };
  return (v) => mask(v, 0);
}

const maskers = new WeakMap<string[], (v: unknown) => unknown>();
/** One masker per field list (the server keeps one list), built once. */
export function maskerFor(extra: string[]): (v: unknown) => unknown {
  let m = maskers.get(extra);
  if (!m) maskers.set(extra, (m = makeMasker(extra)));
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
export type JobView = ReturnType<typeof jobView>;

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

const tagValue = (tags: string[], prefix: string) => tags.find((t) => t.startsWith(prefix))?.slice(prefix.length) ?? null;

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
