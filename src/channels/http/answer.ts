// Reading a provider's HTTP answer and classifying its failures the same way for every adapter:
// 5xx, 408, 425 and 429 are worth another try (honouring Retry-After), other 4xx are not, and a
// network fault is retryable unless the guard refused the address.
import { request, type Dispatcher } from 'undici';
import { ProviderError, type ProviderContext } from '../provider.js';
import { refusedCause } from './guard.js';

/** Largest answer body kept (in results and errors); the rest is cut. */
export const MAX_ANSWER_BYTES = 16 * 1024;

const RETRY_STATUSES = new Set([408, 425, 429]);

/** An HTTP answer worth another try: 5xx, 408, 425, 429. Any other 4xx says the request itself is wrong. */
export const isRetryableStatus = (status: number): boolean => status >= 500 || RETRY_STATUSES.has(status);

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export function retryAfterMs(header: string | string[] | undefined | null, now: number): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, Math.min(secs, 86_400) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.min(at - now, 86_400_000));
}

export function capText(text: string, max = MAX_ANSWER_BYTES): string {
  return text.length > max ? `${text.slice(0, max)}…[${text.length - max} more characters]` : text;
}

export interface SendRequest {
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Per-request time limit in ms (default 15 s). */
  timeoutMs?: number;
}

/** Send one request through the guard and read its answer. Network faults become ProviderErrors. */
export async function httpSend(url: string, req: SendRequest, ctx: ProviderContext, label: string): Promise<HttpAnswer> {
  const timeout = req.timeoutMs ?? 15_000;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, {
      method: req.method ?? 'POST',
      headers: req.headers,
      body: req.body,
      dispatcher: ctx.dispatcher,
      signal: ctx.signal,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  } catch (err) {
    throw networkFailure(err, label);
  }
  let text: string;
  try {
    text = await res.body.text();
  } catch (err) {
    throw networkFailure(err, label);
  }
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** A failed exchange: refused by the guard (not retryable), or a network fault or timeout (retryable). */
export function networkFailure(err: unknown, label: string): ProviderError {
  const refused = refusedCause(err);
  if (refused) return new ProviderError(refused.message, { code: 'outgoing_refused', retryable: false });
  const e = err as { name?: string; code?: string; message?: string };
  const timeout = e?.name === 'TimeoutError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT' || e?.code === 'UND_ERR_CONNECT_TIMEOUT';
  return new ProviderError(`${label}: ${timeout ? 'timed out' : 'network error'} (${e?.code ?? e?.name ?? 'error'}: ${e?.message ?? String(err)})`, {
    code: timeout ? 'timeout' : 'network_error',
    retryable: true,
  });
}

/** The error for an HTTP answer that is not a success; `code` may name the provider's own error code. */
export function httpFailure(answer: HttpAnswer, label: string, now: number, code?: string): ProviderError {
  const retryable = isRetryableStatus(answer.status);
  return new ProviderError(`${label} answered ${answer.status}: ${capText(answer.text, 500)}`, {
    code: code ?? `http_${answer.status}`,
    retryable,
    retryAfterMs: retryable ? retryAfterMs(answer.headers['retry-after'], now) : undefined,
    status: answer.status,
    raw: answer.json ?? capText(answer.text),
  });
}
