// Long-poll support: one store subscription for the whole server, fanning out to the requests
// waiting on a job, so a thousand waiting clients cost one listener and no polling.
import type { Store, StoreEvent } from '../core/store.js';

const ENDING: ReadonlySet<StoreEvent['type']> = new Set(['completed', 'failed', 'cancelled', 'removed']);

export class JobWatcher {
  private waiters = new Map<string, Set<() => void>>();
  private unsubscribe: (() => void) | null = null;
  private closed = false;

  constructor(private readonly store: Store) {}

  private ensureSubscribed(): void {
    // A job's end names the job: other processes' adds (PostgreSQL: NOTIFY) are not for us.
    this.unsubscribe ??= this.store.subscribe((e) => {
      if (!e.jobId || !ENDING.has(e.type)) return;
      const set = this.waiters.get(e.jobId);
      if (!set) return;
      this.waiters.delete(e.jobId);
      for (const wake of set) wake();
    }, { jobEventsOnly: true });
  }

  /**
   * Resolves when the job reaches an end state, when `timeoutMs` passes, or when `signal` aborts.
   * `recheckMs` bounds how long a change made by another process can go unseen on stores whose
   * events stay in-process (SQLite shared by an API process and a worker process).
   */
  wait(jobId: string, timeoutMs: number, signal: AbortSignal, recheck: () => Promise<boolean>, recheckMs = 2000): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.ensureSubscribed();
    return new Promise<void>((resolve) => {
      let done = false;
      let recheckTimer: NodeJS.Timeout | undefined;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearTimeout(recheckTimer);
        signal.removeEventListener('abort', finish);
        const set = this.waiters.get(jobId);
        if (set) {
          set.delete(finish);
          if (set.size === 0) this.waiters.delete(jobId);
        }
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      const armRecheck = () => {
        recheckTimer = setTimeout(() => {
          recheck().then((ended) => (ended ? finish() : done || armRecheck()), () => done || armRecheck());
        }, recheckMs);
      };
      armRecheck();
      signal.addEventListener('abort', finish, { once: true });
      let set = this.waiters.get(jobId);
      if (!set) this.waiters.set(jobId, (set = new Set()));
      set.add(finish);
      // The job may have ended between the caller's read and this registration: look once more.
      recheck().then((ended) => ended && finish(), () => undefined);
    });
  }

  get waiting(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }

  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const set of this.waiters.values()) for (const wake of set) wake();
    this.waiters.clear();
  }
}
