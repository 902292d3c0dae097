// A loopback HTTP server that plays an SMS provider: it records every request exactly as received and
// answers with the replies a test scripts, in order. Plus the checks every adapter's test runs alike.
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { OutgoingGuard } from '../../../src/channels/http/guard.js';
import { ProviderError, type Provider, type ProviderContext } from '../../../src/channels/provider.js';
import type { SmsMessage } from '../../../src/channels/sms/message.js';

export interface Recorded {
  method: string;
  /** Path and query, as sent. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
  /** The body parsed as JSON (when it is JSON). */
  json?: any;
  /** The body parsed as form fields. */
  form: URLSearchParams;
}

export type Reply = { status?: number; headers?: Record<string, string>; body?: string | object } | 'hang';

export interface StandIn {
  base: string;
  requests: Recorded[];
  reply(...replies: Reply[]): void;
  close(): Promise<void>;
}

export async function standIn(): Promise<StandIn> {
  const requests: Recorded[] = [];
  const queue: Reply[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const u = new URL(req.url ?? '/', 'http://x');
      let json: unknown;
      try {
        json = body ? JSON.parse(body) : undefined;
      } catch {
        json = undefined;
      }
      requests.push({ method: req.method ?? '', url: req.url ?? '', path: u.pathname, query: u.searchParams, headers: req.headers, body, json, form: new URLSearchParams(body) });
      const r = queue.shift() ?? { status: 500, body: 'no reply scripted' };
      if (r === 'hang') return; // never answers: the adapter's timeout must fire
      const payload = typeof r.body === 'string' ? r.body : r.body === undefined ? '' : JSON.stringify(r.body);
      const type = typeof r.body === 'object' ? { 'content-type': 'application/json' } : {};
      res.writeHead(r.status ?? 200, { ...type, ...r.headers });
      res.end(payload);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    reply: (...r) => queue.push(...r),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The guarded dispatcher every test sends through (loopback explicitly allowed). */
export function guardedDispatcher(): Dispatcher {
  return new OutgoingGuard({ allow: ['127.0.0.1/32'] }).dispatcher();
}

/** A stand-in and the guarded dispatcher for one test file, both closed when the file's tests end. */
export async function stage(): Promise<{ server: StandIn; dispatcher: Dispatcher }> {
  const server = await standIn();
  const dispatcher = guardedDispatcher();
  after(async () => {
    await server.close();
    await dispatcher.destroy();
  });
  return { server, dispatcher };
}

export function context(dispatcher: Dispatcher, now = () => Date.now()): ProviderContext {
  return { signal: new AbortController().signal, dispatcher, now, jobId: 'job-42', attempt: 1 };
}

export function message(over: Partial<SmsMessage> = {}): SmsMessage {
  return { to: '+919876543210', callingCode: '91', nationalNumber: '9876543210', text: 'Your code is 123456 & more', otp: false, ...over };
}

/** The ProviderError a send throws (fails the test when it resolves, or throws something else). */
export async function sendError(p: Provider<SmsMessage>, m: SmsMessage, ctx: ProviderContext): Promise<ProviderError> {
  try {
    const r = await p.send(m, ctx);
    assert.fail(`expected a ProviderError, got ${JSON.stringify(r)}`);
  } catch (err) {
    if (!(err instanceof ProviderError)) throw err;
    return err;
  }
}

export function assertNoSecrets(err: ProviderError, secrets: string[]): void {
  const seen = `${err.message} ${JSON.stringify(err.raw ?? null)}`;
  for (const s of secrets) assert.ok(!seen.includes(s), `credential leaked into the error: ${seen}`);
}

export interface ErrorCases {
  server: StandIn;
  dispatcher: Dispatcher;
  /** The provider, with config overrides (the timeout case passes a short timeoutMs). */
  make(over?: Record<string, unknown>): Provider<SmsMessage>;
  message?: SmsMessage;
  /** Credential values that must appear in no error (the 5xx answer echoes them back to prove it). */
  secrets: string[];
  /** The provider's refusal (a 4xx or an error inside a 2xx) and the code the adapter must keep. */
  refusal: { status: number; body: string | object; headers?: Record<string, string>; code: string };
  /** Bodies of the 429 and 5xx answers, where the provider has its own shape. */
  throttledBody?: string | object;
  faultBody?: (secrets: string[]) => string | object;
  headers?: Record<string, string>;
}

/** The four failures every adapter must classify alike: 429 + Retry-After, 5xx, a refusal, a timeout. */
export async function checkErrorAnswers(c: ErrorCases): Promise<void> {
  const m = c.message ?? message();
  const ctx = context(c.dispatcher);
  const p = c.make();

  c.server.reply({ status: 429, headers: { 'retry-after': '7', ...c.headers }, body: c.throttledBody ?? { error: 'too many requests' } });
  const throttled = await sendError(p, m, ctx);
  assert.equal(throttled.retryable, true, `429 retryable: ${throttled.message}`);
  assert.equal(throttled.retryAfterMs, 7000);

  c.server.reply({ status: 503, headers: c.headers, body: c.faultBody?.(c.secrets) ?? { error: 'unavailable', echo: c.secrets.join(' ') } });
  const fault = await sendError(p, m, ctx);
  assert.equal(fault.retryable, true, `5xx retryable: ${fault.message}`);
  assert.equal(fault.status, 503);
  assertNoSecrets(fault, c.secrets);

  c.server.reply({ status: c.refusal.status, headers: { ...c.headers, ...c.refusal.headers }, body: c.refusal.body });
  const refused = await sendError(p, m, ctx);
  assert.equal(refused.retryable, false, `refusal not retryable: ${refused.message}`);
  assert.equal(refused.code, c.refusal.code);
  assertNoSecrets(refused, c.secrets);

  c.server.reply('hang');
  const slow = c.make({ timeoutMs: 250 });
  const timedOut = await sendError(slow, m, ctx);
  assert.equal(timedOut.code, 'timeout', timedOut.message);
  assert.equal(timedOut.retryable, true);
  assertNoSecrets(timedOut, c.secrets);
}
