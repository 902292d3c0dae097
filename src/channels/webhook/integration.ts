// The original's integration tracking: a webhook whose `args.integration_payload` holds
// `integration_callback_url` (and `metadata`) has its outcome and that metadata POSTed to the URL,
// as JSON, by a callback job of its own (payload-callback.ts, id `<job>:integration_callback`): on
// completion with the webhook's result, on the failure that ends the job with its error. The args
// still go to the webhook's URL as given.
import type { JobError } from '../../core/job.js';
import type { TaskContext } from '../../core/registry.js';
import { attemptEndOf, toJobError } from '../../core/worker/executor.js';
import type { ChannelDeps } from '../channel.js';
import { payloadUrl } from '../http/payload-url.js';
import { announce, type PayloadCallback } from '../payload-callback.js';
import { isPlainObject } from '../../core/plain-object.js';

/** The integration callback a payload asks for, or null; a URL that is not http(s) throws naming its field. */
export function integrationOf(payload: { args?: unknown }): PayloadCallback | null {
  const ip = isPlainObject(payload.args) ? payload.args.integration_payload : undefined;
  if (!isPlainObject(ip)) return null;
  const url = ip.integration_callback_url;
  if (url === undefined || url === null || url === '') return null;
  return {
    url: payloadUrl(url, 'args.integration_payload.integration_callback_url'),
    format: 'json', name: 'integration_callback',
    ...(ip.metadata !== undefined ? { metadata: ip.metadata } : {}),
  };
}

/** The error the job fails with for good when its attempt ends with `err`; null when it is retried, snoozed, cancelled, given back or lost. */
function finalError(err: unknown, ctx: TaskContext): JobError | null {
  // An aborted attempt ends with the abort's reason (a timeout, a cancel, a stop), whatever the handler threw.
  const cause = ctx.signal.aborted && ctx.signal.reason !== undefined ? ctx.signal.reason : err;
  return attemptEndOf(ctx.job, cause) === 'failed' ? { ...toJobError(cause), stack: undefined } : null;
}

/** Run a webhook's send, then tell its integration callback (if it has one) how the job ends. */
export async function withIntegration<R>(deps: ChannelDeps, payload: { args?: unknown }, ctx: TaskContext, send: () => Promise<R>): Promise<R> {
  const cb = integrationOf(payload);
  if (!cb) return send();
  let result: R;
  try {
    result = await send();
  } catch (err) {
    const failed = finalError(err, ctx);
    if (failed) await announce(deps, ctx, cb, { failed });
    throw err;
  }
  await announce(deps, ctx, cb, { completed: result });
  return result;
}
