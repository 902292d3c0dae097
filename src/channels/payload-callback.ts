// A payload's own callback URL (email's and SMS's `callback_url`, a webhook's
// `integration_callback_url`): told how the send went by a callback job of its own (task
// `fusion.callback`, id `<job id>:<name>`, `:failed` added for a failure; retried as every
// callback: callback-retry.ts), so a receiver that is down delays the news, never the send, and
// never makes it go twice.
import { callbackJobs, endSuffix, followUpId } from '../core/callbacks.js';
import type { JobError } from '../core/job.js';
import type { TaskContext } from '../core/registry.js';
import { enqueuerOf, type ChannelDeps } from './channel.js';
import { callbackRetry } from './callback-retry.js';

export interface PayloadCallback {
  url: string;
  /** `form`: the original worker's fields (for payloads in its form); `json`: `{ event, job }`. */
  format: 'form' | 'json';
  /** Names the callback job (`<job id>:<name>`, `:failed` after it for a failure, `-2`, ... for a later failure after a retry by hand): one per end of the job, whatever the attempt. */
  name: string;
  /** Sent along as given (JSON: a `metadata` member; form: a `metadata` field holding its JSON). */
  metadata?: unknown;
}

export type Outcome = { completed: unknown } | { failed: JobError };

/** Add the callback job of `cb` for this attempt's outcome; answers its id. */
export async function announce(deps: ChannelDeps, ctx: TaskContext, cb: PayloadCallback, outcome: Outcome): Promise<string> {
  const now = deps.clock.now();
  const job = { ...ctx.job, attempts: ctx.attempt, callbacks: { onSuccess: cb.url, onFailure: cb.url, format: cb.format } };
  const made = 'completed' in outcome ? callbackJobs(job, 'completed', now, outcome.completed) : callbackJobs(job, 'failed', now, undefined, outcome.failed);
  // A failure is told under an id of its own: the job retried by hand and completed tells that too;
  // and a second failure after such a retry under one of its own again (endSuffix).
  const id = followUpId('completed' in outcome ? `${ctx.job.id}:${cb.name}` : `${ctx.job.id}:${cb.name}:failed${endSuffix(ctx.job, 'failed')}`);
  const jobs = made.map((j) => ({
    ...j, ...callbackRetry(deps.config), id, description: `${cb.name} of ${ctx.job.id}`,
    // A new payload drops the JSON text resolveSpec made of the old one (stores write that text).
    ...(cb.metadata !== undefined ? { payload: { ...(j.payload as object), metadata: cb.metadata }, payloadJson: undefined } : {}),
  }));
  await enqueuerOf(deps).add(jobs);
  return id;
}
