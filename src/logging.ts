// Structured JSON logs (pino). Credentials and secret-looking fields are redacted wherever they appear.
import { pino, type Logger as PinoLogger } from 'pino';

export const SECRET_KEYS = [
  'password', 'passwd', 'secret', 'token', 'apiKey', 'api_key', 'authorization', 'auth_token', 'accessToken',
  'access_token', 'privateKey', 'private_key', 'otp', 'pin',
];

/** Redaction paths: top level and up to two levels deep (pino paths do not recurse). */
export function redactPaths(extra: string[] = []): string[] {
  const keys = [...SECRET_KEYS, ...extra];
  return keys.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `req.headers.${k.toLowerCase()}`, 'req.headers["x-api-key"]']);
}

/** `sync: true` writes each line before returning (tests, short-lived tools); the default is async, off the hot path. */
export function createLogger(
  opts: { level?: string; sensitiveFields?: string[]; destination?: number; sync?: boolean } = {},
): PinoLogger {
  return pino(
    {
      level: opts.level ?? process.env.FUSION_LOG_LEVEL ?? 'info',
      base: { pid: process.pid },
      redact: { paths: [...new Set(redactPaths(opts.sensitiveFields))], censor: '[redacted]' },
    },
    pino.destination({ dest: opts.destination ?? 1, sync: opts.sync ?? false }),
  );
}

/** Mask secret-looking fields of a payload for display (dashboard, listings). Returns a copy. */
export function maskSecrets(value: unknown, extra: string[] = [], depth = 0): unknown {
  if (depth > 20 || value === null || typeof value !== 'object') return value;
  const keys = new Set([...SECRET_KEYS, ...extra].map((k) => k.toLowerCase()));
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, extra, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = keys.has(k.toLowerCase()) ? '[redacted]' : maskSecrets(v, extra, depth + 1);
  }
  return out;
}
