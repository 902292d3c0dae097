// The `fusion.callback` task: POST a job's outcome to the URL its enqueuer gave.
import { NonRetryableError, RetryableError } from '../core/errors.js';
import type { CallbackPayload } from '../core/callbacks.js';
import type { TaskContext } from '../core/registry.js';

/** Status codes worth another try; any other 4xx means the request itself is wrong. */
const RETRY_STATUSES = new Set([408, 425, 429]);

export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The original Fusion worker's callback: form fields, RQ's status words, retries made so far. */
export function legacyForm(p: CallbackPayload): URLSearchParams {
  const f = new URLSearchParams({ description: p.job.description ?? '', job_id: p.job.id });
  if (p.job.state === 'completed') {
    f.set('status', 'finished');
    f.set('retry_attempts', String(Math.max(0, p.job.attempts - 1)));
  } else {
    f.set('status', 'failed');
    f.set('failure_trace', p.job.error?.message ?? '');
  }
  return f;
}

export async function deliverCallback(p: CallbackPayload, ctx: TaskContext): Promise<{ status: number }> {
  const form = p.format === 'form';
  const res = await fetch(p.url, {
    method: 'POST',
    headers: {
      'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
      'user-agent': 'fusion-callback/1',
    },
    body: form ? legacyForm(p).toString() : JSON.stringify({ event: p.event, job: p.job }),
    signal: ctx.signal,
  });
  await res.arrayBuffer().catch(() => undefined);
  if (res.ok) return { status: res.status };
  const msg = `callback ${p.url} answered ${res.status}`;
  if (res.status >= 500 || RETRY_STATUSES.has(res.status)) {
    throw new RetryableError(msg, retryAfterMs(res.headers.get('retry-after'), Date.now()));
  }
  throw new NonRetryableError(msg);
}
