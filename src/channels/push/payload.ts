// The push task's payload, in either form, checked at enqueue and normalised into one part per platform:
//   original worker: { android: { registration_ids, collapse_key, data, api_key? }, ios: { tokens, category, aps, certificate? } }
//                    (api_key and certificate are ignored: credentials come from the configured providers)
//   native:          { tokens: [...] + platform | [{ platform, token }], title, body, data,
//                      android: { tokens, title, body, data, collapseKey, priority, ttlSeconds, fcm },
//                      ios: { tokens, title, body, data, category, badge, sound, aps, topic, pushType, priority, collapseId, expiration },
//                      provider }
// Both forms go through the same reader: the original's fields are the native ones under their old names.
import { FusionError } from '../../core/errors.js';
import type { AndroidPart, IosPart, Platform } from './message.js';
import { isPlainObject } from '../../core/plain-object.js';

export const MAX_TOKENS = 1000;
const MAX_TEXT = 4000;
/** APNs tokens are hex (32 bytes today); they go into the request path, so nothing else is let through. */
const IOS_TOKEN = /^[0-9a-fA-F]{32,512}$/;
/** FCM registration tokens: URL-safe base64 with ':' and '-' (no spaces, no slashes). */
const FCM_TOKEN = /^[A-Za-z0-9_:.\-]{8,4096}$/;

export interface ParsedPush {
  android?: AndroidPart;
  ios?: IosPart;
  /** A provider the payload asks for (name or adapter type). */
  provider?: string;
  /** The original's `android.api_key` was given: an FCM legacy server key, useless to FCM v1, so ignored. */
  legacyKey?: boolean;
}

const bad = (field: string, message: string) => new FusionError('invalid_payload', message, { field });
const given = (v: unknown) => v !== undefined && v !== null;

function str(o: Record<string, unknown>, key: string, field: string, max = MAX_TEXT): string | undefined {
  const v = o[key];
  if (!given(v)) return undefined;
  if (typeof v !== 'string') throw bad(field, `${field} must be a string`);
  if (v.length > max) throw bad(field, `${field} must be at most ${max} characters`);
  return v;
}

function int(o: Record<string, unknown>, key: string, field: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (!given(v)) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(field, `${field} must be a whole number from ${min} to ${max}`);
  return v;
}

function obj(o: Record<string, unknown>, key: string, field: string): Record<string, unknown> | undefined {
  const v = o[key];
  if (!given(v)) return undefined;
  if (!isPlainObject(v)) throw bad(field, `${field} must be an object`);
  return v;
}

function tokenList(v: unknown, field: string, platform: Platform): string[] {
  if (!Array.isArray(v)) throw bad(field, `${field} must be a list of device tokens`);
  return v.map((t, i) => checkToken(t, `${field}.${i}`, platform));
}

function checkToken(t: unknown, field: string, platform: Platform): string {
  if (typeof t !== 'string' || !t) throw bad(field, `${field} must be a device token (a non-empty string)`);
  const ok = platform === 'ios' ? IOS_TOKEN.test(t) : FCM_TOKEN.test(t);
  if (!ok) throw bad(field, platform === 'ios' ? `${field} is not an APNs device token (hex digits)` : `${field} is not an FCM registration token`);
  return t;
}

/** FCM v1 takes string values only: the original's nested `custom_data` arrives JSON-encoded. */
function stringMap(v: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]));
}

/** Parse and check a payload. Throws FusionError (code invalid_payload, details.field relative to the payload). */
export function parsePushPayload(payload: unknown): ParsedPush {
  if (!isPlainObject(payload)) throw bad('', 'a push payload must be an object');
  const p = payload;
  const a = obj(p, 'android', 'android');
  const i = obj(p, 'ios', 'ios');
  for (const [o, prefix] of [[p, ''], [a, 'android.'], [i, 'ios.']] as const) {
    if (!o) continue;
    for (const k of ['server_key', 'serverKey', 'private_key', 'privateKey', 'access_token', 'accessToken']) {
      if (given(o[k])) throw bad(`${prefix}${k}`, `${prefix}${k} looks like a credential: push credentials come from config (channels.push.providers), not payloads`);
    }
  }

  const title = str(p, 'title', 'title');
  const body = str(p, 'body', 'body');
  const data = obj(p, 'data', 'data');
  let provider: string | undefined;
  const cfg = obj(p, 'config', 'config');
  if (cfg && given(cfg.provider)) provider = str(cfg, 'provider', 'config.provider', 100);
  if (given(p.provider)) provider = str(p, 'provider', 'provider', 100);

  const android: string[] = [];
  const ios: string[] = [];
  if (given(p.tokens)) {
    if (!Array.isArray(p.tokens)) throw bad('tokens', 'tokens must be a list');
    const platform = given(p.platform) ? p.platform : undefined;
    if (platform !== undefined && platform !== 'android' && platform !== 'ios') throw bad('platform', 'platform must be "android" or "ios"');
    p.tokens.forEach((t, n) => {
      if (isPlainObject(t)) {
        if (t.platform !== 'android' && t.platform !== 'ios') throw bad(`tokens.${n}.platform`, `tokens.${n}.platform must be "android" or "ios"`);
        (t.platform === 'ios' ? ios : android).push(checkToken(t.token, `tokens.${n}.token`, t.platform));
      } else {
        if (!platform) throw bad('platform', 'platform ("android" or "ios") is required when tokens are plain strings; or give tokens as { platform, token }');
        (platform === 'ios' ? ios : android).push(checkToken(t, `tokens.${n}`, platform));
      }
    });
  }
  if (a) {
    if (given(a.registration_ids)) android.push(...tokenList(a.registration_ids, 'android.registration_ids', 'android'));
    if (given(a.tokens)) android.push(...tokenList(a.tokens, 'android.tokens', 'android'));
  }
  if (i && given(i.tokens)) ios.push(...tokenList(i.tokens, 'ios.tokens', 'ios'));
  const total = new Set(android).size + new Set(ios).size;
  if (total === 0) throw bad('tokens', 'no device token: give tokens (with platform), android.registration_ids / android.tokens, or ios.tokens');
  if (total > MAX_TOKENS) throw bad('tokens', `at most ${MAX_TOKENS} device tokens per job (got ${total}): split the job`);

  const out: ParsedPush = {};
  if (provider) out.provider = provider;
  if (a && given(a.api_key)) out.legacyKey = true;
  if (android.length) {
    const o = a ?? {};
    const part: AndroidPart = { tokens: [...new Set(android)] };
    const t = str(o, 'title', 'android.title') ?? title;
    const b = str(o, 'body', 'android.body') ?? body;
    if (t !== undefined) part.title = t;
    if (b !== undefined) part.body = b;
    const d = { ...(data ?? {}), ...(obj(o, 'data', 'android.data') ?? {}) };
    if (Object.keys(d).length) part.data = stringMap(d);
    const ck = str(o, 'collapseKey', 'android.collapseKey', 200) ?? str(o, 'collapse_key', 'android.collapse_key', 200) ?? str(p, 'collapseKey', 'collapseKey', 200);
    if (ck) part.collapseKey = ck;
    const pr = o.priority ?? p.priority;
    if (given(pr)) {
      if (pr !== 'high' && pr !== 'normal') throw bad('android.priority', 'android.priority must be "high" or "normal"');
      part.priority = pr;
    }
    const ttl = int(o, 'ttlSeconds', 'android.ttlSeconds', 0, 28 * 86_400) ?? int(p, 'ttlSeconds', 'ttlSeconds', 0, 28 * 86_400);
    if (ttl !== undefined) part.ttlSeconds = ttl;
    const fcm = obj(o, 'fcm', 'android.fcm');
    if (fcm) part.fcm = fcm;
    if (part.title === undefined && part.body === undefined && !part.data) throw bad('title', 'an android push needs a title, a body or data');
    out.android = part;
  }
  if (ios.length) {
    const o = i ?? {};
    const part: IosPart = { tokens: [...new Set(ios)] };
    const t = str(o, 'title', 'ios.title') ?? title;
    const b = str(o, 'body', 'ios.body') ?? body;
    if (t !== undefined) part.title = t;
    if (b !== undefined) part.body = b;
    const d = { ...(data ?? {}), ...(obj(o, 'data', 'ios.data') ?? {}) };
    if ('aps' in d) throw bad('ios.data.aps', 'data must not hold "aps": give aps fields in ios.aps');
    if (Object.keys(d).length) part.data = d;
    const cat = str(o, 'category', 'ios.category', 200);
    if (cat) part.category = cat;
    const badge = int(o, 'badge', 'ios.badge', 0, 1_000_000);
    if (badge !== undefined) part.badge = badge;
    const sound = str(o, 'sound', 'ios.sound', 200);
    if (sound) part.sound = sound;
    const aps = obj(o, 'aps', 'ios.aps');
    if (aps) part.aps = aps;
    const topic = str(o, 'topic', 'ios.topic', 255);
    if (topic) part.topic = topic;
    const pt = str(o, 'pushType', 'ios.pushType', 50);
    if (pt) {
      if (!/^(alert|background|location|voip|complication|fileprovider|mdm|liveactivity|pushtotalk)$/.test(pt)) throw bad('ios.pushType', 'ios.pushType must be an APNs push type (alert, background, voip, ...)');
      part.pushType = pt;
    }
    const prio = int(o, 'priority', 'ios.priority', 1, 10);
    if (prio !== undefined) part.priority = prio;
    const cid = str(o, 'collapseId', 'ios.collapseId', 64);
    if (cid) part.collapseId = cid;
    const exp = int(o, 'expiration', 'ios.expiration', 0, 4_102_444_800);
    if (exp !== undefined) part.expiration = exp;
    if (part.title === undefined && part.body === undefined && !part.aps && !part.data) throw bad('title', 'an ios push needs a title, a body, aps or data');
    out.ios = part;
  }
  return out;
}
