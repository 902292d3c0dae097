// The `fusion.callback` task: POST a job's outcome to the URL its enqueuer gave, through the
// outgoing guard (a callback URL is a URL Fusion did not choose), signed with Standard Webhooks
// when a secret is configured (`webhook-id` is the callback job's id, the same on every retry).
import { request, type Dispatcher } from 'undici';
import { NonRetryableError, RetryableError, snoozeDelayOf } from '../core/errors.js';
import type { CallbackPayload } from '../core/callbacks.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { TaskContext, TaskHandler } from '../core/registry.js';
import type { SharedState } from '../core/store.js';
import type { FusionConfig } from './config-types.js';
import { OutgoingRefused, refusedCause, type OutgoingGuard } from './http/guard.js';
import { isRetryableStatus, networkFailure, retryAfterMs } from './http/answer.js';
import { HostBreaker, HostOpenError, isHostFailure, probeSpacing } from './http/host-breaker.js';
import { SlowHosts } from './http/slow-hosts.js';
import { throughHostGuards } from './http/host-guards.js';
import { signerFrom } from './http/signing.js';

const TIMEOUT_MS = 15_000;

export { retryAfterMs };

/** The original Fusion worker's callback: form fields, RQ's status words, retries made so far (and any metadata, as JSON). */
export function legacyForm(p: CallbackPayload): URLSearchParams {
  const f = new URLSearchParams({ description: p.job.description ?? '', job_id: p.job.id });
  if (p.job.state === 'completed') {
    f.set('status', 'finished');
    f.set('retry_attempts', String(Math.max(0, p.job.attempts - 1)));
  } else {
    f.set('status', 'failed');
    f.set('failure_trace', p.job.error?.message ?? '');
  }
  if (p.metadata !== undefined) f.set('metadata', JSON.stringify(p.metadata));
  return f;
}

export interface CallbackDeps {
  guard: OutgoingGuard;
  config: FusionConfig;
  clock: Clock;
  /** The guarded dispatcher to send with; made from `guard` when absent. */
  dispatcher?: Dispatcher;
  /** The store's shared state and a logger: a breaker per destination host (http/host-breaker.ts). */
  shared?: SharedState;
  logger: Logger;
}

/** The `fusion.callback` handler. */
export function deliverCallback(deps: CallbackDeps): TaskHandler<CallbackPayload, { status: number }> {
  const signer = signerFrom(deps.config.channels?.webhook?.signingSecret);
  const guards = {
    breaker: new HostBreaker(deps.shared, deps.config.channels?.webhook?.breaker, deps.logger),
    slowHosts: new SlowHosts(deps.config.channels?.webhook?.slowHost, deps.clock),
  };
  let dispatcher = deps.dispatcher;
  return async (p: CallbackPayload, ctx: TaskContext<CallbackPayload>) => {
    try {
      deps.guard.checkUrl(p.url);
    } catch (err) {
      if (err instanceof OutgoingRefused) throw new NonRetryableError(`callback ${err.message}`);
      throw err;
    }
    const form = p.format === 'form';
    // JSON leaves metadata out when there is none.
    const body = form ? legacyForm(p).toString() : JSON.stringify({ event: p.event, job: p.job, metadata: p.metadata });
    const headers: Record<string, string> = {
      'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
      'user-agent': 'fusion-callback/1',
      ...(signer ? signer.headers(ctx.job.id, body, deps.clock.now()) : {}),
    };
    let res: Dispatcher.ResponseData;
    try {
      res = await throughHostGuards(guards, p.url, ctx, deps.clock, probeSpacing(TIMEOUT_MS, deps.guard.connectTimeoutMs), async () => {
        const answer = await request(p.url, {
          method: 'POST', headers, body, signal: ctx.signal,
          dispatcher: (dispatcher ??= deps.guard.dispatcher()),
          headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS,
        });
        await answer.body.dump();
        return answer;
      }, (err) => isHostFailure(networkFailure(err, p.url)));
    } catch (err) {
      if (err instanceof HostOpenError || snoozeDelayOf(err) !== undefined) throw err;
      const refused = refusedCause(err);
      if (refused) throw new NonRetryableError(`callback ${refused.message}`);
      throw new RetryableError(`callback ${p.url} failed: ${(err as Error)?.message ?? String(err)}`);
    }
    if (res.statusCode < 400) return { status: res.statusCode };
    const msg = `callback ${p.url} answered ${res.statusCode}`;
    if (isRetryableStatus(res.statusCode)) {
      throw new RetryableError(msg, retryAfterMs(res.headers['retry-after'], deps.clock.now()));
    }
    throw new NonRetryableError(msg);
  };
}
