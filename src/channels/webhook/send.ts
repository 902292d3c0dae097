// One outgoing webhook exchange through the guard: signed when a secret is configured, the answer
// read up to a cap, and its outcome classified the way the original retried (5xx and 499, plus
// 408/425/429 honouring Retry-After; network faults and timeouts) or not (other 4xx, a refused address).
import { request, type Dispatcher } from 'undici';
import { ProviderError } from '../provider.js';
import { capText, isRetryableStatus, MAX_ANSWER_BYTES, networkFailure, retryAfterMs } from '../http/answer.js';
import type { WebhookSigner } from '../http/signing.js';
import { requestAbort, requestDone } from './abort-link.js';

/** The most of an answer read (and forwarded to a callback); the job's result keeps MAX_ANSWER_BYTES of it. */
export const MAX_READ_BYTES = 256 * 1024;
const USER_AGENT = 'fusion-webhook/1';

export interface Outgoing {
  url: string;
  method: Dispatcher.HttpMethod;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  /** The body as text, cut at MAX_READ_BYTES. */
  text: string;
}

export interface SendContext {
  dispatcher: Dispatcher;
  signer: WebhookSigner | null;
  /** Standard Webhooks `webhook-id`: the same for every attempt of one message. */
  messageId: string;
  /** The attempt (its TaskContext): its abort signal reaches the request (see abort-link.ts). */
  attempt: { readonly signal: AbortSignal };
  now: number;
  /** Names the exchange in error messages (`webhook POST https://...`). */
  label: string;
}

/** A failed webhook, with the status and answer kept in the job's error details. */
export class WebhookError extends ProviderError {
  override name = 'WebhookError';
  readonly details: Record<string, unknown>;
  constructor(message: string, opts: ConstructorParameters<typeof ProviderError>[1] & { details?: Record<string, unknown> }) {
    super(message, opts);
    this.details = opts.details ?? {};
  }
}

/**
 * Answer headers not kept in the job's result: connection framing and the date say nothing about the
 * answer, and cookies are the receiver's business, not the job listing's. (Every byte kept is
 * written with each job.)
 */
const UNKEPT = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'set-cookie']);

function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in h) {
    const v = h[k];
    if (v === undefined || UNKEPT.has(k)) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function readCapped(body: Dispatcher.ResponseData['body'], length: number): Promise<string> {
  // A declared length within the cap: one read, no per-chunk bookkeeping (the common case).
  if (length >= 0 && length <= MAX_READ_BYTES) return body.text();
  // Unknown (chunked) or too long: read chunks up to the cap. Plain listeners, not an async
  // iterator, which costs a stream watcher and a promise per chunk.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8'));
    };
    body.on('data', (b: Buffer) => {
      if (settled) return;
      if (size + b.length >= MAX_READ_BYTES) {
        chunks.push(b.subarray(0, MAX_READ_BYTES - size));
        size = MAX_READ_BYTES;
        done();
        body.destroy(); // the rest is not wanted; the connection is not reused (its abort error is heard below)
        return;
      }
      chunks.push(b);
      size += b.length;
    });
    body.once('end', done);
    body.once('error', (err) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
  });
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  for (const k in headers) if (k.toLowerCase() === name) return true;
  return false;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Redirects followed per request, as the original's requests library followed them (each hop dials through the guard again). */
export const MAX_REDIRECTS = 5;

/**
 * The request for a redirect's next hop, or null when the answer is not one to follow. As requests
 * does: 303 (and 301/302 after a POST) become a GET without body; 307/308 keep method and body;
 * Authorization is dropped when the host changes.
 */
function nextHop(out: Outgoing, status: number, location: string | string[] | undefined): Outgoing | null {
  if (!REDIRECTS.has(status) || typeof location !== 'string' || !location) return null;
  let url: URL;
  try {
    url = new URL(location, out.url);
  } catch {
    return null;
  }
  const headers = { ...out.headers };
  const from = new URL(out.url);
  if (url.host !== from.host) for (const k of Object.keys(headers)) if (k.toLowerCase() === 'authorization') delete headers[k];
  const toGet = status === 303 ? out.method !== 'HEAD' : (status === 301 || status === 302) && out.method === 'POST';
  if (!toGet) return { ...out, url: url.toString(), headers };
  for (const k of Object.keys(headers)) if (k.toLowerCase() === 'content-type') delete headers[k];
  return { url: url.toString(), method: 'GET', headers, timeoutMs: out.timeoutMs };
}

/** Send the request (following redirects) and read the answer. A network fault, timeout or refusal throws a classified error. */
export async function exchange(out: Outgoing, ctx: SendContext): Promise<Answer> {
  for (let hop = 0; ; hop++) {
    // The Outgoing's headers are this exchange's own (callers build them per request, a redirect
    // hop copies them), so they are completed in place rather than copied per request.
    const headers = out.headers;
    if (!hasHeader(headers, 'user-agent')) headers['user-agent'] = USER_AGENT;
    if (ctx.signer) Object.assign(headers, ctx.signer.headers(ctx.messageId, out.body ?? '', ctx.now));
    const abort = requestAbort(ctx.attempt);
    let next: Outgoing | null;
    try {
      let res: Dispatcher.ResponseData;
      try {
        res = await request(out.url, {
          method: out.method,
          headers,
          body: out.body,
          dispatcher: ctx.dispatcher,
          signal: abort,
          headersTimeout: out.timeoutMs,
          bodyTimeout: out.timeoutMs,
        });
      } catch (err) {
        throw failure(err, ctx.label);
      }
      const status = res.statusCode;
      next = hop < MAX_REDIRECTS && REDIRECTS.has(status) ? nextHop(out, status, res.headers.location) : null;
      try {
        if (next) {
          await res.body.dump();
        } else {
          const declared = res.headers['content-length'];
          const length = typeof declared === 'string' ? Number(declared) : -1;
          return { status, headers: flatHeaders(res.headers), text: await readCapped(res.body, Number.isFinite(length) ? length : -1) };
        }
      } catch (err) {
        throw failure(err, ctx.label);
      }
    } finally {
      requestDone(abort);
    }
    out = next;
  }
}

function failure(err: unknown, label: string): ProviderError {
  // A request undici refuses to build (a bad header, say) fails the same way every time.
  if ((err as { code?: string })?.code === 'UND_ERR_INVALID_ARG') {
    return new WebhookError(`${label}: ${(err as Error).message}`, { code: 'invalid_request', retryable: false });
  }
  return networkFailure(err, label);
}

/** True when the answer is a success (below 400: a redirect not followed further counts, as in the original). */
export const succeeded = (a: Answer) => a.status < 400;

/** True when another attempt may get a different answer: the shared rule, plus 499 (the original retried 499–599). */
export const retryableStatus = (status: number) => status === 499 || isRetryableStatus(status);

/** The error for an answer that is not a success. */
export function answerFailure(a: Answer, label: string, now: number): WebhookError {
  const retryable = retryableStatus(a.status);
  return new WebhookError(`${label} answered ${a.status}: ${capText(a.text, 500)}`, {
    code: `http_${a.status}`,
    retryable,
    retryAfterMs: retryable ? retryAfterMs(a.headers['retry-after'], now) : undefined,
    status: a.status,
    details: { status: a.status, body: capText(a.text, 2048) },
  });
}

/** What a job's result keeps of an answer. */
export function answerSummary(a: Answer): { status: number; body: string; headers: Record<string, string> } {
  return { status: a.status, body: capText(a.text, MAX_ANSWER_BYTES), headers: a.headers };
}
