// The API's answer for a failed add: nothing was written (add is atomic), but for a Redis store's
// not_replicated (written, not confirmed by its replicas: a 503 of its own). 503 only when the store
// is unavailable (retry, with the same Idempotency-Key; store_full where it is out of space); a
// fault of the jobs themselves is a 400; any other error is a 500 (logged with its cause). Coalescing adds is the enqueue funnel's (core/enqueue.ts).
import { FusionError } from '../core/errors.js';
import { isStoreFull, isUnavailable } from '../core/store-errors.js';
import { apiError, storeFullError } from './errors.js';

export { isUnavailable };

/** What the data itself can cause: a value JSON cannot hold (BigInt, a cycle), a stack overflow, a value a store refuses. */
function isInputFault(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError) return true;
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^SQLITE_(TOOBIG|MISMATCH|RANGE|CONSTRAINT)/.test(code);
}

export function storeFailure(err: unknown): FusionError {
  if (err instanceof FusionError) return err;
  if (isStoreFull(err)) return storeFullError(err);
  if (isUnavailable(err)) return Object.assign(apiError(503, 'store_unavailable', 'the job store could not take the job; retry', {}), { cause: err });
  if (isInputFault(err)) {
    return Object.assign(apiError(400, 'invalid_job', `the job store refused the job: ${(err as Error).message.split('\n')[0]!.slice(0, 200)}`, { field: 'payload' }), { cause: err });
  }
  return Object.assign(apiError(500, 'internal', 'internal error', {}), { cause: err });
}
