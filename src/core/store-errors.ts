// Which store errors say "the store cannot be reached or cannot write now" (as opposed to a fault of
// the jobs themselves): the enqueue funnel does not split a failed shared add for them, and the API
// answers them with 503.

/**
 * Codes and messages of SQLite, ioredis, pg and sockets that mean the store is unavailable, and the
 * Redis store's not_replicated (stored, but its replicas did not confirm it in time).
 */
const UNAVAILABLE_CODE = /^(not_replicated|SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOMEM|CORRUPT|NOTADB|INTERRUPT)|E(CONNREFUSED|CONNRESET|CONNABORTED|TIMEDOUT|PIPE|HOSTUNREACH|NETUNREACH|AI_AGAIN|NOTFOUND)|NR_CLOSED|CLUSTERDOWN)/;
const UNAVAILABLE_TEXT = /connection|not open|closed|timed? ?out|writeable|offline queue|MaxRetriesPerRequest|LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|READONLY|disk|I\/O/i;

export function isUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof e.code === 'string' && UNAVAILABLE_CODE.test(e.code)) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  return typeof e.message === 'string' && UNAVAILABLE_TEXT.test(e.message);
}
