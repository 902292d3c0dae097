// Structured JSON logs (pino). Credentials and secret-looking fields are redacted wherever they appear.
// With Elasticsearch configured, the same lines are also shipped there (as the original worker did)
// through the maintained pino-elasticsearch stream.
import { pino, type DestinationStream, type Logger as PinoLogger, type LoggerOptions } from 'pino';

export const SECRET_KEYS = [
  'password', 'passwd', 'secret', 'token', 'apiKey', 'api_key', 'authorization', 'auth_token', 'accessToken',
  'access_token', 'privateKey', 'private_key', 'otp', 'pin',
];

/**
 * A secret masker: secret-named keys (built-in names plus `extra`, any case) become '[redacted]'
 * down to `maxDepth` levels, copying only the branches that hold one, so the common case (nothing
 * to mask) allocates nothing. pino's path-based redact with wildcard paths cost more than the rest
 * of a job's cycle (~4x throughput loss at info level); a key walk costs ~nothing. With `plainOnly`,
 * objects other than plain ones and arrays (an Error, Date or Buffer in a log line) are left as they are.
 */
export function secretMasker(extra: string[], opts: { maxDepth: number; plainOnly?: boolean }): <T>(v: T) => T {
  const keys = new Set([...SECRET_KEYS, ...extra].map((k) => k.toLowerCase()));
  // Payloads and log lines reuse a handful of field names; remembering the verdict per name saves
  // a lowercased copy of every key. Bounded: a flood of distinct names only resets it.
  const verdicts = new Map<string, boolean>();
  const secret = (k: string): boolean => {
    let r = verdicts.get(k);
    if (r === undefined) {
      r = keys.has(k.toLowerCase());
      if (verdicts.size >= 10_000) verdicts.clear();
      verdicts.set(k, r);
    }
    return r;
  };
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > opts.maxDepth || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) {
      let arr: unknown[] | null = null;
      v.forEach((x, i) => {
        const y = walk(x, depth + 1);
        if (y !== x) (arr ??= v.slice())[i] = y;
      });
      return arr ?? v;
    }
    if (opts.plainOnly) {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return v;
    }
    let out: Record<string, unknown> | null = null;
    for (const k in v) {
      const x = (v as Record<string, unknown>)[k];
      const y = secret(k) ? '[redacted]' : walk(x, depth + 1);
      if (y !== x) (out ??= { ...(v as Record<string, unknown>) })[k] = y;
    }
    return out ?? v;
  };
  return <T>(v: T) => walk(v, 0) as T;
}

/** pino's log formatter: secrets (and API key headers) masked in every log object. */
export function logRedactor(extra: string[] = []): (obj: Record<string, unknown>) => Record<string, unknown> {
  return secretMasker([...extra, 'x-api-key'], { maxDepth: 6, plainOnly: true });
}

export interface LoggerSetup {
  level?: string;
  sensitiveFields?: string[];
  destination?: number;
  sync?: boolean;
}

function loggerOptions(opts: LoggerSetup): LoggerOptions {
  return {
    level: opts.level ?? process.env.FUSION_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    formatters: { log: logRedactor(opts.sensitiveFields) },
  };
}

/** `sync: true` writes each line before returning (tests, short-lived tools); the default is async, off the hot path. */
export function createLogger(opts: LoggerSetup = {}): PinoLogger {
  return pino(loggerOptions(opts), pino.destination({ dest: opts.destination ?? 1, sync: opts.sync ?? false }));
}

/** Where logs are shipped besides stdout (fusion.config.json `logging.elasticsearch`). */
export interface ElasticsearchTarget {
  node: string;
  /** Index name; `%{DATE}` becomes the line's day (default `fusion`). */
  index?: string;
  auth?: { username?: string; password?: string; apiKey?: string };
  /** Ship a batch at least this often, in ms (default 1000). */
  flushIntervalMs?: number;
}

export interface ShippingLogger {
  logger: PinoLogger;
  /** Ship what is still buffered and stop (at shutdown); resolves within `timeoutMs` whatever ES does. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * A logger writing to stdout and, when `elasticsearch` is given, to Elasticsearch's bulk API as
 * well (one multistream: the same redacted line goes to both). Shipping faults are reported on
 * stdout and never stop the process.
 */
export async function createShippingLogger(opts: LoggerSetup & { elasticsearch?: ElasticsearchTarget }): Promise<ShippingLogger> {
  const stdout = pino.destination({ dest: opts.destination ?? 1, sync: opts.sync ?? false });
  const es = opts.elasticsearch;
  if (!es) return { logger: pino(loggerOptions(opts), stdout), close: async () => {} };
  // Loaded only when shipping: the Elasticsearch client is a sizeable module.
  // CommonJS: at run time its function is the default export (module.exports) itself.
  const mod = (await import('pino-elasticsearch')) as unknown as { default: unknown };
  const pinoElastic = ((mod.default as { default?: unknown }).default ?? mod.default) as (o: Record<string, unknown>) => import('node:stream').Transform;
  const auth = es.auth?.apiKey ? { apiKey: es.auth.apiKey } : es.auth?.username !== undefined ? { username: es.auth.username, password: es.auth.password ?? '' } : undefined;
  const shipper = pinoElastic({
    node: es.node,
    index: es.index ?? 'fusion',
    auth,
    esVersion: 8,
    flushBytes: 64 * 1024,
    flushInterval: es.flushIntervalMs ?? 1000,
  });
  const logger = pino(loggerOptions(opts), pino.multistream([
    { level: 'trace', stream: stdout },
    { level: 'trace', stream: shipper as unknown as DestinationStream },
  ]));
  // The shipper's own faults go to stdout only (never back into the shipper), without credentials.
  const node = es.node.replace(/\/\/[^@/]*@/, '//***@');
  let reported = 0;
  const fault = (what: string, err: unknown) => {
    if (reported++ < 5) stdout.write(`${JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, node, err: (err as Error)?.message ?? String(err), msg: `elasticsearch shipping: ${what}` })}\n`);
  };
  let finished = false;
  const done = new Promise<void>((resolve) => {
    shipper.on('insert', () => ((finished = true), resolve()));
    shipper.on('error', (err: Error) => {
      fault('error', err);
      finished = true;
      resolve();
    });
  });
  shipper.on('insertError', (err: Error) => fault('a log line was dropped', err));
  return {
    logger,
    async close(timeoutMs = 5000) {
      if (!finished) shipper.end();
      let t: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise<void>((r) => (t = setTimeout(r, timeoutMs)))]);
      clearTimeout(t);
    },
  };
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
