// Group commit: job creations arriving in the same event-loop turn go to the store in one add(),
// one transaction, instead of one each. Each request still gets exactly its own jobs back, and a
// multi-job request stays atomic because it lands whole in one add.
import type { Job, NewJob } from '../core/job.js';
import type { Store } from '../core/store.js';
import { FusionError } from '../core/errors.js';
import { apiError } from './errors.js';

/** Nothing was written (add is atomic): a 503 tells the caller to retry, with the same Idempotency-Key. */
const storeFailure = (err: unknown) =>
  err instanceof FusionError ? err : Object.assign(apiError(503, 'store_unavailable', 'the job store could not take the job; retry', {}), { cause: err });

type Result = { job: Job; created: boolean }[];
interface Pending {
  jobs: NewJob[];
  resolve(r: Result): void;
  reject(e: unknown): void;
}

export class JobBatcher {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly store: Store, private readonly now: () => number, private readonly enabled = true, private readonly maxJobs = 2000) {}

  add(jobs: NewJob[]): Promise<Result> {
    if (!this.enabled) return this.store.add(jobs, this.now()).catch((err) => Promise.reject(storeFailure(err)));
    return new Promise<Result>((resolve, reject) => {
      this.pending.push({ jobs, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    while (this.pending.length > 0) {
      // Take whole requests up to maxJobs (a single larger request still goes alone).
      let n = 0;
      let count = 0;
      while (n < this.pending.length && (n === 0 || count + this.pending[n]!.jobs.length <= this.maxJobs)) count += this.pending[n++]!.jobs.length;
      const batch = this.pending.splice(0, n);
      try {
        const out = await this.store.add(batch.flatMap((p) => p.jobs), this.now());
        let i = 0;
        for (const p of batch) {
          p.resolve(out.slice(i, i + p.jobs.length));
          i += p.jobs.length;
        }
      } catch (err) {
        const e = storeFailure(err);
        for (const p of batch) p.reject(e);
      }
    }
  }
}
