// AWS SDK clients (SNS for SMS, SESv2 for email) sending through the outgoing guard: the SDK's HTTP
// goes through our dispatcher with our time limit, its own retries off (the job and the route decide).
import { request, type Dispatcher } from 'undici';
import { ProviderError, type ProviderContext } from '../provider.js';
import { networkFailure, retryAfterMs } from './answer.js';

interface SdkRequest {
  protocol: string;
  hostname: string;
  port?: number;
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/** The SDK's request handler, sending through the guard's dispatcher with our time limit. */
export function guardedHandler(dispatcher: Dispatcher, timeoutMs: number, label: string) {
  return {
    async handle(req: SdkRequest, opts?: { abortSignal?: unknown }) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(req.query ?? {})) for (const one of [v ?? ''].flat()) q.append(k, one);
      const qs = q.toString();
      const url = `${req.protocol}//${req.hostname}${req.port ? `:${req.port}` : ''}${req.path}${qs ? `?${qs}` : ''}`;
      try {
        const res = await request(url, {
          method: req.method as Dispatcher.HttpMethod,
          headers: req.headers,
          body: req.body as string | Buffer | undefined,
          dispatcher,
          signal: opts?.abortSignal as AbortSignal | undefined,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        const body = new Uint8Array(await res.body.arrayBuffer());
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        return { response: { statusCode: res.statusCode, headers, body } };
      } catch (err) {
        throw networkFailure(err, label);
      }
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };
}

/** The config every AWS client takes: region, credentials, an endpoint override (tests, VPC endpoints). */
export interface AwsClientConfig {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  endpoint?: string;
  timeoutMs: number;
  label: string;
}

/** One SDK client per dispatcher (one per process in practice), made on first use. */
export function awsClientPerDispatcher<C>(make: (config: Record<string, unknown>) => C, c: AwsClientConfig): (ctx: ProviderContext) => C {
  const clients = new WeakMap<Dispatcher, C>();
  return (ctx) => {
    let client = clients.get(ctx.dispatcher);
    if (!client) {
      client = make({
        region: c.region,
        credentials: c.credentials,
        endpoint: c.endpoint || undefined,
        maxAttempts: 1,
        requestHandler: guardedHandler(ctx.dispatcher, c.timeoutMs, c.label),
      });
      clients.set(ctx.dispatcher, client);
    }
    return client;
  };
}

/**
 * An AWS SDK error as a ProviderError: 5xx, 429 and the service's throttling codes are retryable
 * (Retry-After honoured), the rest are the caller's or the account's mistake. `Code` is the code as on
 * the wire (SNS's `InvalidParameter`), else the SDK's name for it. Errors that are not an answer from
 * AWS (no HTTP status) are returned as they are.
 */
export function awsFailure(err: unknown, label: string, retryableCodes: ReadonlySet<string>, now: number): unknown {
  if (err instanceof ProviderError) return err;
  const e = err as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number; requestId?: string }; $response?: { headers?: Record<string, string> } };
  const status = e.$metadata?.httpStatusCode;
  if (!e.name || status === undefined) return err;
  const code = e.Code ?? e.name;
  const retryable = status >= 500 || status === 429 || retryableCodes.has(code);
  return new ProviderError(`${label} answered ${status}: ${code}: ${e.message ?? ''}`, {
    code,
    retryable,
    retryAfterMs: retryable ? retryAfterMs(e.$response?.headers?.['retry-after'], now) : undefined,
    status,
    raw: { code, message: e.message, requestId: e.$metadata?.requestId },
  });
}
