// Job specs → jobs: validation (each error names its field), the task's defaults, the task's payload
// check, and the id. The enqueue funnel (enqueue.ts) runs this for every path that makes jobs.
import { FusionError } from './errors.js';
import { DEFAULTS, resolvePriority, type JobSpec, type NewJob } from './job.js';
import { validateBackoff } from './backoff.js';
import { newId } from './ids.js';
import { TIME_MAX, TIME_MIN, WINDOW_TEXT } from './times.js';
import type { TaskRegistry } from './registry.js';

// "." and "..": URLs (/v1/queues/NAME, /v1/jobs/ID) cannot carry them, as browsers, proxies and
// fetch resolve such path segments away, so a job or queue named so could never be opened or acted on.
export const QUEUE_NAME = /^(?!\.\.?$)[A-Za-z0-9_.:-]{1,100}$/;
/** The longest job id; follow-up jobs named after their job keep to it too (callbacks.ts followUpId). */
export const MAX_ID = 200;
/**
 * The widest integer every store keeps for priority, maxAttempts and maxStalls: PostgreSQL's
 * integer columns. SQLite and Redis took more, where PostgreSQL refused the add with its own error.
 */
export const INT_MIN = -(2 ** 31);
export const INT_MAX = 2 ** 31 - 1;
/** A callback's URL, as the HTTP API's schema takes it (api/schemas/common.ts httpUrl uses these). */
export const HTTP_URL_PATTERN = '^https?://[^\\s]+$';
export const MAX_URL = 2048;
const HTTP_URL = new RegExp(HTTP_URL_PATTERN);
const DOT_SEGMENT = /^\.\.?$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const invalid = (field: string, message: string, extra: Record<string, unknown> = {}) =>
  new FusionError('invalid_job', message, { field, ...extra }, 400);

/** A job's due time: within the window every stored time lies in, so each reads back as a Date. */
export function toMs(v: number | Date, field: string): number {
  const t = v instanceof Date ? v.getTime() : v;
  if (typeof t !== 'number' || !Number.isFinite(t)) throw invalid(field, `${field} must be a valid time`);
  return inWindow(Math.round(t), field);
}

function inWindow(t: number, field: string): number {
  if (!(t >= TIME_MIN && t < TIME_MAX)) throw invalid(field, `${field} must lie between ${WINDOW_TEXT}`, { value: t, min: TIME_MIN, max: TIME_MAX });
  return t;
}

function nonNegInt(v: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(field, `${field} must be an integer from ${min} to ${max}`);
  return v;
}

/** Run a task's payload check; its error's field is re-pointed under `payload`. */
function checkPayload(validate: (p: unknown) => void, payload: unknown): void {
  try {
    validate(payload);
  } catch (e) {
    if (e instanceof FusionError) {
      const field = typeof e.details.field === 'string' && e.details.field ? `payload.${e.details.field}` : 'payload';
      throw new FusionError(e.code === 'invalid_job' ? 'invalid_payload' : e.code, e.message, { ...e.details, field }, e.status);
    }
    throw invalid('payload', (e as Error).message ?? String(e));
  }
}

/**
 * A payload is stored as JSON text. One without a JSON form was refused by the store with an error
 * of its own (a BigInt's or a cycle's TypeError), or, a function or a symbol, was refused by
 * SQLite (NOT NULL) while PostgreSQL kept null and Redis no payload at all.
 */
function jsonOfPayload(payload: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(payload);
  } catch (e) {
    throw invalid('payload', `payload must be JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (text === undefined) throw invalid('payload', `payload must be JSON (a ${typeof payload} has no JSON form)`);
  return text;
}

/**
 * Callbacks are read when the job ends: a URL that is no http(s) URL failed its callback job then,
 * one given as a bare string was no callback at all, and an unknown format was posted as JSON.
 */
function checkCallbacks(c: unknown): void {
  if (typeof c !== 'object' || Array.isArray(c)) throw invalid('callbacks', 'callbacks must be an object { onSuccess?, onFailure?, format? }');
  const cb = c as Record<string, unknown>;
  for (const field of ['onSuccess', 'onFailure'] as const) {
    const url = cb[field];
    if (url != null && (typeof url !== 'string' || url.length > MAX_URL || !HTTP_URL.test(url))) {
      throw invalid(`callbacks.${field}`, `callbacks.${field} must be an http(s) URL of at most ${MAX_URL} characters`);
    }
  }
  if (cb.format != null && cb.format !== 'json' && cb.format !== 'form') throw invalid('callbacks.format', 'callbacks.format must be json or form');
}

/** The last queue name QUEUE_NAME accepted: the jobs of a batch mostly share one, tested once. */
let lastGoodQueue: string | undefined;
/** The last task name found well-formed, likewise (a regular expression per job was ~20 ns of a batch add's). */
let lastGoodTask: string | undefined;

/**
 * Validate a spec and resolve defaults into a job ready for a store. Throws FusionError naming the
 * field. `idTime`: the epoch ms a made id carries (newId), read once by a caller resolving a batch.
 */
export function resolveSpec(spec: JobSpec, now: number, registry?: TaskRegistry, idTime?: number): NewJob {
  if (!spec || typeof spec !== 'object') throw invalid('spec', 'a job spec must be an object');
  if (typeof spec.task !== 'string' || spec.task.length === 0 || spec.task.length > 200) {
    throw invalid('task', 'task must be a non-empty string of at most 200 characters');
  }
  // As an id's: the store keeps U+FFFD in its place, and the job then names a task no worker has.
  if (spec.task !== lastGoodTask) {
    if (LONE_SURROGATE.test(spec.task)) throw invalid('task', 'task must be well-formed text (a lone UTF-16 surrogate has no UTF-8 form)');
    lastGoodTask = spec.task;
  }
  const defaults = registry?.defaultsOf(spec.task) ?? {};
  const queue = spec.queue ?? defaults.queue ?? DEFAULTS.queue;
  if (queue !== lastGoodQueue) {
    if (typeof queue !== 'string' || !QUEUE_NAME.test(queue)) {
      throw invalid('queue', 'queue must be 1-100 characters of letters, digits, _ . : -, and not . or ..', { value: queue });
    }
    lastGoodQueue = queue;
  }
  if (spec.id !== undefined && (typeof spec.id !== 'string' || spec.id.length === 0 || spec.id.length > MAX_ID)) {
    throw invalid('id', `id must be a non-empty string of at most ${MAX_ID} characters`);
  }
  // A lone surrogate has no UTF-8 form: a store would keep U+FFFD in its place, and the id it gives
  // back (events, lists) would not be the id the caller holds.
  if (spec.id !== undefined && LONE_SURROGATE.test(spec.id)) {
    throw invalid('id', 'id must be well-formed text (a lone UTF-16 surrogate has no UTF-8 form)');
  }
  if (spec.id !== undefined && DOT_SEGMENT.test(spec.id)) {
    throw invalid('id', 'id must not be . or .. (a URL cannot carry them: /v1/jobs/.. is /v1/)');
  }
  let priority: number;
  try {
    priority = resolvePriority(spec.priority ?? defaults.priority);
  } catch (e) {
    throw invalid('priority', (e as Error).message);
  }
  if (priority < INT_MIN || priority > INT_MAX) throw invalid('priority', `priority must be an integer from ${INT_MIN} to ${INT_MAX}`);
  let runAt = now;
  if (spec.runAt !== undefined && spec.runAt !== null) runAt = toMs(spec.runAt, 'runAt');
  else if (spec.delay !== undefined && spec.delay !== null) runAt = inWindow(now + nonNegInt(spec.delay, 'delay'), 'delay');
  const backoff = spec.backoff ?? defaults.backoff ?? DEFAULTS.backoff;
  // The default policy is Fusion's own and valid.
  const backoffError = backoff === DEFAULTS.backoff ? null : validateBackoff(backoff);
  if (backoffError) throw invalid('backoff', backoffError);
  if (spec.tags !== undefined && (!Array.isArray(spec.tags) || !spec.tags.every((t) => typeof t === 'string'))) {
    throw invalid('tags', 'tags must be a list of strings');
  }
  // A number here was kept by SQLite as text ("42.0"), an object refused by it with a bare
  // RangeError, and both made PostgreSQL's add throw a TypeError; Redis kept them as given.
  if (spec.description != null && typeof spec.description !== 'string') throw invalid('description', 'description must be a string');
  if (spec.scheduleId != null && typeof spec.scheduleId !== 'string') throw invalid('scheduleId', 'scheduleId must be a string');
  if (spec.callbacks != null) checkCallbacks(spec.callbacks);
  const payload = spec.payload === undefined ? null : spec.payload;
  if (defaults.validate) checkPayload(defaults.validate, payload);
  const payloadJson = jsonOfPayload(payload);
  const madeId = spec.id === undefined ? newId(idTime) : undefined;
  return {
    id: madeId ?? spec.id!,
    madeId,
    queue,
    task: spec.task,
    payload,
    priority,
    maxAttempts: nonNegInt(spec.maxAttempts ?? defaults.maxAttempts ?? DEFAULTS.maxAttempts, 'maxAttempts', 1, INT_MAX),
    backoff,
    timeout: nonNegInt(spec.timeout ?? defaults.timeout ?? DEFAULTS.timeout, 'timeout'),
    maxStalls: nonNegInt(spec.maxStalls ?? defaults.maxStalls ?? DEFAULTS.maxStalls, 'maxStalls', 0, INT_MAX),
    runAt,
    createdAt: now,
    description: spec.description ?? null,
    tags: spec.tags ?? [],
    callbacks: spec.callbacks ?? null,
    scheduleId: spec.scheduleId ?? null,
    // Made here, once: every store writes this text (payloadJsonOf).
    payloadJson,
  };
}
