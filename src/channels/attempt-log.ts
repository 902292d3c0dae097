// Per-attempt log lines in the original Fusion worker's shape (its Log.execution_* calls, shipped to
// Elasticsearch): job_id, task (SMS, EMAIL, PN, WEBHOOK, WHATSAPP, REMINDER), task_type, status,
// host, log_time, message, job_result, tags. Wrapped around every channel task, so dashboards and
// alerts built on the original's index keep working. Secrets never reach a line: payload fields
// named like secrets are masked, any configured credential value is scrubbed from the text, and an
// OTP's code is masked in its text (otpMasked).
import { hostname } from 'node:os';
import { CancelledError, isRetryable, snoozeDelayOf } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { Job } from '../core/job.js';
import type { Logger } from '../core/logger.js';
import type { TaskContext, TaskHandler } from '../core/registry.js';
import { secretMasker } from '../core/secret-fields.js';
import type { ChannelTask } from './channel.js';
import { capText } from './http/answer.js';
import { SMS_OTP_TASK } from './sms/channel.js';
import { maskCodeWords } from './sms/payload.js';
import { isPlainObject } from '../core/plain-object.js';

/** The original worker's task labels, by channel. */
export const TASK_LABELS: Record<string, string> = {
  sms: 'SMS', email: 'EMAIL', push: 'PN', webhook: 'WEBHOOK', whatsapp: 'WHATSAPP', reminder: 'REMINDER',
};

/** job_result and payload are cut to this many characters (an ES document stays small). */
export const MAX_LOG_RESULT = 2048;

export type AttemptStatus = 'started' | 'completed' | 'retrying' | 'failed' | 'snoozed';

/** One line, as the original wrote it (plus the attempt number and the masked payload). */
export interface AttemptLogLine {
  job_id: string;
  task: string;
  task_type: string | null;
  status: AttemptStatus;
  host: string;
  log_time: string;
  message: string;
  job_result?: string;
  tags: string;
  job_tags: string[];
  attempt: number;
  queue: string;
  payload: string;
}

export interface AttemptLogOptions {
  logger: Logger;
  clock: Clock;
  /** Credential values from config: scrubbed wherever they appear in a line. */
  secrets?: string[];
  host?: string;
}

/**
 * The value with secret-named fields masked, by the rule answers use (core/secret-fields.ts), at any
 * depth. A payload with nothing to mask (the common case) comes back as is, with nothing allocated.
 */
export const maskPayload: (v: unknown) => unknown = secretMasker({ maxDepth: 20, plainOnly: true });

/**
 * An OTP payload for a log line: its text (`message`, `text`) and its flow variables (`context`)
 * with every word holding a digit masked, length kept, so a line still shows what was sent, not
 * the code. Copied only where it masks something.
 */
function otpMasked(v: unknown): unknown {
  if (!isPlainObject(v)) return v;
  let out: Record<string, unknown> | null = null;
  for (const k of ['message', 'text']) {
    const t = v[k];
    if (typeof t === 'string' && /\d/.test(t)) (out ??= { ...v })[k] = maskCodeWords(t);
  }
  const c = v.context;
  if (isPlainObject(c) && Object.values(c).some((x) => typeof x === 'string' || typeof x === 'number')) {
    (out ??= { ...v }).context = Object.fromEntries(Object.entries(c).map(([k, x]) => [k, typeof x === 'string' || typeof x === 'number' ? maskCodeWords(String(x)) : x]));
  }
  return out ?? v;
}

const isOtp = (job: Job, taskType: string | null) => job.task === SMS_OTP_TASK || (taskType !== null && /^otp$/i.test(taskType));

const TAG = /^task_type:(.+)$/;
const LOG_TAG = /^log_tag:(.+)$/;

/** The job's task type: its `task_type:X` tag, else the payload's task_type, else OTP for an OTP. */
export function taskTypeOf(job: Job): string | null {
  for (const t of job.tags) {
    const m = TAG.exec(t);
    if (m) return m[1]!;
  }
  const p = job.payload as Record<string, unknown> | null;
  if (p && typeof p === 'object') {
    for (const k of ['task_type', 'taskType']) if (typeof p[k] === 'string' && p[k]) return p[k] as string;
    if (p.isOTP === true || p.isOTP === 1 || p.isOTP === '1' || p.otp === true) return 'OTP';
  }
  return null;
}

function text(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(maskPayload(v)) ?? '';
  } catch {
    return String(v);
  }
}

const STARTED = 'Execution Started';
const SUCCESSFUL = 'Execution Successful';

/**
 * The fields every line of one attempt shares, worked out once per attempt and only when a line is
 * written: the payload is masked and serialized once for both lines, and a silent logger (or one
 * above info) costs the attempt nothing.
 */
interface AttemptFields {
  job_id: string;
  task: string;
  task_type: string | null;
  host: string;
  tags: string;
  job_tags: string[];
  attempt: number;
  queue: string;
  payload: string;
}

/** Wrap a channel task so each attempt writes its started and outcome lines. */
export function withAttemptLog(task: ChannelTask, label: string, opts: AttemptLogOptions): ChannelTask {
  const host = opts.host ?? hostname();
  const { logger, clock } = opts;
  const secrets = (opts.secrets ?? []).filter((s) => s.length > 0);
  const scrub = (s: string) => {
    for (const secret of secrets) if (s.includes(secret)) s = s.split(secret).join('***');
    return s;
  };
  const enabled = (level: string) => logger.isLevelEnabled?.(level) ?? true;
  const fields = (payload: unknown, ctx: TaskContext): AttemptFields => {
    const job = ctx.job;
    const taskType = taskTypeOf(job);
    let logTag: string | undefined;
    for (const t of job.tags) {
      const m = LOG_TAG.exec(t);
      if (m && m[1]) {
        logTag = m[1];
        break;
      }
    }
    return {
      job_id: job.id,
      task: label,
      task_type: taskType,
      host,
      tags: logTag ?? (taskType ? `${label}_${taskType}` : label),
      job_tags: secrets.length ? job.tags.map(scrub) : job.tags,
      attempt: ctx.attempt,
      queue: job.queue,
      payload: scrub(capText(text(isOtp(job, taskType) ? otpMasked(payload) : payload), MAX_LOG_RESULT)),
    };
  };
  // One literal per line (no spread of the shared fields): pino serializes it once, as is.
  const line = (f: AttemptFields, status: AttemptStatus, message: string, result?: unknown): AttemptLogLine => {
    const out: AttemptLogLine = {
      job_id: f.job_id, task: f.task, task_type: f.task_type, status, host: f.host,
      log_time: new Date(clock.now()).toISOString(), message,
      tags: f.tags, job_tags: f.job_tags, attempt: f.attempt, queue: f.queue, payload: f.payload,
    };
    if (result !== undefined) out.job_result = scrub(capText(text(result), MAX_LOG_RESULT));
    return out;
  };
  const inner = task.handler;
  const handler: TaskHandler = async (payload: unknown, ctx: TaskContext) => {
    let f: AttemptFields | null = null;
    if (enabled('info')) logger.info(line((f = fields(payload, ctx)), 'started', STARTED), STARTED);
    try {
      const result = await inner(payload, ctx);
      if (enabled('info')) logger.info(line((f ??= fields(payload, ctx)), 'completed', SUCCESSFUL, result), SUCCESSFUL);
      return result;
    } catch (err) {
      // An abort's reason is what the worker records (timeout, cancel, shutdown), whatever the handler threw.
      const cause = ctx.signal.aborted && ctx.signal.reason !== undefined ? ctx.signal.reason : err;
      if (snoozeDelayOf(cause) !== undefined) {
        // Not a failure: the job is put off, the attempt not counted (a send rate full, a slow host's share).
        if (enabled('info')) logger.info(line((f ??= fields(payload, ctx)), 'snoozed', scrub(capText(`Execution Snoozed: ${(cause as Error).message}`, MAX_LOG_RESULT))), 'Execution Snoozed');
        throw err;
      }
      const job = ctx.job;
      const retrying = !(cause instanceof CancelledError) && isRetryable(cause) && job.attempts < job.maxAttempts;
      if (!enabled(retrying ? 'warn' : 'error')) throw err;
      const e = cause as { message?: string; raw?: unknown; code?: string; status?: number };
      const msg = e?.message ?? String(cause);
      const result = e?.raw ?? (e?.code ? { code: e.code, status: e.status } : undefined);
      f ??= fields(payload, ctx);
      if (retrying) logger.warn(line(f, 'retrying', scrub(capText(`Execution Retry: ${msg}`, MAX_LOG_RESULT)), result), 'Execution Retry');
      else logger.error(line(f, 'failed', scrub(capText(`Execution Failed: ${msg}`, MAX_LOG_RESULT)), result), 'Execution Failed');
      throw err;
    }
  };
  return { ...task, handler };
}
