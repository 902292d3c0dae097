// Structured JSON logs (pino). Credentials and secret-looking fields are redacted wherever they appear.
// With Elasticsearch configured, the same lines are also shipped there (as the original worker did)
// through the maintained pino-elasticsearch stream.
import { pino, type DestinationStream, type Logger as PinoLogger, type LoggerOptions } from 'pino';
import { secretMasker } from './core/secret-fields.js';
import { redactUrl } from './channels/redact-url.js';

/**
 * Fusion's own log fields whose names look like secrets but hold none: the API key's name (never the
 * key) on request lines, and counts (keys configured, push tokens of a dry-run send).
 */
const OWN_LOG_FIELDS: ReadonlySet<string> = new Set(['key', 'apiKeys', 'tokens']);

/**
 * pino's log formatter: secret-named fields masked in every log object, by the rule answers use
 * (core/secret-fields.ts). pino's path-based redact with wildcard paths cost more than the rest of
 * a job's cycle (~4x throughput loss at info level); a key walk costs ~nothing.
 */
export function logRedactor(extra: string[] = []): (obj: Record<string, unknown>) => Record<string, unknown> {
  return secretMasker({ extra, maxDepth: 6, plainOnly: true, keepTop: OWN_LOG_FIELDS });
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

/**
 * Bytes of lines waiting for stdout past which new lines are dropped. An async destination keeps
 * what the descriptor does not take yet: stdout piped to a reader that stalls (a log collector
 * down, a paused `| tee`) otherwise made the process keep every line logged for as long as it lasted.
 */
export const MAX_STDOUT_BACKLOG_BYTES = 16 * 1024 * 1024;

function stdoutDestination(opts: LoggerSetup) {
  return pino.destination({ dest: opts.destination ?? 1, sync: opts.sync ?? false, maxLength: MAX_STDOUT_BACKLOG_BYTES });
}

/** `sync: true` writes each line before returning (tests, short-lived tools); the default is async, off the hot path. */
export function createLogger(opts: LoggerSetup = {}): PinoLogger {
  return pino(loggerOptions(opts), stdoutDestination(opts));
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

/**
 * Bytes of log lines waiting for Elasticsearch past which new lines are not shipped (stdout still
 * has every one). The bulk helper stops reading while its requests wait: a cluster that is down or
 * does not answer otherwise made the process keep every line logged meanwhile, for as long as it lasted.
 */
export const MAX_SHIPPING_BACKLOG_BYTES = 16 * 1024 * 1024;

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
  const stdout = stdoutDestination(opts);
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
  // The shipper's own faults go to stdout only (never back into the shipper), without credentials.
  const node = redactUrl(es.node);
  let reported = 0;
  const fault = (what: string, err: unknown) => {
    if (reported++ < 5) stdout.write(`${JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, node, err: (err as Error)?.message ?? String(err), msg: `elasticsearch shipping: ${what}` })}\n`);
  };
  let shedding = false;
  const bounded = {
    write(line: string): void {
      if (shipper.writableLength < MAX_SHIPPING_BACKLOG_BYTES) {
        shedding = false;
        shipper.write(line);
      } else if (!shedding) {
        shedding = true;
        fault('log lines are not shipped while Elasticsearch is behind', `${shipper.writableLength} bytes wait`);
      }
    },
    end(): void {
      shipper.end();
    },
    /** What waits for Elasticsearch (as a stream tells it), for diagnostics. */
    get writableLength(): number {
      return shipper.writableLength;
    },
  };
  const logger = pino(loggerOptions(opts), pino.multistream([
    { level: 'trace', stream: stdout },
    { level: 'trace', stream: bounded as DestinationStream },
  ]));
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

/** Mask secret-named fields of a value for display (core/secret-fields.ts): a copy where something is masked, else the value itself. */
export function maskSecrets(value: unknown, extra: string[] = []): unknown {
  return secretMasker({ extra, maxDepth: 20 })(value);
}
