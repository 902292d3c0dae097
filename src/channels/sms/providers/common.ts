// What every SMS adapter does alike: read its config (base URL, timeout, credentials), send one request
// through the guard, turn a non-2xx answer into a classified ProviderError (keeping the provider's own
// error code), and scrub credentials from every error and result before they leave the adapter.
// An adapter then only says how to build its request and how to read its answer.
import type { Dispatcher } from 'undici';
import { ProviderError, type DeliveryReport, type InboundRequest, type Provider, type ProviderConfig, type ProviderContext, type ProviderFactory, type SendResult } from '../../provider.js';
import { httpFailure, httpSend, type HttpAnswer } from '../../http/answer.js';
import type { SmsMessage } from '../message.js';

export const DEFAULT_TIMEOUT_MS = 15_000;

/** The config fields every adapter takes besides its own. */
export const COMMON_CONFIG_PROPERTIES = {
  baseUrl: { type: 'string', description: "The provider's API base (default: its real API); tests point it at loopback." },
  timeoutMs: { type: 'integer', minimum: 1, description: 'Per-request time limit in ms (default 15000).' },
} as const;

/** A JSON Schema for an adapter's config: its own properties plus the common ones. */
export function schema(properties: Record<string, unknown>, required: string[] = []): Record<string, unknown> {
  // Unknown fields are refused: a misspelt credential or sender must fail at start, not send without it.
  return { type: 'object', properties: { ...COMMON_CONFIG_PROPERTIES, ...properties }, required, additionalProperties: false };
}

/** An adapter's config, read once at create. */
export class Settings {
  readonly label: string;
  readonly baseUrl: string;
  readonly timeoutMs: number;
  /** Credential values, scrubbed from errors and results. */
  readonly secretValues: string[];
  constructor(
    readonly type: string,
    readonly name: string,
    readonly config: ProviderConfig,
    defaults: { baseUrl: string; secrets: string[] },
  ) {
    this.label = `${type} provider "${name}"`;
    this.baseUrl = (this.opt('baseUrl') ?? defaults.baseUrl).replace(/\/+$/, '');
    const t = config.timeoutMs;
    this.timeoutMs = typeof t === 'number' && t > 0 ? t : DEFAULT_TIMEOUT_MS;
    this.secretValues = defaults.secrets.map((f) => config[f]).filter((v): v is string => typeof v === 'string' && v.length >= 3);
  }
  /** A required string field; a missing one is a config mistake, said at start. */
  str(field: string): string {
    const v = this.opt(field);
    if (v === undefined) throw new TypeError(`${this.label}: config field "${field}" is required`);
    return v;
  }
  opt(field: string): string | undefined {
    const v = this.config[field];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string' && typeof v !== 'number') throw new TypeError(`${this.label}: config field "${field}" must be a string`);
    return String(v);
  }
  bool(field: string, fallback: boolean): boolean {
    const v = this.config[field];
    return typeof v === 'boolean' ? v : fallback;
  }
  /** The sender: the message's own, else the configured default. */
  sender(message: SmsMessage, field = 'sender'): string | undefined {
    return message.senderId ?? this.opt(field);
  }
}

export interface ProviderRequest {
  url: string;
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  body?: string;
}

export interface Exchange {
  request(message: SmsMessage, ctx: ProviderContext): ProviderRequest | Promise<ProviderRequest>;
  /** The provider's own error code in a non-2xx answer, kept as the ProviderError's code. */
  errorCode?(answer: HttpAnswer): string | undefined;
  /** Whether the answer's status is a success to read (default: 2xx). */
  accept?(answer: HttpAnswer): boolean;
  /** The error for an answer not accepted (default: httpFailure, classified by status). */
  failure?(answer: HttpAnswer, ctx: ProviderContext): ProviderError;
  /** A 2xx answer: the result, or a thrown refusal() for an error the provider reports inside a 2xx. */
  read(answer: HttpAnswer, message: SmsMessage, ctx: ProviderContext): SendResult;
  deliveryReports?(req: InboundRequest): DeliveryReport[];
}

/** A provider that sends one HTTP request per message. */
export function httpProvider(s: Settings, ex: Exchange): Provider<SmsMessage> {
  const provider: Provider<SmsMessage> = {
    name: s.name,
    type: s.type,
    async send(message, ctx) {
      let secrets = s.secretValues;
      try {
        const req = await ex.request(message, ctx);
        secrets = [...s.secretValues, ...sentCredentials(req.headers)];
        const answer = await httpSend(req.url, { method: req.method ?? 'POST', headers: req.headers, body: req.body, timeoutMs: s.timeoutMs }, ctx, s.label);
        const ok = ex.accept ? ex.accept(answer) : answer.status >= 200 && answer.status < 300;
        if (!ok) throw ex.failure ? ex.failure(answer, ctx) : httpFailure(answer, s.label, ctx.now(), ex.errorCode?.(answer));
        const result = ex.read(answer, message, ctx);
        return { ...result, raw: scrub(result.raw ?? answer.json ?? answer.text, secrets) };
      } catch (err) {
        throw scrubError(err, secrets);
      }
    },
  };
  if (ex.deliveryReports) provider.deliveryReports = (req) => ex.deliveryReports!(req);
  return provider;
}

/** An error the provider reported (in a 2xx answer, or a code we classify ourselves). */
export function refusal(s: Settings, code: string, message: string, opts: { retryable?: boolean; raw?: unknown; status?: number; retryAfterMs?: number } = {}): ProviderError {
  return new ProviderError(`${s.label}: ${message} (${code})`, {
    code,
    retryable: opts.retryable ?? false,
    raw: opts.raw,
    status: opts.status,
    retryAfterMs: opts.retryAfterMs,
  });
}

/** An error the provider reported inside an answer (the answer kept as raw). */
export function answerError(s: Settings, answer: HttpAnswer, code: string, message: string, retryable = false): ProviderError {
  return refusal(s, code, message, { retryable, raw: answer.json ?? answer.text, status: answer.status });
}

/** A result whose message id must be present in the answer. */
export function sent(s: Settings, answer: HttpAnswer, messageId: unknown, status: SendResult['status'] = 'sent'): SendResult {
  if ((typeof messageId !== 'string' && typeof messageId !== 'number') || messageId === '') {
    throw answerError(s, answer, 'bad_answer', 'the answer carries no message id');
  }
  return { messageId: String(messageId), status, raw: answer.json ?? answer.text };
}

/** A value inside parsed JSON by a dotted path (`data.messages.0.id`); undefined when absent. */
export function pick(value: unknown, path: string): unknown {
  let v = value;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = Array.isArray(v) ? v[Number(key)] : (v as Record<string, unknown>)[key];
  }
  return v;
}

/** A string field of parsed JSON (numbers as their text), else undefined. */
export function text(value: unknown, path: string): string | undefined {
  const v = pick(value, path);
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export const FORM = 'application/x-www-form-urlencoded';
export const JSON_TYPE = 'application/json';

export function form(fields: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) p.append(k, v);
  return p.toString();
}

/** The number as most APIs want it: E.164 without the plus. */
export function digits(message: SmsMessage): string {
  return message.to.replace(/^\+/, '');
}

/**
 * Credentials in the form they were sent: an Authorization header's credential (Basic is base64 of
 * id:secret, which gives the secret away as surely as the secret itself). A provider that echoes
 * the request's headers back must not put them in a job's result or error.
 */
function sentCredentials(headers: Record<string, string> | undefined): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (!/^(proxy-)?authorization$/i.test(k) || typeof v !== 'string') continue;
    const credential = v.replace(/^\S+\s+/, '');
    if (credential.length >= 8) out.push(credential);
  }
  return out;
}

function replaceAll(s: string, secrets: string[]): string {
  let out = s;
  for (const secret of secrets) {
    for (const form of new Set([secret, encodeURIComponent(secret), new URLSearchParams({ x: secret }).toString().slice(2)])) {
      out = out.split(form).join('[redacted]');
    }
  }
  return out;
}

/** A copy of a value with every credential replaced (strings anywhere inside). */
export function scrub<T>(value: T, secrets: string[]): T {
  if (secrets.length === 0) return value;
  if (typeof value === 'string') return replaceAll(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, secrets)])) as T;
  }
  return value;
}

/** The same error with credentials scrubbed from its message and raw answer. */
export function scrubError(err: unknown, secrets: string[]): unknown {
  if (err instanceof ProviderError) {
    const clean = new ProviderError(replaceAll(err.message, secrets), {
      code: err.code,
      retryable: err.retryable,
      retryAfterMs: err.retryAfterMs,
      status: err.status,
      raw: scrub(err.raw, secrets),
    });
    return clean;
  }
  if (err instanceof Error) err.message = replaceAll(err.message, secrets);
  return err;
}

export interface AdapterDef {
  type: string;
  /** The provider's real API base; config `baseUrl` overrides it. */
  baseUrl: string;
  configSchema: Record<string, unknown>;
  secrets: string[];
  /** Read the config (through Settings, which says what is missing) and say how to talk to the provider. */
  exchange(s: Settings): Exchange;
}

/** An SMS adapter that sends one HTTP request per message. */
export function adapter(def: AdapterDef): ProviderFactory<SmsMessage> {
  return {
    type: def.type,
    channel: 'sms',
    configSchema: def.configSchema,
    secrets: def.secrets,
    create(name, config) {
      const s = new Settings(def.type, name, config, { baseUrl: def.baseUrl, secrets: def.secrets });
      return httpProvider(s, def.exchange(s));
    },
  };
}
