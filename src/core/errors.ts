// Errors a handler throws to steer retries, and errors the engine raises to callers.

/** Thrown by a handler: fail the job at once, no more attempts. */
export class NonRetryableError extends Error {
  override name = 'NonRetryableError';
  readonly retryable = false;
}

/** Thrown by a handler: retry, optionally after a given delay (e.g. a provider's Retry-After). */
export class RetryableError extends Error {
  override name = 'RetryableError';
  readonly retryable = true;
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
  }
}

/**
 * Thrown by a handler: not now, try again in delayMs. The job is scheduled again and the attempt
 * does not count against maxAttempts (its history records it as snoozed). For waits that are no
 * fault of the job: a destination busy with other work, a window not yet open.
 */
export class SnoozeError extends Error {
  override name = 'SnoozeError';
  constructor(
    readonly delayMs: number,
    message = 'snoozed',
  ) {
    super(message);
    if (!(Number.isFinite(delayMs) && delayMs >= 0)) throw new TypeError(`SnoozeError: delayMs must be a number >= 0, got ${delayMs}`);
  }
}

/**
 * A snooze's delay, or undefined for any other error. Read by name, not by class: a SnoozeError
 * from a second copy of this package snoozes too.
 */
export function snoozeDelayOf(err: unknown): number | undefined {
  if (!(err instanceof Error) || err.name !== 'SnoozeError') return undefined;
  const v = (err as { delayMs?: unknown }).delayMs;
  return typeof v === 'number' && v >= 0 ? v : undefined;
}

/** The longest delay a retry or a snooze may ask for: a year. Stores keep due times as integer ms. */
export const MAX_DELAY_MS = 365 * 86_400_000;

/** A delay as a store keeps it: whole milliseconds, 0 to MAX_DELAY_MS. */
export function storedDelay(ms: number): number {
  return Math.min(MAX_DELAY_MS, Math.max(0, Math.round(ms)));
}

/**
 * The worker that claimed a job has no handler for its task. Retryable, with the job's backoff: in a
 * rolling deploy an old worker beside new ones may claim a task only the new code knows, and a later
 * try may reach a worker that has it (as Sidekiq retries a job whose class a process cannot load).
 * Attempts count, so a task no worker knows still ends failed.
 */
export class UnknownTaskError extends Error {
  override name = 'UnknownTaskError';
  readonly retryable = true;
  readonly code = 'unknown_task';
  constructor(readonly task: string, workerId: string) {
    super(`no handler is registered for task "${task}" on worker ${workerId}; retried with backoff, as another worker may have one`);
  }
}

/** The attempt ran past its timeout. Retryable. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
  readonly retryable = true;
}

/** The job was cancelled while it ran. */
export class CancelledError extends Error {
  override name = 'CancelledError';
  readonly retryable = false;
}

/** A caller's mistake or a refused operation; `code` is stable and shown to API clients. */
export class FusionError extends Error {
  override name = 'FusionError';
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly status = 400,
  ) {
    super(message);
  }
}

export const notFound = (what: string, id: string) =>
  new FusionError('not_found', `${what} ${id} not found`, { id }, 404);

export const conflict = (message: string, details: Record<string, unknown> = {}) =>
  new FusionError('conflict', message, details, 409);

/** A library caller's argument refused, naming it (as the HTTP API's 400 does). */
export const invalidRequest = (field: string, message: string, value: unknown) =>
  new FusionError('invalid_request', message, { field, value: String(value) });

/** Decide whether an error thrown by a handler should be retried. */
export function isRetryable(err: unknown): boolean {
  if (err && typeof err === 'object') {
    const r = (err as { retryable?: unknown }).retryable;
    if (typeof r === 'boolean') return r;
  }
  return true; // errors are retryable unless they say otherwise (network faults included)
}

export function retryAfterOf(err: unknown): number | undefined {
  const v = err && typeof err === 'object' ? (err as { retryAfterMs?: unknown }).retryAfterMs : undefined;
  return typeof v === 'number' && v >= 0 ? v : undefined;
}
