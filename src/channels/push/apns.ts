// Apple Push Notification service over HTTP/2: POST /3/device/<token> with apns-topic, apns-push-type,
// apns-priority, apns-collapse-id and apns-expiration, on one multiplexed connection per provider
// (reopened after a GOAWAY or an error). Two ways to authenticate, as Apple offers:
//   token auth:       an ES256 JWT (kid = key id, iss = team id) signed with the .p8 key, cached 50 min
//   certificate auth: a client TLS certificate and key in PEM (the original worker's `.pem`)
// The connection is made by node:http2, not undici, so the outgoing guard is applied by
// guarded-connect.ts: the host is resolved and checked, and the checked address is dialled.
import { connect as h2connect, constants as H2, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
/** jose loads on first use: a worker that sends no push does not pay for it at start. */
const jose = () => import('jose');
import { ProviderError, type Provider, type ProviderContext, type ProviderFactory, type SendResult } from '../provider.js';
import { networkFailure, retryAfterMs } from '../http/answer.js';
import type { OutgoingGuard } from '../http/guard.js';
import { Settings, scrub, scrubError, schema } from '../sms/providers/common.js';
import type { IosPart, PushMessage, PushSendRaw, TokenResult } from './message.js';
import { eachLimited, pushFailure } from './common.js';
import { guardedTlsConnect } from './guarded-connect.js';

export const APNS_PRODUCTION = 'https://api.push.apple.com';
export const APNS_SANDBOX = 'https://api.sandbox.push.apple.com';
/** Apple accepts a provider token for an hour and refuses refreshing more than every 20 minutes. */
export const APNS_JWT_LIFE_MS = 50 * 60_000;

/** Reasons that say the device token itself is dead: the app should drop it. */
const INVALID_REASONS = new Set(['BadDeviceToken', 'Unregistered', 'ExpiredToken']);
const RETRY_REASONS = new Set(['TooManyRequests', 'InternalServerError', 'ServiceUnavailable', 'Shutdown', 'ExpiredProviderToken']);

/** The JSON APNs receives: custom keys beside `aps`. */
export function apnsBody(part: IosPart): Record<string, unknown> {
  const aps: Record<string, unknown> = {};
  if (part.title !== undefined || part.body !== undefined) {
    aps.alert = { ...(part.title !== undefined ? { title: part.title } : {}), ...(part.body !== undefined ? { body: part.body } : {}) };
  }
  if (part.badge !== undefined) aps.badge = part.badge;
  if (part.sound !== undefined) aps.sound = part.sound;
  if (part.category !== undefined) aps.category = part.category;
  if (part.pushType === 'background' && aps['content-available'] === undefined) aps['content-available'] = 1;
  Object.assign(aps, part.aps ?? {});
  return { ...(part.data ?? {}), aps };
}

export function apnsHeaders(part: IosPart, topic: string): Record<string, string> {
  const aps = apnsBody(part).aps as Record<string, unknown>;
  const visible = aps.alert !== undefined || aps.sound !== undefined || aps.badge !== undefined;
  const pushType = part.pushType ?? (!visible && aps['content-available'] ? 'background' : 'alert');
  const h: Record<string, string> = {
    'apns-topic': part.topic ?? topic,
    'apns-push-type': pushType,
    'apns-priority': String(part.priority ?? (pushType === 'background' ? 5 : 10)),
  };
  if (part.collapseId) h['apns-collapse-id'] = part.collapseId;
  if (part.expiration !== undefined) h['apns-expiration'] = String(part.expiration);
  return h;
}

/**
 * The provider token of token auth, signed once per 50 minutes. Apple refuses a token changed too
 * often on a connection (TooManyProviderTokenUpdates), so the streams of a job share one: one
 * signing in flight at a time, and a token refused as expired is dropped only while it is still
 * the one kept (the first of the streams refused together drops it, the others take the new one).
 */
class ProviderToken {
  private cached: { jwt: string; at: number } | null = null;
  private minting: Promise<string> | null = null;
  private key: Promise<KeyObject | CryptoKey> | null = null;
  constructor(private readonly keyId: string, private readonly teamId: string, private readonly pem: string, private readonly label: string) {}

  invalidate(jwt: string): void {
    if (this.cached?.jwt === jwt) this.cached = null;
  }

  get(now: number): Promise<string> {
    if (this.cached && now - this.cached.at < APNS_JWT_LIFE_MS) return Promise.resolve(this.cached.jwt);
    return (this.minting ??= this.mint(now).finally(() => (this.minting = null)));
  }

  private async mint(now: number): Promise<string> {
    this.key ??= jose().then((j) => j.importPKCS8(this.pem, 'ES256')).catch((err) => {
      this.key = null;
      throw new ProviderError(`${this.label}: signingKey is not a PKCS#8 EC (P-256) key, the .p8 file's text (${(err as Error).message})`, { code: 'bad_credentials', retryable: false });
    });
    const jwt = await new (await jose()).SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: this.keyId }).setIssuer(this.teamId).setIssuedAt(Math.floor(now / 1000)).sign(await this.key);
    this.cached = { jwt, at: now };
    return jwt;
  }
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP/2 connection, opened on demand through the guard; holds the event loop only while requests run. */
class Connection {
  private session: ClientHttp2Session | null = null;
  private opening: Promise<ClientHttp2Session> | null = null;
  private inflight = 0;

  constructor(private readonly origin: URL, private readonly guard: OutgoingGuard, private readonly tls: { ca?: string; cert?: string; key?: string; passphrase?: string }) {}

  private async open(): Promise<ClientHttp2Session> {
    const port = Number(this.origin.port || 443);
    const socket = await guardedTlsConnect(this.guard, this.origin.hostname, port, this.tls);
    const session = h2connect(this.origin.origin, { createConnection: () => socket });
    const drop = () => {
      if (this.session === session) this.session = null;
    };
    session.on('error', drop);
    session.on('goaway', drop);
    session.on('close', drop);
    // Idle connections are closed by Apple after a while; ours too, so a quiet worker holds nothing.
    session.setTimeout(5 * 60_000, () => session.close());
    this.session = session;
    return session;
  }

  async request(headers: Record<string, string>, body: string, timeoutMs: number, signal: AbortSignal): Promise<Answer> {
    const session = this.session && !this.session.closed && !this.session.destroyed ? this.session : await (this.opening ??= this.open().finally(() => (this.opening = null)));
    this.inflight++;
    session.ref();
    try {
      return await new Promise<Answer>((resolve, reject) => {
        const req = session.request({ [H2.HTTP2_HEADER_METHOD]: 'POST', ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
        let status = 0;
        let rh: IncomingHttpHeaders = {};
        let data = '';
        const onAbort = () => req.close(H2.NGHTTP2_CANCEL);
        signal.addEventListener('abort', onAbort, { once: true });
        req.setTimeout(timeoutMs, () => {
          req.close(H2.NGHTTP2_CANCEL);
          reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { name: 'TimeoutError' }));
        });
        req.on('response', (h) => {
          rh = h;
          status = Number(h[H2.HTTP2_HEADER_STATUS]);
        });
        req.setEncoding('utf8');
        req.on('data', (c: string) => (data += c.length + data.length > 64 * 1024 ? '' : c));
        req.on('end', () => resolve({ status, headers: rh, body: data }));
        req.on('close', () => {
          signal.removeEventListener('abort', onAbort);
          if (!status) reject(signal.aborted ? signal.reason : new Error(`stream closed before an answer (code ${req.rstCode})`));
        });
        req.on('error', reject);
        req.end(body);
      });
    } finally {
      if (--this.inflight === 0) session.unref();
    }
  }
}

export interface ApnsFactory extends ProviderFactory<PushMessage> {
  platform: 'ios';
}

/** The APNs adapter; made per channel because its connections need the guard itself. */
export function apnsFactory(guard: OutgoingGuard): ApnsFactory {
  return {
    type: 'apns',
    channel: 'push',
    platform: 'ios',
    configSchema: schema(
      {
        topic: { type: 'string', description: "apns-topic: the app's bundle id (a payload's ios.topic overrides it)." },
        production: { type: 'boolean', description: 'false: the sandbox host (default true: production). Ignored when baseUrl is set.' },
        keyId: { type: 'string', description: 'Token auth: the .p8 key id.' },
        teamId: { type: 'string', description: 'Token auth: the Apple developer team id.' },
        signingKey: { type: 'string', description: 'Token auth: the .p8 key text (PEM).' },
        cert: { type: 'string', description: 'Certificate auth: the client certificate (PEM).' },
        key: { type: 'string', description: 'Certificate auth: its private key (PEM).' },
        passphrase: { type: 'string' },
        ca: { type: 'string', description: 'Extra CA certificates to trust (PEM), e.g. a test server\'s.' },
        concurrency: { type: 'integer', minimum: 1, maximum: 1000, description: 'Streams in flight per job (default 50).' },
      },
      ['topic'],
    ),
    secrets: ['signingKey', 'key', 'passphrase'],
    create(name, config): Provider<PushMessage> {
      const production = config.production !== false;
      const s = new Settings('apns', name, config, { baseUrl: production ? APNS_PRODUCTION : APNS_SANDBOX, secrets: ['signingKey', 'key', 'passphrase'] });
      const topic = s.str('topic');
      const keyId = s.opt('keyId');
      const cert = s.opt('cert');
      let token: ProviderToken | null = null;
      if (keyId || s.opt('signingKey')) token = new ProviderToken(s.str('keyId'), s.str('teamId'), s.str('signingKey'), s.label);
      else if (!cert) throw new TypeError(`${s.label}: give token auth (keyId, teamId, signingKey) or certificate auth (cert, key)`);
      const tls: { ca?: string; cert?: string; key?: string; passphrase?: string } = {};
      if (s.opt('ca')) tls.ca = s.opt('ca');
      if (cert) Object.assign(tls, { cert, key: s.str('key'), ...(s.opt('passphrase') ? { passphrase: s.opt('passphrase') } : {}) });
      const origin = new URL(s.baseUrl);
      if (origin.protocol !== 'https:') throw new TypeError(`${s.label}: baseUrl must be https (APNs speaks HTTP/2 over TLS only)`);
      const conn = new Connection(origin, guard, tls);
      const concurrency = typeof config.concurrency === 'number' ? config.concurrency : 50;
      const secrets = s.secretValues.flatMap((v) => [v, ...v.split('\n').filter((l) => l.length > 20)]);

      const one = async (part: IosPart, device: string, body: string, ctx: ProviderContext, retried = false): Promise<TokenResult> => {
        const headers: Record<string, string> = { ':path': `/3/device/${device}`, ...apnsHeaders(part, topic) };
        const jwt = token ? await token.get(ctx.now()) : undefined;
        if (jwt) headers.authorization = `bearer ${jwt}`;
        let a: Answer;
        try {
          a = await conn.request(headers, body, s.timeoutMs, ctx.signal);
        } catch (err) {
          const pe = networkFailure(err, s.label);
          return { platform: 'ios', device, status: 'failed', code: pe.code, retryable: pe.retryable, error: pe.message };
        }
        const apnsId = a.headers['apns-id'];
        if (a.status === 200) return { platform: 'ios', device, status: 'sent', messageId: typeof apnsId === 'string' ? apnsId : randomUUID() };
        let reason = `http_${a.status}`;
        try {
          reason = (JSON.parse(a.body) as { reason?: string }).reason ?? reason;
        } catch {
          // not JSON: the status says it
        }
        if (token && jwt && (reason === 'ExpiredProviderToken' || reason === 'InvalidProviderToken')) {
          token.invalidate(jwt);
          if (!retried && reason === 'ExpiredProviderToken') return one(part, device, body, ctx, true);
        }
        if (a.status === 410 || INVALID_REASONS.has(reason)) return { platform: 'ios', device, status: 'invalid', code: reason, retryable: false, error: `${a.status} ${reason}` };
        const r: TokenResult = { platform: 'ios', device, status: 'failed', code: reason, retryable: a.status >= 500 || a.status === 429 || RETRY_REASONS.has(reason), error: `${a.status} ${reason}` };
        const after = retryAfterMs(a.headers['retry-after'] as string | undefined, ctx.now());
        if (after !== undefined) r.retryAfterMs = after;
        return r;
      };

      return {
        name,
        type: 'apns',
        async send(message, ctx): Promise<SendResult> {
          if (message.platform !== 'ios') throw new ProviderError(`${s.label}: sends to iOS devices only`, { code: 'wrong_platform', retryable: false });
          try {
            const body = JSON.stringify(apnsBody(message.part));
            if (Buffer.byteLength(body) > 4096) throw new ProviderError(`${s.label}: the notification is ${Buffer.byteLength(body)} bytes; APNs takes at most 4096`, { code: 'PayloadTooLarge', retryable: false });
            const results = await eachLimited(message.part.tokens, concurrency, (d) => one(message.part, d, body, ctx));
            for (const r of results) r.provider = name;
            // A connection the guard refused fails every token alike: say it as the provider's failure.
            const refused = results.find((r) => r.code === 'outgoing_refused');
            if (refused) throw new ProviderError(refused.error ?? `${s.label}: outgoing connection refused`, { code: 'outgoing_refused', retryable: false });
            return pushFailure(s.label, scrub({ results } as PushSendRaw, secrets));
          } catch (err) {
            throw scrubError(err, secrets);
          }
        },
      };
    },
  };
}
