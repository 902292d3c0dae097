// `fusion worker --burst` (RQ's `-b`): run until the worker's queues hold nothing queued or active,
// then stop as on SIGTERM. Jobs scheduled for later (retries waiting out their backoff included)
// are left for a later run, as RQ leaves its scheduled registry.
import type { Store } from '../core/store.js';

export function whenDrained(store: Store, queues: string[], checkMs = 250): Promise<void> {
  return new Promise((resolve) => {
    let checking = false;
    let done = false;
    const check = async () => {
      if (checking || done) return;
      checking = true;
      try {
        const counts = await store.countJobs();
        if (queues.every((q) => (counts[q]?.queued ?? 0) === 0 && (counts[q]?.active ?? 0) === 0)) {
          done = true;
          clearInterval(timer);
          off();
          resolve();
        }
      } catch {
        // The next tick looks again.
      } finally {
        checking = false;
      }
    };
    // Outcomes are the moments a queue can become empty; the timer covers other processes' work.
    const off = store.subscribe((e) => {
      if (e.type === 'completed' || e.type === 'failed' || e.type === 'retrying' || e.type === 'cancelled' || e.type === 'removed') void check();
    });
    const timer = setInterval(() => void check(), checkMs);
    timer.unref();
    void check();
  });
}
