// The webhook channel: task `webhook` sends one HTTP request as the original Fusion's webhook tasks
// did (GET/POST/PUT/PATCH/DELETE, data as query, args as JSON or form), through the outgoing guard,
// signed with Standard Webhooks when a secret is configured.
//
// `callback: 1` POSTs the answer ({resp, status_code}, a form, as the original) to callback_url. The
// callback is a follow-up job (task `webhook.callback`, same queue), added once the main request's
// outcome is final (a success, or a 4xx that is not retried; the original called back on every
// answer that was not a 5xx). So a callback that fails retries on its own and never resends the main
// request; the main job's result names the callback job, whose result holds the callback's status.
//
// A job made by the compatibility routes (tagged ORIGINAL_ANSWERS_TAG) takes a 4xx that is not
// retried as an answer, as the original did (it raised only for 499-599): the job completes with
// the status and body in its result. Elsewhere such an answer fails the job.
//
// `args.integration_payload.integration_callback_url` is told the job's outcome (integration.ts).
import type { Dispatcher } from 'undici';
import { DEFAULTS, type NewJob } from '../../core/job.js';
import { FusionError } from '../../core/errors.js';
import { followUpId, runSuffix } from '../../core/callbacks.js';
import type { TaskContext } from '../../core/registry.js';
import { enqueuerOf, type ChannelDeps, type ChannelSetup, type ChannelTask } from '../channel.js';
import { CHANNEL_QUEUES } from '../queues.js';
import { signerFrom, type WebhookSigner } from '../http/signing.js';
import { OutgoingRefused } from '../http/guard.js';
import { capText, MAX_ANSWER_BYTES } from '../http/answer.js';
import { HostBreaker, probeSpacing } from '../http/host-breaker.js';
import { SlowHosts } from '../http/slow-hosts.js';
import { throughHostGuards } from '../http/host-guards.js';
import { callbackRetry, type CallbackRetry } from '../callback-retry.js';
import { buildRequest, validateWebhookPayload, DEFAULT_TIMEOUT_SECONDS, type WebhookPayload } from './payload.js';
import { withIntegration } from './integration.js';
import { answerFailure, answerSummary, exchange, succeeded, WebhookError, type Answer } from './send.js';

export const WEBHOOK_TASK = 'webhook';
export const WEBHOOK_CALLBACK_TASK = 'webhook.callback';
/** The tag of webhook jobs made by the compatibility routes: a 4xx that is not retried completes them. */
export const ORIGINAL_ANSWERS_TAG = 'compat:4xx-completes';

export interface WebhookCallbackPayload {
  url: string;
  /** The main answer's body (cut at 256 KiB) and status, the original's form fields. */
  resp: string;
  status_code: number;
  /** The webhook job this answers. */
  of: string;
  timeoutMs?: number;
}

export interface WebhookResult {
  status: number;
  body: string;
  headers: Record<string, string>;
  /** Set with `callback: 1`: the follow-up job that POSTs the answer to callback_url. */
  callback?: { jobId: string };
}

interface Runtime {
  deps: ChannelDeps;
  dispatcher: Dispatcher;
  signer: WebhookSigner | null;
  timeoutSeconds: number;
  /** Requests to a host that keeps timing out or refusing connections fail at once for a while. */
  breaker: HostBreaker;
  /** A slow host holds at most a few of this process's webhook requests; its other jobs are snoozed. */
  slowHosts: SlowHosts;
  /** The attempts and backoff of each callback follow-up. */
  callbackRetry: CallbackRetry;
  /** checkTarget's verdicts by scheme and host: null when allowed, else the refusal. */
  verdicts: Map<string, string | null>;
}

/**
 * Refuse a URL the guard refuses before any I/O, with its reason; the job fails at once. (The
 * connect-time check stays the real guard; this one only fails early and clearly.) Verdicts are
 * kept per scheme and host: the policy does not change while the process runs, and most jobs go to
 * few hosts.
 */
function checkTarget(rt: Runtime, url: string): void {
  const key = url.slice(0, url.indexOf('/', url.indexOf('//') + 2) >>> 0);
  let verdict = rt.verdicts.get(key);
  if (verdict === undefined) {
    try {
      rt.deps.guard.checkUrl(url);
      verdict = null;
    } catch (err) {
      if (!(err instanceof OutgoingRefused)) throw err;
      verdict = err.message;
    }
    if (rt.verdicts.size >= 1000) rt.verdicts.clear();
    rt.verdicts.set(key, verdict);
  }
  if (verdict !== null) throw new WebhookError(verdict, { code: 'outgoing_refused', retryable: false });
}

function callbackJob(rt: Runtime, job: TaskContext['job'], attempt: number, answer: Answer, url: string, now: number, timeoutMs: number): NewJob {
  const payload: WebhookCallbackPayload = { url, resp: answer.text, status_code: answer.status, of: job.id, timeoutMs };
  return {
    // One callback per attempt that got a final answer: a re-run after a lost lease sent the request again, so it calls back again.
    // Attempts count from 1 again after a retry by hand: the run's suffix keeps that run's callbacks apart from the first's.
    id: followUpId(`${job.id}:callback-${attempt}${runSuffix(job)}`), queue: job.queue, task: WEBHOOK_CALLBACK_TASK, payload, priority: job.priority,
    maxAttempts: rt.callbackRetry.maxAttempts, backoff: rt.callbackRetry.backoff, timeout: 0, maxStalls: rt.callbackRetry.maxStalls,
    runAt: now, createdAt: now, description: `callback of webhook ${job.id}`, tags: [], callbacks: null, scheduleId: null,
  };
}

async function sendWebhook(rt: Runtime, payload: WebhookPayload, ctx: TaskContext): Promise<WebhookResult> {
  const req = buildRequest(payload, rt.timeoutSeconds);
  checkTarget(rt, req.url);
  const label = `webhook ${req.method} ${req.url}`;
  const answer = await throughHostGuards(rt, req.url, ctx, rt.deps.clock, probeSpacing(req.timeoutMs, rt.deps.guard.connectTimeoutMs),
    () => exchange(req, { dispatcher: rt.dispatcher, signer: rt.signer, messageId: ctx.job.id, attempt: ctx, now: rt.deps.clock.now(), label }));
  const refusal = succeeded(answer) ? null : answerFailure(answer, label, rt.deps.clock.now());
  const failure = refusal && !refusal.retryable && answer.status < 500 && ctx.job.tags.includes(ORIGINAL_ANSWERS_TAG) ? null : refusal;
  let callback: WebhookResult['callback'];
  if (req.callbackUrl && !refusal?.retryable) {
    const now = rt.deps.clock.now();
    const [added] = await enqueuerOf(rt.deps).add([callbackJob(rt, ctx.job, ctx.attempt, answer, req.callbackUrl, now, rt.timeoutSeconds * 1000)]);
    callback = { jobId: added!.job.id };
  }
  if (failure) {
    if (callback) failure.details.callback = callback;
    throw failure;
  }
  const result: WebhookResult = { status: answer.status, body: capText(answer.text, MAX_ANSWER_BYTES), headers: answer.headers };
  if (callback) result.callback = callback;
  return result;
}

async function sendCallback(rt: Runtime, p: WebhookCallbackPayload, ctx: TaskContext): Promise<{ status: number; body: string }> {
  checkTarget(rt, p.url);
  const label = `webhook callback POST ${p.url}`;
  const body = new URLSearchParams({ resp: p.resp, status_code: String(p.status_code) }).toString();
  const timeoutMs = p.timeoutMs ?? rt.timeoutSeconds * 1000;
  const answer = await throughHostGuards(rt, p.url, ctx, rt.deps.clock, probeSpacing(timeoutMs, rt.deps.guard.connectTimeoutMs), () => exchange(
    { url: p.url, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, timeoutMs },
    { dispatcher: rt.dispatcher, signer: rt.signer, messageId: ctx.job.id, attempt: ctx, now: rt.deps.clock.now(), label },
  ));
  if (!succeeded(answer)) throw answerFailure(answer, label, rt.deps.clock.now());
  return { status: answer.status, body: answerSummary(answer).body.slice(0, 2048) };
}

function validateCallbackPayload(payload: unknown): void {
  const p = payload as Partial<WebhookCallbackPayload> | null;
  if (!p || typeof p !== 'object') throw new FusionError('invalid_payload', 'a webhook callback payload must be an object', { field: '' });
  if (typeof p.url !== 'string' || !/^https?:\/\//i.test(p.url)) throw new FusionError('invalid_payload', 'url must be an http or https URL', { field: 'url' });
  if (typeof p.resp !== 'string') throw new FusionError('invalid_payload', 'resp must be a string', { field: 'resp' });
  if (typeof p.status_code !== 'number') throw new FusionError('invalid_payload', 'status_code must be a number', { field: 'status_code' });
}

export function webhookChannel(deps: ChannelDeps): ChannelSetup {
  const conf = deps.config.channels?.webhook ?? {};
  const rt: Runtime = {
    deps,
    // Redirects are followed in send.ts (not by an undici interceptor, which costs every request);
    // every hop dials through this guarded dispatcher again.
    dispatcher: deps.dispatcher,
    signer: signerFrom(conf.signingSecret),
    timeoutSeconds: conf.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
    breaker: new HostBreaker(deps.store.shared, conf.breaker, deps.logger),
    slowHosts: new SlowHosts(conf.slowHost, deps.clock),
    callbackRetry: callbackRetry(deps.config),
    verdicts: new Map(),
  };
  const queue = CHANNEL_QUEUES.webhook;
  const tasks: ChannelTask[] = [
    { name: WEBHOOK_TASK, handler: (p: WebhookPayload, ctx: TaskContext) => withIntegration(deps, p, ctx, () => sendWebhook(rt, p, ctx)), options: { queue, validate: validateWebhookPayload } },
    { name: WEBHOOK_CALLBACK_TASK, handler: (p: WebhookCallbackPayload, ctx: TaskContext) => sendCallback(rt, p, ctx), options: { queue, validate: validateCallbackPayload, ...rt.callbackRetry } },
  ];
  return { tasks, dryRun: false };
}
