// Firebase Cloud Messaging, HTTP v1: POST {base}/v1/projects/{projectId}/messages:send, one request
// per device token, Bearer access token from the service account's OAuth flow (an RS256 JWT signed
// with the account's private key, exchanged at its token_uri for an access token, cached until a
// minute before it expires). Per-token outcomes are results, not errors: an unregistered token is
// `invalid`, a 503 on one token is a retryable failure of that token only, SENDER_ID_MISMATCH (the
// token is another Firebase project's than the provider's) a refusal, not an invalid token: a
// provider configured with the wrong project would otherwise have every device pruned. The provider throws only
// when nothing could be tried (no access token) or every token failed retryably (the provider is
// down), so the pipeline counts it against the provider's health and fails over.
import type { KeyObject } from 'node:crypto';
/** jose loads on first use: a worker that sends no push does not pay for it at start. */
const jose = () => import('jose');
import { ProviderError, type Provider, type ProviderContext, type ProviderFactory, type SendResult } from '../provider.js';
import { httpSend, retryAfterMs, capText, type HttpAnswer } from '../http/answer.js';
import { Settings, scrub, scrubError, schema, form, FORM, JSON_TYPE } from '../sms/providers/common.js';
import type { AndroidPart, PushMessage, PushSendRaw, TokenResult } from './message.js';
import { eachLimited, pushFailure } from './common.js';

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
/** Refresh the access token this long before it expires. */
const EARLY_MS = 60_000;

interface ServiceAccount {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  project_id?: string;
  token_uri?: string;
}

function serviceAccount(label: string, v: unknown): ServiceAccount {
  let o = v;
  if (typeof v === 'string') {
    try {
      o = JSON.parse(v);
    } catch {
      throw new TypeError(`${label}: serviceAccount must be the service account's JSON (an object, or its text, e.g. env:FCM_SERVICE_ACCOUNT)`);
    }
  }
  const sa = o as Partial<ServiceAccount> | null;
  if (!sa || typeof sa !== 'object' || typeof sa.client_email !== 'string' || typeof sa.private_key !== 'string') {
    throw new TypeError(`${label}: serviceAccount needs client_email and private_key (the JSON key file of a service account)`);
  }
  return sa as ServiceAccount;
}

/** An OAuth access token from a service account, cached; one exchange in flight at a time. */
export class ServiceAccountToken {
  private cached: { token: string; until: number } | null = null;
  private pending: Promise<string> | null = null;
  private key: Promise<KeyObject | CryptoKey> | null = null;

  constructor(private readonly sa: ServiceAccount, private readonly tokenUri: string, private readonly label: string, private readonly timeoutMs: number) {}

  invalidate(): void {
    this.cached = null;
  }

  async get(ctx: ProviderContext): Promise<string> {
    const now = ctx.now();
    if (this.cached && now < this.cached.until) return this.cached.token;
    this.pending ??= this.exchange(ctx).finally(() => (this.pending = null));
    return this.pending;
  }

  private async exchange(ctx: ProviderContext): Promise<string> {
    this.key ??= jose().then((j) => j.importPKCS8(this.sa.private_key, 'RS256')).catch((err) => {
      this.key = null;
      throw new ProviderError(`${this.label}: the service account's private_key is not a PKCS#8 RSA key (${(err as Error).message})`, { code: 'bad_credentials', retryable: false });
    });
    const key = await this.key;
    const iat = Math.floor(ctx.now() / 1000);
    const header: { alg: string; typ: string; kid?: string } = { alg: 'RS256', typ: 'JWT' };
    if (this.sa.private_key_id) header.kid = this.sa.private_key_id;
    const assertion = await new (await jose()).SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader(header)
      .setIssuer(this.sa.client_email)
      .setAudience(this.tokenUri)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(key);
    const answer = await httpSend(this.tokenUri, {
      headers: { 'content-type': FORM },
      body: form({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
      timeoutMs: this.timeoutMs,
    }, ctx, `${this.label} token endpoint`);
    const j = answer.json as { access_token?: string; expires_in?: number; error?: string; error_description?: string } | undefined;
    if (answer.status !== 200 || !j?.access_token) {
      // invalid_grant / unauthorized_client: the key or account is wrong, no retry fixes it.
      const refused = answer.status >= 400 && answer.status < 500 && answer.status !== 429 && answer.status !== 408;
      throw new ProviderError(`${this.label}: the token endpoint answered ${answer.status}: ${capText(answer.text, 300)}`, {
        code: j?.error ? `oauth_${j.error}` : 'oauth_failed',
        retryable: !refused,
        status: answer.status,
        retryAfterMs: retryAfterMs(answer.headers['retry-after'], ctx.now()),
      });
    }
    const life = (typeof j.expires_in === 'number' && j.expires_in > 0 ? j.expires_in : 3600) * 1000;
    this.cached = { token: j.access_token, until: ctx.now() + Math.max(0, life - EARLY_MS) };
    return j.access_token;
  }
}

/** FCM's error status or its FcmError errorCode, and whether it says the token itself is dead. */
function fcmError(answer: HttpAnswer): { code: string; invalidToken: boolean; message: string } {
  const e = (answer.json as { error?: { status?: string; message?: string; details?: { '@type'?: string; errorCode?: string; fieldViolations?: { field?: string }[] }[] } } | undefined)?.error;
  const fcmCode = e?.details?.find((d) => d.errorCode)?.errorCode;
  const code = fcmCode ?? e?.status ?? `http_${answer.status}`;
  const onToken = e?.details?.some((d) => d.fieldViolations?.some((f) => f.field === 'message.token')) || /registration token/i.test(e?.message ?? '');
  const invalidToken = code === 'UNREGISTERED' || (code === 'INVALID_ARGUMENT' && onToken);
  const message = e?.message ?? capText(answer.text, 300);
  return { code, invalidToken, message: code === 'SENDER_ID_MISMATCH' ? `${message}: the token is another Firebase project's than this provider's (check its serviceAccount and projectId)` : message };
}

const RETRY_CODES = new Set(['UNAVAILABLE', 'INTERNAL', 'QUOTA_EXCEEDED']);

export function fcmBody(part: AndroidPart, token: string): Record<string, unknown> {
  const android: Record<string, unknown> = {};
  if (part.collapseKey) android.collapse_key = part.collapseKey;
  if (part.priority) android.priority = part.priority === 'high' ? 'HIGH' : 'NORMAL';
  if (part.ttlSeconds !== undefined) android.ttl = `${part.ttlSeconds}s`;
  Object.assign(android, part.fcm ?? {});
  const message: Record<string, unknown> = { token };
  if (part.title !== undefined || part.body !== undefined) {
    message.notification = { ...(part.title !== undefined ? { title: part.title } : {}), ...(part.body !== undefined ? { body: part.body } : {}) };
  }
  if (part.data) message.data = part.data;
  if (Object.keys(android).length) message.android = android;
  return { message };
}

export const fcm: ProviderFactory<PushMessage> & { platform: 'android' } = {
  type: 'fcm',
  channel: 'push',
  platform: 'android',
  configSchema: schema(
    {
      serviceAccount: { type: ['object', 'string'], description: "The service account's JSON key (object or its text): client_email, private_key, project_id, token_uri." },
      projectId: { type: 'string', description: 'Firebase project id (default: the service account\'s project_id).' },
      tokenUri: { type: 'string', description: 'OAuth token endpoint (default: the service account\'s token_uri); tests point it at loopback.' },
      concurrency: { type: 'integer', minimum: 1, maximum: 100, description: 'Token requests in flight per job (default 10).' },
    },
    ['serviceAccount'],
  ),
  secrets: ['serviceAccount'],
  create(name, config): Provider<PushMessage> {
    const s = new Settings('fcm', name, config, { baseUrl: 'https://fcm.googleapis.com', secrets: [] });
    const sa = serviceAccount(s.label, config.serviceAccount);
    const projectId = s.opt('projectId') ?? sa.project_id;
    if (!projectId) throw new TypeError(`${s.label}: no project id: set projectId, or use a service account JSON with project_id`);
    const tokenUri = s.opt('tokenUri') ?? sa.token_uri ?? DEFAULT_TOKEN_URI;
    const concurrency = typeof config.concurrency === 'number' ? config.concurrency : 10;
    const auth = new ServiceAccountToken(sa, tokenUri, s.label, s.timeoutMs);
    const secrets = [sa.private_key, ...sa.private_key.split('\n').filter((l) => l.length > 20)];
    const url = `${s.baseUrl}/v1/projects/${encodeURIComponent(projectId)}/messages:send`;

    const one = async (part: AndroidPart, token: string, ctx: ProviderContext, retried = false): Promise<TokenResult> => {
      const access = await auth.get(ctx);
      let answer: HttpAnswer;
      try {
        answer = await httpSend(url, {
          headers: { authorization: `Bearer ${access}`, 'content-type': JSON_TYPE },
          body: JSON.stringify(fcmBody(part, token)),
          timeoutMs: s.timeoutMs,
        }, ctx, s.label);
      } catch (err) {
        const pe = err as ProviderError;
        return { platform: 'android', device: token, status: 'failed', code: pe.code, retryable: pe.retryable, error: pe.message };
      }
      if (answer.status === 200) {
        const id = (answer.json as { name?: string } | undefined)?.name;
        return { platform: 'android', device: token, status: 'sent', messageId: id ?? `fcm-${ctx.jobId}` };
      }
      const e = fcmError(answer);
      if (answer.status === 401 && e.code !== 'THIRD_PARTY_AUTH_ERROR') {
        // The access token was revoked or expired early: one fresh token, one more try.
        auth.invalidate();
        if (!retried) return one(part, token, ctx, true);
      }
      if (e.invalidToken) return { platform: 'android', device: token, status: 'invalid', code: e.code, retryable: false, error: e.message };
      const retryable = answer.status >= 500 || answer.status === 429 || RETRY_CODES.has(e.code) || answer.status === 401 && e.code !== 'THIRD_PARTY_AUTH_ERROR';
      const r: TokenResult = { platform: 'android', device: token, status: 'failed', code: e.code, retryable, error: `${answer.status} ${e.message}` };
      const after = retryAfterMs(answer.headers['retry-after'], ctx.now());
      if (after !== undefined) r.retryAfterMs = after;
      return r;
    };

    return {
      name,
      type: 'fcm',
      async send(message, ctx): Promise<SendResult> {
        if (message.platform !== 'android') throw new ProviderError(`${s.label}: sends to Android devices only`, { code: 'wrong_platform', retryable: false });
        try {
          await auth.get(ctx); // one exchange before fanning out
          const results = await eachLimited(message.part.tokens, concurrency, (t) => one(message.part, t, ctx));
          for (const r of results) r.provider = name;
          return pushFailure(s.label, scrub({ results } as PushSendRaw, secrets));
        } catch (err) {
          throw scrubError(err, secrets);
        }
      },
    };
  },
};
