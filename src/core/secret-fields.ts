// Which fields hold secrets, for everything that shows or logs a value: API answers (payloads,
// results, schedule templates) and so the dashboard, log lines, the per-attempt log. One rule, in
// core so every layer above reads the same one: a field masked in a log line is masked in an answer.

/** What a secret's value is replaced with. */
export const MASK = '[redacted]';

/**
 * Words that make a name a credential's, in any case, as a word of the name: X-Auth-Token,
 * refresh_token, Cookie, client_key, apiKey, APIKEY, webhookSecret. A word, not a substring, so an
 * `author` or a `keyword` in a payload is shown as it is.
 */
const SECRET_WORDS = new Set([
  'token', 'tokens', 'secret', 'secrets', 'password', 'passwd', 'passphrase', 'pwd', 'key', 'keys', 'apikey',
  'auth', 'authorization', 'credential', 'credentials', 'private', 'signature', 'cookie', 'cookies',
]);
/** Secret as whole names only: as a word, `otp` and `pin` name settings too (otpRoutes, pinned). */
const SECRET_NAMES = new Set(['otp', 'pin', 'certificate']);
/** Names the rule catches that are shown on purpose: a push job's device tokens the platform refused for good, for apps to prune. */
const SHOWN = new Set(['invalidTokens']);

/** The words of a name: camelCase humps, and runs of letters and digits between other characters. */
const wordsOf = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase().split(/[^a-z0-9]+/);

export function isSecretName(name: string): boolean {
  if (SHOWN.has(name)) return false;
  return SECRET_NAMES.has(name.toLowerCase()) || wordsOf(name).some((w) => SECRET_WORDS.has(w));
}

/** The rule plus `extra` names (exact, any case), with the verdict per name remembered. */
export function secretNames(extra: readonly string[] = []): (name: string) => boolean {
  const more = new Set(extra.map((k) => k.toLowerCase()));
  // Payloads and log lines reuse a handful of field names. Bounded: a flood of distinct names only resets it.
  const verdicts = new Map<string, boolean>();
  return (k) => {
    let r = verdicts.get(k);
    if (r === undefined) {
      r = isSecretName(k) || more.has(k.toLowerCase());
      if (verdicts.size >= 10_000) verdicts.clear();
      verdicts.set(k, r);
    }
    return r;
  };
}

export interface MaskerOptions {
  /** More names to mask, exactly (any case): a deployment's own (`sensitiveFields`). */
  extra?: readonly string[];
  maxDepth: number;
  /** Objects other than plain ones and arrays (an Error, a Date, a Buffer in a log line) are left as they are. */
  plainOnly?: boolean;
  /** Top-level names that are never masked: a log line's own fields that only look like secrets. */
  keepTop?: ReadonlySet<string>;
}

/**
 * A masker: the value of every secret-named field, down to `maxDepth` levels, becomes MASK, unless
 * it is null, undefined or a boolean (a flag such as `useAuth: true` hides nothing). Only the
 * branches holding a secret are copied, so the common case (nothing to mask) allocates nothing and
 * answers the value itself. It runs on every answer and log line: a key walk, with the verdict per
 * name remembered.
 */
export function secretMasker(opts: MaskerOptions): <T>(v: T) => T {
  const secret = secretNames(opts.extra);
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > opts.maxDepth || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) {
      let arr: unknown[] | null = null;
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        const y = walk(x, depth + 1);
        if (y !== x) (arr ??= v.slice())[i] = y;
      }
      return arr ?? v;
    }
    if (opts.plainOnly) {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return v;
    }
    let out: Record<string, unknown> | null = null;
    for (const k in v) {
      const x = (v as Record<string, unknown>)[k];
      const hide = secret(k) && x != null && typeof x !== 'boolean' && !(depth === 0 && opts.keepTop?.has(k));
      const y = hide ? MASK : walk(x, depth + 1);
      if (y !== x) (out ??= { ...(v as Record<string, unknown>) })[k] = y;
    }
    return out ?? v;
  };
  return <T>(v: T) => walk(v, 0) as T;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * `sent` with each secret-named field whose value is exactly MASK given back the value `stored` has
 * at the same path (when it has one): a client that saves what an answer showed it (the dashboard's
 * schedule editor) keeps the secrets it was never shown, instead of storing the mask over them.
 */
export function restoreMasked<T>(sent: T, stored: unknown, secret: (name: string) => boolean): T {
  const walk = (s: unknown, t: unknown): unknown => {
    if (Array.isArray(s)) {
      if (!Array.isArray(t)) return s;
      let arr: unknown[] | null = null;
      for (let i = 0; i < s.length; i++) {
        const y = walk(s[i], t[i]);
        if (y !== s[i]) (arr ??= s.slice())[i] = y;
      }
      return arr ?? s;
    }
    if (!isRecord(s) || !isRecord(t)) return s;
    let out: Record<string, unknown> | null = null;
    for (const k in s) {
      const x = s[k];
      const y = x === MASK && secret(k) && Object.hasOwn(t, k) ? t[k] : walk(x, t[k]);
      if (y !== x) (out ??= { ...s })[k] = y;
    }
    return out ?? s;
  };
  return walk(sent, stored) as T;
}
