// Test plumbing for the sms channel: a provider plugin of the tests' own (`loop`: POSTs each message
// as JSON to a loopback server through the guarded dispatcher; takes Twilio-like signed delivery
// reports), loopback servers playing providers, and a logger that keeps its lines.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { httpFailure, httpSend } from '../../src/channels/http/answer.js';
import { ProviderError, type DeliveryReport, type DeliveryStatus, type ProviderFactory } from '../../src/channels/provider.js';
import type { SmsMessage } from '../../src/channels/sms/message.js';
import type { Logger } from '../../src/core/logger.js';

/** Twilio's scheme: HMAC-SHA1 of the URL followed by the sorted form fields, base64. */
export function twilioLikeSignature(token: string, url: string, form: Record<string, string>): string {
  const data = url + Object.keys(form).sort().map((k) => k + form[k]).join('');
  return createHmac('sha1', token).update(data).digest('base64');
}

const STATUS: Record<string, DeliveryStatus> = { delivered: 'delivered', undelivered: 'undelivered', failed: 'failed', sent: 'sent', queued: 'queued' };

export const loopFactory: ProviderFactory<SmsMessage> = {
  type: 'loop',
  channel: 'sms',
  configSchema: { type: 'object', required: ['url'], properties: { url: { type: 'string' }, authToken: { type: 'string' } } },
  secrets: ['authToken'],
  create(name, config) {
    const url = String(config.url);
    const token = config.authToken === undefined ? undefined : String(config.authToken);
    return {
      name,
      type: 'loop',
      async send(m, ctx) {
        const body = JSON.stringify({ provider: name, to: m.to, text: m.text, otp: m.otp, from: m.senderId ?? null, jobId: ctx.jobId, attempt: ctx.attempt });
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (token) headers.authorization = `Bearer ${token}`;
        const answer = await httpSend(url, { body, headers, timeoutMs: 5000 }, ctx, name);
        if (answer.status >= 300) throw httpFailure(answer, name, ctx.now());
        const id = (answer.json as { id?: string } | undefined)?.id;
        if (!id) throw new ProviderError(`${name}: no message id in the answer`, { code: 'bad_answer', retryable: false });
        return { messageId: id, status: 'sent', raw: answer.json };
      },
      deliveryReports(req) {
        const form = (req.body ?? {}) as Record<string, string>;
        const sig = req.headers['x-twilio-signature'] ?? '';
        const want = token ? twilioLikeSignature(token, req.url, form) : '';
        const a = Buffer.from(sig);
        const b = Buffer.from(want);
        if (!token || a.length !== b.length || !timingSafeEqual(a, b)) throw new ProviderError('bad signature', { code: 'bad_signature', retryable: false });
        const report: DeliveryReport = { messageId: form.MessageSid!, status: STATUS[form.MessageStatus ?? ''] ?? 'sent', providerStatus: form.MessageStatus };
        if (form.ErrorCode) report.errorCode = form.ErrorCode;
        return [report];
      },
    };
  },
};

export interface Received {
  path: string;
  body: { provider: string; to: string; text: string; otp: boolean; from: string | null; jobId: string; attempt: number };
  headers: IncomingMessage['headers'];
  at: number;
}

/**
 * A loopback server playing providers: each path answers by the rule set for it (default 200 with
 * a fresh message id), and every request is kept.
 */
export class ProviderServer {
  readonly received: Received[] = [];
  private rules = new Map<string, (r: Received) => { status: number; body?: unknown; headers?: Record<string, string> }>();
  private server: Server;
  private seq = 0;
  port = 0;

  constructor() {
    this.server = createServer((req, res) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => {
        const r: Received = { path: req.url ?? '/', body: data ? JSON.parse(data) : null, headers: req.headers, at: Date.now() };
        this.received.push(r);
        const rule = this.rules.get(r.path);
        const out = rule ? rule(r) : { status: 200, body: { id: `msg-${++this.seq}-${createHash('sha1').update(data).digest('hex').slice(0, 8)}` } };
        res.writeHead(out.status, { 'content-type': 'application/json', ...out.headers });
        res.end(JSON.stringify(out.body ?? {}));
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  answer(path: string, status: number, body: unknown = { error: 'nope' }): void {
    this.rules.set(path, () => ({ status, body }));
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A logger that keeps every line (as JSON text) to check what was, and was not, logged. */
export function keepingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const put = (level: string) => (obj: object, msg?: string) => {
    lines.push(JSON.stringify({ level, ...obj, msg }));
  };
  return { lines, debug: put('debug'), info: put('info'), warn: put('warn'), error: put('error'), isLevelEnabled: () => true };
}

/** Valid numbers (libphonenumber-js full metadata). */
export const NUM = { in: '+919876543210', inContact: 9876543210, uk: '+447911123456', us: '+12015550123' };
