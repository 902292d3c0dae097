// Which store errors say "the store cannot be reached or cannot write now" (as opposed to a fault of
// the jobs themselves): the enqueue funnel does not split a failed shared add for them, and the API
// answers them with 503. Among them, "the store is full": a disk or Redis's maxmemory, which lasts
// until space is freed (retention, an operator) rather than a moment.

/**
 * SQLite's SQLITE_FULL (its disk, or max_page_count), PostgreSQL's disk_full (53100), and Redis at
 * maxmemory under noeviction (its OOM error, refused before the command or script ran).
 */
export function isStoreFull(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e.code === 'string' && /^(SQLITE_FULL|53100)$/.test(e.code)) return true;
  return isRedisOutOfMemory(err);
}

/**
 * Redis refused a command or script for memory: `OOM command not allowed when used memory >
 * 'maxmemory'`, at the start of the message, or inside a script's error (EVAL on Redis 6).
 */
export function isRedisOutOfMemory(err: unknown): boolean {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' && /(^|[\s:-])OOM command not allowed/.test(message);
}

/**
 * Codes and messages of SQLite, ioredis, pg and sockets that mean the store is unavailable, and the
 * Redis store's not_replicated (stored, but its replicas did not confirm it in time).
 */
const UNAVAILABLE_CODE = /^(not_replicated|SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|READONLY|PROTOCOL|NOMEM|CORRUPT|NOTADB|INTERRUPT)|E(CONNREFUSED|CONNRESET|CONNABORTED|TIMEDOUT|PIPE|HOSTUNREACH|NETUNREACH|AI_AGAIN|NOTFOUND)|NR_CLOSED|CLUSTERDOWN)/;
// ioredis's "Too many Cluster redirections": a Cluster moving a slot (its TRYAGAIN goes on to a random
// node, whose MOVED may be the last error it names), not a fault of the call.
const UNAVAILABLE_TEXT = /connection|not open|closed|timed? ?out|writeable|offline queue|MaxRetriesPerRequest|LOADING|CLUSTERDOWN|TRYAGAIN|Cluster redirections|MASTERDOWN|READONLY|disk|I\/O/i;

export function isUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  if (isStoreFull(err)) return true;
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof e.code === 'string' && UNAVAILABLE_CODE.test(e.code)) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  return typeof e.message === 'string' && UNAVAILABLE_TEXT.test(e.message);
}
