// Which fields hold secrets, for everything that shows or logs a value: API answers (payloads,
// results, schedule templates) and so the dashboard, log lines, the per-attempt log. One rule, in
// core so every layer above reads the same one: a field masked in a log line is masked in an answer.

/** What a secret's value is replaced with. */
export const MASK = '[redacted]';

/** Names that look like credentials, in any case and anywhere in the name (X-Auth-Token, refresh_token, Cookie, client_key). */
const SECRET_NAME = /token|secret|passw|pwd|key|auth|credential|private|signature|cookie/i;
/** Secrets the pattern does not catch. */
const SECRET_WORDS = new Set(['otp', 'pin', 'certificate']);
/** Names the pattern catches that are shown on purpose: a push job's device tokens the platform refused for good, for apps to prune. */
const SHOWN = new Set(['invalidTokens']);

export function isSecretName(name: string): boolean {
  return (SECRET_NAME.test(name) && !SHOWN.has(name)) || SECRET_WORDS.has(name.toLowerCase());
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
  const extra = new Set((opts.extra ?? []).map((k) => k.toLowerCase()));
  // Payloads and log lines reuse a handful of field names. Bounded: a flood of distinct names only resets it.
  const verdicts = new Map<string, boolean>();
  const secret = (k: string): boolean => {
    let r = verdicts.get(k);
    if (r === undefined) {
      r = isSecretName(k) || extra.has(k.toLowerCase());
      if (verdicts.size >= 10_000) verdicts.clear();
      verdicts.set(k, r);
    }
    return r;
  };
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
