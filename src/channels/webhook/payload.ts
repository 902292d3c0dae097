// The webhook task's payload: the original Fusion's fields (url, method, data, args, isBody, headers,
// timeout, callback, callback_url, args.integration_payload) with its semantics, plus a native form
// (query, body). Checked at enqueue; turned into one HTTP request when the job runs.
import { FusionError } from '../../core/errors.js';
import { integrationOf } from './integration.js';
import { isPlainObject } from '../../core/plain-object.js';

export const WEBHOOK_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type WebhookMethod = (typeof WEBHOOK_METHODS)[number];

/** A 0/1 flag as the original accepted it: a number, a digit string, or a boolean. */
export type Flag = number | string | boolean | null;

export interface WebhookPayload {
  url: string;
  /** GET, POST (default), PUT, PATCH, DELETE; any case. */
  method?: string;
  headers?: Record<string, string>;
  /** Seconds (default channels.webhook.timeoutSeconds, else 15). The original: `timeout`. */
  timeout?: number | string;
  /** The original's query parameters (`params=data`). */
  data?: Record<string, unknown> | string | null;
  /** The original's body: JSON when isBody is 1, form fields otherwise. */
  args?: unknown;
  isBody?: Flag;
  /** 1: POST the answer ({resp, status_code}, as a form) to callback_url. */
  callback?: Flag;
  callback_url?: string;
  /** Native: query parameters. */
  query?: Record<string, unknown> | null;
  /** Native: the body, sent as is when a string, as JSON otherwise. (The original used `body` for
   *  `{callback_headers, callback_payload}` extras, which are accepted and not sent.) */
  body?: unknown;
}

/** One request, ready to send. */
export interface WebhookRequest {
  url: string;
  method: WebhookMethod;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Where the answer goes when `callback` is 1. */
  callbackUrl?: string;
}

export const MAX_TIMEOUT_SECONDS = 300;
export const DEFAULT_TIMEOUT_SECONDS = 15;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;
/** Headers the HTTP client owns; a payload's copy is dropped rather than failing every attempt. */
const CLIENT_HEADERS = new Set(['content-length', 'connection', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer']);
const LEGACY_EXTRAS = new Set(['callback_headers', 'callback_payload']);

const invalid = (field: string, message: string) => new FusionError('invalid_payload', message, { field });

/** The original's `int(flag)` truthiness: 1/"1"/true are on; 0/"0"/false/absent are off. */
export function flagOn(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return Number(v.trim()) !== 0;
  return false;
}

function checkFlag(p: Record<string, unknown>, field: string): void {
  const v = p[field];
  if (v === undefined || v === null || typeof v === 'boolean') return;
  if (typeof v === 'number' && Number.isInteger(v)) return;
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return;
  throw invalid(field, `${field} must be 0 or 1 (a number, a digit string or a boolean)`);
}

function checkHttpUrl(v: unknown, field: string): void {
  if (typeof v !== 'string' || v.length === 0) throw invalid(field, `${field} is required: an http or https URL`);
  if (v.length > 8192) throw invalid(field, `${field} must be at most 8192 characters`);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw invalid(field, `${field} must be a valid http or https URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(field, `${field} must be an http or https URL (got ${url.protocol})`);
}

/** A legacy `body` holding only the original's callback extras, which are not part of the request. */
function legacyExtras(body: unknown): boolean {
  return isPlainObject(body) && Object.keys(body).every((k) => LEGACY_EXTRAS.has(k));
}

/** Legacy payloads carry the body in `args` (and the mode in `isBody`). */
const isLegacyBody = (p: Record<string, unknown>) => p.args !== undefined || p.isBody !== undefined;

/** The payload check run at enqueue: throws FusionError naming the field. */
export function validateWebhookPayload(payload: unknown): void {
  if (!isPlainObject(payload)) throw invalid('', 'a webhook payload must be an object with at least url');
  const p = payload;
  checkHttpUrl(p.url, 'url');
  if (p.method !== undefined && p.method !== null) {
    if (typeof p.method !== 'string' || !(WEBHOOK_METHODS as readonly string[]).includes(p.method.toUpperCase())) {
      throw invalid('method', `method must be one of ${WEBHOOK_METHODS.join(', ')}`);
    }
  }
  if (p.headers !== undefined && p.headers !== null) {
    if (!isPlainObject(p.headers)) throw invalid('headers', 'headers must be an object of strings');
    for (const [k, v] of Object.entries(p.headers)) {
      if (!TOKEN.test(k)) throw invalid(`headers.${k}`, `header name "${k}" is not a valid HTTP header name`);
      if (typeof v !== 'string') throw invalid(`headers.${k}`, `header ${k} must be a string`);
      if (BAD_VALUE.test(v)) throw invalid(`headers.${k}`, `header ${k} must not contain line breaks`);
    }
  }
  if (p.timeout !== undefined && p.timeout !== null) {
    const t = typeof p.timeout === 'string' && p.timeout.trim() !== '' ? Number(p.timeout) : p.timeout;
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0 || t > MAX_TIMEOUT_SECONDS) {
      throw invalid('timeout', `timeout must be a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}`);
    }
  }
  checkFlag(p, 'isBody');
  checkFlag(p, 'callback');
  for (const field of ['data', 'query'] as const) {
    const v = p[field];
    if (v !== undefined && v !== null && !isPlainObject(v) && !(field === 'data' && typeof v === 'string')) {
      throw invalid(field, `${field} must be an object of query parameters`);
    }
  }
  if (p.args !== undefined && p.args !== null && !flagOn(p.isBody) && !isPlainObject(p.args) && typeof p.args !== 'string') {
    throw invalid('args', 'args must be an object (form fields) or a string when isBody is 0');
  }
  if (!isLegacyBody(p) && p.body !== undefined && p.body !== null && !legacyExtras(p.body)) {
    const method = typeof p.method === 'string' ? p.method.toUpperCase() : 'POST';
    if (method === 'GET') throw invalid('body', 'a GET request carries no body (use query)');
  }
  if (flagOn(p.callback)) checkHttpUrl(p.callback_url, 'callback_url');
  else if (p.callback_url !== undefined && p.callback_url !== null && p.callback_url !== '') checkHttpUrl(p.callback_url, 'callback_url');
  integrationOf(p);
}

/** A value as Python's `str()` writes it into a query or form (the original used requests). */
function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** requests' encoding of a dict: lists repeat their key, None is left out. */
export function appendFields(target: URLSearchParams, fields: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(fields)) {
    for (const item of Array.isArray(v) ? v : [v]) {
      if (item !== null && item !== undefined) target.append(k, pyStr(item));
    }
  }
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  for (const k of Object.keys(headers)) if (k.toLowerCase() === name) return true;
  return false;
}

/** The request a (validated) payload describes. */
export function buildRequest(p: WebhookPayload, defaultTimeoutSeconds = DEFAULT_TIMEOUT_SECONDS): WebhookRequest {
  const method = (typeof p.method === 'string' ? p.method.toUpperCase() : 'POST') as WebhookMethod;
  let target = p.url;
  if (p.data || p.query) {
    const url = new URL(p.url);
    for (const q of [p.data, p.query]) {
      if (typeof q === 'string') {
        if (q) url.search = url.search ? `${url.search}&${q.replace(/^[?&]/, '')}` : q;
      } else if (isPlainObject(q)) {
        appendFields(url.searchParams, q);
      }
    }
    target = url.toString();
  }
  const headers: Record<string, string> = {};
  const given = p.headers;
  if (given) for (const k in given) if (!CLIENT_HEADERS.has(k.toLowerCase())) headers[k] = given[k]!;
  let body: string | undefined;
  let type: string | undefined;
  if (method !== 'GET') {
    if (isLegacyBody(p as unknown as Record<string, unknown>)) {
      if (p.args !== undefined && p.args !== null) {
        if (flagOn(p.isBody)) {
          body = JSON.stringify(p.args);
          type = 'application/json';
        } else if (typeof p.args === 'string') {
          body = p.args;
        } else if (isPlainObject(p.args)) {
          const form = new URLSearchParams();
          appendFields(form, p.args);
          body = form.toString();
          type = 'application/x-www-form-urlencoded';
        }
      }
    } else if (p.body !== undefined && p.body !== null && !legacyExtras(p.body)) {
      if (typeof p.body === 'string') body = p.body;
      else {
        body = JSON.stringify(p.body);
        type = 'application/json';
      }
    }
  }
  // The caller's Content-Type wins (the original's examples set it themselves).
  if (type && !hasHeader(headers, 'content-type')) headers['content-type'] = type;
  const t = p.timeout === undefined || p.timeout === null || p.timeout === '' ? defaultTimeoutSeconds : Number(p.timeout);
  const timeoutMs = Math.round(Math.min(Math.max(t, 0.001), MAX_TIMEOUT_SECONDS) * 1000);
  const callbackUrl = flagOn(p.callback) && typeof p.callback_url === 'string' ? p.callback_url : undefined;
  return { url: target, method, headers, body, timeoutMs, callbackUrl };
}
