// Store URLs: as logs and messages may show them, and the parameters Redis and PostgreSQL share.
import { FusionError } from '../core/errors.js';

/**
 * Whether a store URL names Redis: a single server (redis://, rediss:// with TLS), a Cluster
 * (redis+cluster://) or a master its Sentinels name (redis+sentinel://).
 */
export function isRedisUrl(url: string): boolean {
  return /^(redis|rediss|redis\+cluster|redis\+sentinel):\/\//.test(url);
}

/**
 * A store URL as logs and messages may show it: the passwords replaced by *** (the URL's own, up to
 * the last @ before its query, as a raw @ in a password would leave more; and a Sentinel's, a
 * PostgreSQL one given as a parameter).
 */
export function redactStoreUrl(url: string): string {
  const afterScheme = url.indexOf('://');
  if (afterScheme < 0) return url;
  const queryAt = url.indexOf('?', afterScheme);
  let head = queryAt >= 0 ? url.slice(0, queryAt) : url;
  const query = queryAt >= 0 ? url.slice(queryAt) : '';
  const at = head.lastIndexOf('@');
  const colon = head.indexOf(':', afterScheme + 3);
  if (at > afterScheme && colon >= 0 && colon < at) head = `${head.slice(0, colon + 1)}***${head.slice(at)}`;
  return head + query.replace(/([?&](?:sentinelPassword|password)=)[^&]*/g, '$1***');
}

/**
 * A connection whose path went silent (a NAT or firewall that forgot it, a failover that moved the
 * server's address) sees no close: its calls would wait for TCP to give up, ~15 minutes. Past this
 * a wait is looked into (stores/redis/connect.ts, stores/postgres/silence.ts). 10 s is twice Redis's
 * own busy-script threshold.
 */
export const DEFAULT_SOCKET_TIMEOUT_MS = 10_000;
/** An hour: past it a silent path is no better found than by TCP, and timers cannot count much further. */
const MAX_SOCKET_TIMEOUT_MS = 3_600_000;

/** A URL's ?socketTimeout= in milliseconds (null: absent), the default, or a clear error. */
export function socketTimeoutOf(text: string | null, url: string): number {
  if (text === null) return DEFAULT_SOCKET_TIMEOUT_MS;
  const ms = Number(text);
  if (text.trim() === '' || !Number.isInteger(ms) || ms < 0 || ms > MAX_SOCKET_TIMEOUT_MS) {
    throw new FusionError('invalid_store', `socketTimeout must be a whole number of milliseconds up to ${MAX_SOCKET_TIMEOUT_MS} (0 turns it off): ${text}`,
      { url: redactStoreUrl(url) });
  }
  return ms;
}
