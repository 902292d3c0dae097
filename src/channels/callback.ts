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

export async function deliverCallback(p: CallbackPayload, ctx: TaskContext): Promise<{ status: number }> {
  const res = await fetch(p.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'fusion-callback/1' },
    body: JSON.stringify({ event: p.event, job: p.job }),
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
