// Per-attempt log lines in the original Fusion worker's shape (its Log.execution_* calls, shipped to
// Elasticsearch): job_id, task (SMS, EMAIL, PN, WEBHOOK, WHATSAPP, REMINDER), task_type, status,
// host, log_time, message, job_result, tags. Wrapped around every channel task, so dashboards and
// alerts built on the original's index keep working. Secrets never reach a line: payload fields
// named like secrets are masked, and any configured credential value is scrubbed from the text.
import { hostname } from 'node:os';
import { CancelledError, isRetryable } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { Job } from '../core/job.js';
import type { Logger } from '../core/logger.js';
import type { TaskContext, TaskHandler } from '../core/registry.js';
import { SECRET_KEYS } from '../logging.js';
import type { ChannelTask } from './channel.js';
import { isSecretName } from './secrets.js';
import { capText } from './http/answer.js';

/** The original worker's task labels, by channel. */
export const TASK_LABELS: Record<string, string> = {
  sms: 'SMS', email: 'EMAIL', push: 'PN', webhook: 'WEBHOOK', whatsapp: 'WHATSAPP', reminder: 'REMINDER',
};

/** job_result and payload are cut to this many characters (an ES document stays small). */
export const MAX_LOG_RESULT = 2048;

export type AttemptStatus = 'started' | 'completed' | 'retrying' | 'failed';

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

const SECRET_SET = new Set(SECRET_KEYS.map((k) => k.toLowerCase()));
const secretKey = (k: string) => SECRET_SET.has(k.toLowerCase()) || isSecretName(k);

/** A copy with secret-named fields masked, at any depth. */
export function maskPayload(v: unknown, depth = 0): unknown {
  if (depth > 20 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => maskPayload(x, depth + 1));
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = secretKey(k) && x !== null && typeof x !== 'boolean' ? '[redacted]' : maskPayload(x, depth + 1);
  return out;
}

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

/** Wrap a channel task so each attempt writes its started and outcome lines. */
export function withAttemptLog(task: ChannelTask, label: string, opts: AttemptLogOptions): ChannelTask {
  const host = opts.host ?? hostname();
  const secrets = (opts.secrets ?? []).filter((s) => s.length > 0);
  const scrub = (s: string) => {
    for (const secret of secrets) if (s.includes(secret)) s = s.split(secret).join('***');
    return s;
  };
  const inner = task.handler;
  const handler: TaskHandler = async (payload: unknown, ctx: TaskContext) => {
    const job = ctx.job;
    const taskType = taskTypeOf(job);
    const logTag = job.tags.map((t) => LOG_TAG.exec(t)?.[1]).find(Boolean);
    const base = {
      job_id: job.id,
      task: label,
      task_type: taskType,
      host,
      tags: logTag ?? (taskType ? `${label}_${taskType}` : label),
      job_tags: job.tags.map(scrub),
      attempt: ctx.attempt,
      queue: job.queue,
      payload: scrub(capText(text(payload), MAX_LOG_RESULT)),
    };
    const line = (status: AttemptStatus, message: string, result?: unknown): AttemptLogLine => ({
      ...base,
      status,
      log_time: new Date(opts.clock.now()).toISOString(),
      message: scrub(capText(message, MAX_LOG_RESULT)),
      ...(result === undefined ? {} : { job_result: scrub(capText(text(result), MAX_LOG_RESULT)) }),
    });
    opts.logger.info(line('started', 'Execution Started'), 'Execution Started');
    try {
      const result = await inner(payload, ctx);
      opts.logger.info(line('completed', 'Execution Successful', result), 'Execution Successful');
      return result;
    } catch (err) {
      // An abort's reason is what the worker records (timeout, cancel, shutdown), whatever the handler threw.
      const cause = ctx.signal.aborted && ctx.signal.reason !== undefined ? ctx.signal.reason : err;
      const retrying = !(cause instanceof CancelledError) && isRetryable(cause) && job.attempts < job.maxAttempts;
      const e = cause as { message?: string; raw?: unknown; code?: string; status?: number };
      const msg = e?.message ?? String(cause);
      const result = e?.raw ?? (e?.code ? { code: e.code, status: e.status } : undefined);
      if (retrying) opts.logger.warn(line('retrying', `Execution Retry: ${msg}`, result), 'Execution Retry');
      else opts.logger.error(line('failed', `Execution Failed: ${msg}`, result), 'Execution Failed');
      throw err;
    }
  };
  return { ...task, handler };
}
