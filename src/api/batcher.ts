// Group commit: job creations arriving in the same event-loop turn go to the store in one add(),
// one transaction, instead of one each. Each request still gets exactly its own jobs back, and a
// multi-job request stays atomic because it lands whole in one add. A job the store refuses fails
// alone: a failed shared add is split and each request retried on its own.
import type { Job, NewJob } from '../core/job.js';
import type { Store } from '../core/store.js';
import { FusionError } from '../core/errors.js';
import { apiError } from './errors.js';

/** Errors that say the store cannot be reached or cannot write now: codes and messages of SQLite, ioredis and sockets. */
const UNAVAILABLE_CODE = /^(SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOMEM|CORRUPT|NOTADB|INTERRUPT)|E(CONNREFUSED|CONNRESET|CONNABORTED|TIMEDOUT|PIPE|HOSTUNREACH|NETUNREACH|AI_AGAIN|NOTFOUND)|NR_CLOSED|CLUSTERDOWN)/;
const UNAVAILABLE_TEXT = /connection|not open|closed|timed? ?out|writeable|offline queue|MaxRetriesPerRequest|LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|READONLY|disk|I\/O/i;

export function isUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof e.code === 'string' && UNAVAILABLE_CODE.test(e.code)) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  return typeof e.message === 'string' && UNAVAILABLE_TEXT.test(e.message);
}

/** What the data itself can cause: a value JSON cannot hold (BigInt, a cycle), a stack overflow, a value a store refuses. */
function isInputFault(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError) return true;
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^SQLITE_(TOOBIG|MISMATCH|RANGE|CONSTRAINT)/.test(code);
}

/**
 * The answer for a failed add. Nothing was written (add is atomic). 503 only when the store is
 * unavailable (retry, with the same Idempotency-Key); a fault of the jobs themselves is a 400; any
 * other error is a 500 (logged with its cause).
 */
export function storeFailure(err: unknown): FusionError {
  if (err instanceof FusionError) return err;
  if (isUnavailable(err)) return Object.assign(apiError(503, 'store_unavailable', 'the job store could not take the job; retry', {}), { cause: err });
  if (isInputFault(err)) {
    return Object.assign(apiError(400, 'invalid_job', `the job store refused the job: ${(err as Error).message.split('\n')[0]!.slice(0, 200)}`, { field: 'payload' }), { cause: err });
  }
  return Object.assign(apiError(500, 'internal', 'internal error', {}), { cause: err });
}

type Result = { job: Job; created: boolean }[];
interface Pending {
  jobs: NewJob[];
  resolve(r: Result): void;
  reject(e: unknown): void;
}

export class JobBatcher {
  private pending: Pending[] = [];
  private scheduled = false;
  /** Shared adds that failed and were split (for tests and logs). */
  splits = 0;

  constructor(private readonly store: Store, private readonly now: () => number, private readonly enabled = true, private readonly maxJobs = 2000) {}

  add(jobs: NewJob[]): Promise<Result> {
    if (!this.enabled) return this.addAlone(jobs);
    return new Promise<Result>((resolve, reject) => {
      this.pending.push({ jobs, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async addAlone(jobs: NewJob[]): Promise<Result> {
    try {
      return await this.store.addJobs({ jobs, now: this.now() });
    } catch (err) {
      throw storeFailure(err);
    }
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    while (this.pending.length > 0) {
      // Take whole requests up to maxJobs (a single larger request still goes alone).
      let n = 0;
      let count = 0;
      while (n < this.pending.length && (n === 0 || count + this.pending[n]!.jobs.length <= this.maxJobs)) count += this.pending[n++]!.jobs.length;
      const batch = this.pending.splice(0, n);
      let out: Result;
      try {
        out = await this.store.addJobs({ jobs: batch.flatMap((p) => p.jobs), now: this.now() });
      } catch (err) {
        if (batch.length === 1 || isUnavailable(err)) {
          const e = storeFailure(err);
          for (const p of batch) p.reject(e);
        } else {
          // One request's jobs may be what the store refused: retry each alone so only it fails.
          this.splits++;
          for (const p of batch) await this.addAlone(p.jobs).then(p.resolve, p.reject);
        }
        continue;
      }
      let i = 0;
      for (const p of batch) {
        p.resolve(out.slice(i, i + p.jobs.length));
        i += p.jobs.length;
      }
    }
  }
}
