// How callbacks retry: job callbacks (`fusion.callback`) and webhooks' callbacks (`webhook.callback`).
// A callback tells the enqueuer's own system how a job ended; that system may be down for a while
// (a deploy, an outage), and a callback that gives up then is an outcome the enqueuer never learns.
// So callbacks keep trying for hours by default, where a job's own default (10 attempts) gives up
// after about four minutes of refusals: 20 attempts, the default exponential backoff (1 s doubling,
// capped at an hour, full jitter), ~4 h on average and at most ~8 h (`fusion config check` says).
// And they come back from 10 lost leases, not 3: a lost lease is a worker that died holding the
// callback, and the callback's handler is Fusion's own (no poison payload to guard against), so
// a host whose workers keep dying (out of memory on other jobs) still delivers its callbacks.
import { validateBackoff } from '../core/backoff.js';
import { DEFAULTS, type BackoffPolicy } from '../core/job.js';
import type { FusionConfig } from './config-types.js';

const DEFAULT_CALLBACK_ATTEMPTS = 20;
const DEFAULT_CALLBACK_STALLS = 10;

export interface CallbackRetry {
  maxAttempts: number;
  backoff: BackoffPolicy;
  maxStalls: number;
}

/** The config's `channels.webhook.callbackRetry` with its defaults; a bad value throws a TypeError naming the field. */
export function callbackRetry(config: FusionConfig): CallbackRetry {
  const c = config.channels?.webhook?.callbackRetry;
  const problem = callbackRetryProblem(c);
  if (problem) throw new TypeError(problem);
  return {
    maxAttempts: c?.maxAttempts ?? DEFAULT_CALLBACK_ATTEMPTS,
    backoff: c?.backoff ?? DEFAULTS.backoff,
    maxStalls: c?.maxStalls ?? DEFAULT_CALLBACK_STALLS,
  };
}

/** What is wrong with a callbackRetry setting, naming its field, or null (config.ts reports it with the others). */
export function callbackRetryProblem(c: Partial<CallbackRetry> | undefined): string | null {
  if (c?.maxAttempts !== undefined && !(Number.isInteger(c.maxAttempts) && c.maxAttempts >= 1 && c.maxAttempts <= 1000)) {
    return 'channels.webhook.callbackRetry.maxAttempts: must be an integer from 1 to 1000';
  }
  if (c?.maxStalls !== undefined && !(Number.isInteger(c.maxStalls) && c.maxStalls >= 0 && c.maxStalls <= 1000)) {
    return 'channels.webhook.callbackRetry.maxStalls: must be an integer from 0 to 1000';
  }
  const bad = c?.backoff !== undefined ? validateBackoff(c.backoff) : null;
  return bad ? `channels.webhook.callbackRetry.backoff: ${bad}` : null;
}
